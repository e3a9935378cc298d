"""Acceptance 1 (issue 2): with no configuration file, `aiwarden` serves a working forward proxy
on 127.0.0.1:8080 and the admin API on 127.0.0.1:9901 (SPEC §2), and --print-config shows it.

These are fixed ports: when something else on the machine holds one, the test is skipped with
the reason rather than failing for a cause outside the project.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import curl, http_request
from origins import HttpOrigin

DEFAULT_PROXY_PORT = 8080
DEFAULT_ADMIN_PORT = 9901


def port_is_free(port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class DefaultConfigurationTest(unittest.TestCase):

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="aiw-home-")
        self.env = harness.clean_env(HOME=self.home, XDG_STATE_HOME=os.path.join(self.home, "xdg"))
        self.proc = None

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.home, ignore_errors=True)

    def test_print_config_shows_the_default_listeners(self):
        out = subprocess.run([harness.binary(), "run", "--print-config"], capture_output=True,
                             env=self.env, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        text = out.stdout.decode()
        self.assertIn("127.0.0.1:%d" % DEFAULT_PROXY_PORT, text)
        self.assertIn("127.0.0.1:%d" % DEFAULT_ADMIN_PORT, text)
        self.assertIn("type: forward", text)

    def test_no_configuration_file_serves_the_proxy_on_8080_and_admin_on_9901(self):
        for port in (DEFAULT_PROXY_PORT, DEFAULT_ADMIN_PORT):
            if not port_is_free(port):
                self.skipTest("127.0.0.1:%d is taken by another process on this machine" % port)
        log = open(os.path.join(self.home, "stderr.log"), "wb")
        self.addCleanup(log.close)
        self.proc = subprocess.Popen([harness.binary()], stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=log, env=self.env, cwd=self.home)
        deadline = time.monotonic() + harness.READY_TIMEOUT_S
        ready = False
        while time.monotonic() < deadline and not ready:
            self.assertIsNone(self.proc.poll(), "aiwarden exited early")
            try:
                ready = http_request(DEFAULT_ADMIN_PORT, "GET", "/ready", timeout=1).status == 200
            except OSError:
                time.sleep(0.05)
        self.assertTrue(ready, "admin /ready never answered on 127.0.0.1:9901")

        # The token was generated into the XDG state dir (no PROXY_TOKEN), mode 0600.
        token_path = os.path.join(self.home, "xdg", "aiwarden", "admin-token")
        self.assertTrue(os.path.exists(token_path), "no generated admin token at " + token_path)
        self.assertEqual(os.stat(token_path).st_mode & 0o777, 0o600)
        with open(token_path) as f:
            token = f.read().strip()
        r = http_request(DEFAULT_ADMIN_PORT, "GET", "/proxy/v1/metrics",
                         headers={"X-Proxy-Token": token})
        self.assertEqual(r.status, 200)

        with HttpOrigin() as origin:
            res = curl([origin.url("/bytes?n=1000&seed=3")], proxy_port=DEFAULT_PROXY_PORT)
            self.assertEqual(res.status, 200, res.describe())
            self.assertEqual(len(res.body), 1000)
            self.assertEqual(origin.request_count, 1)

        self.proc.terminate()
        self.assertEqual(self.proc.wait(timeout=20), 0)


if __name__ == "__main__":
    unittest.main()
