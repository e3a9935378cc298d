"""Acceptance 5 (issue 2): SIGHUP reloads (keeping the old configuration when the new one is
invalid); SIGTERM drains in-flight exchanges up to drain_timeout_ms, then exits 0."""

import hashlib
import os
import select
import signal
import socket
import subprocess
import time
import unittest

import harness
from harness import Proxy, ProxyTestCase, curl, find_key, poll
from origins import HttpOrigin, content_sha256


def config_dump_value(proxy, key):
    r = proxy.admin("GET", "/config_dump")
    if r.status != 200:
        raise AssertionError("config_dump: HTTP %d %r" % (r.status, r.body[:200]))
    return find_key(r.json(), key)


class SlowDownload:
    """curl through the proxy, streaming stdout into a hash; first bytes can be awaited."""

    def __init__(self, proxy_port, url, timeout=60):
        self.proc = subprocess.Popen(
            ["curl", "-q", "-sS", "--max-time", str(timeout), "--proxy",
             "http://127.0.0.1:%d" % proxy_port, url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=harness.clean_env())
        self.hash = hashlib.sha256()
        self.count = 0

    def wait_first_bytes(self, timeout=10.0) -> bool:
        fd = self.proc.stdout.fileno()
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return False
        data = os.read(fd, 1 << 16)
        self.hash.update(data)
        self.count += len(data)
        return bool(data)

    def finish(self, timeout=60.0):
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], deadline - time.monotonic())
            if not r:
                break
            data = os.read(fd, 1 << 20)
            if not data:
                break
            self.hash.update(data)
            self.count += len(data)
        try:
            rc = self.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        err = self.proc.stderr.read().decode(errors="replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class ReloadTest(ProxyTestCase):

    def setUp(self):
        self.origin = HttpOrigin()
        self.addCleanup(self.origin.close)
        self.proxy = Proxy()
        self.cfg = self.proxy.default_config()
        self.proxy.write_config(self.cfg)
        self.start_proxy(self.proxy)

    def assertServes(self, seed):
        r = curl([self.origin.url("/bytes?n=5000&seed=%d" % seed)],
                 proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), content_sha256(5000, seed))

    def test_sighup_with_a_broken_configuration_keeps_serving_on_the_old_one(self):
        self.assertServes(1)
        self.assertEqual(config_dump_value(self.proxy, "drain_timeout_ms"), 5000)
        log_before = len(self.proxy.log())
        broken = harness.to_yaml(self.cfg).replace("drain_timeout_ms: 5000",
                                                   "drain_timout_ms: 7000")
        self.proxy.write_config_text(broken + "\n")
        self.proxy.send_signal(signal.SIGHUP)
        # The reload was attempted: its error names the file (FILE:LINE: message) in the log.
        name = os.path.basename(self.proxy.config_path)
        self.assertTrue(poll(lambda: name in self.proxy.log()[log_before:], timeout=5),
                        "no reload error logged\n" + self.proxy.log_tail())
        self.assertIn("drain_timout_ms", self.proxy.log()[log_before:])
        self.assertProxyAlive(self.proxy)
        self.assertEqual(self.proxy.admin("GET", "/ready", token=None).status, 200)
        self.assertServes(2)
        self.assertEqual(config_dump_value(self.proxy, "drain_timeout_ms"), 5000)

    def test_sighup_with_unparseable_yaml_keeps_serving_on_the_old_one(self):
        log_before = len(self.proxy.log())
        self.proxy.write_config_text("workers: [1, 2\nadmin: {{{{\n  - :\n")
        self.proxy.send_signal(signal.SIGHUP)
        name = os.path.basename(self.proxy.config_path)
        self.assertTrue(poll(lambda: name in self.proxy.log()[log_before:], timeout=5),
                        "no reload error logged\n" + self.proxy.log_tail())
        self.assertProxyAlive(self.proxy)
        self.assertEqual(self.proxy.admin("GET", "/ready", token=None).status, 200)
        self.assertServes(3)

    def test_sighup_with_a_valid_changed_configuration_swaps_it_in(self):
        self.assertEqual(config_dump_value(self.proxy, "drain_timeout_ms"), 5000)
        self.cfg["drain_timeout_ms"] = 7000
        self.proxy.write_config(self.cfg)
        self.proxy.send_signal(signal.SIGHUP)
        changed = poll(lambda: config_dump_value(self.proxy, "drain_timeout_ms") == 7000,
                       timeout=5)
        self.assertTrue(changed, "config_dump still shows %r\n%s"
                        % (config_dump_value(self.proxy, "drain_timeout_ms"),
                           self.proxy.log_tail()))
        self.assertProxyAlive(self.proxy)
        self.assertServes(4)

    def test_a_broken_reload_followed_by_a_good_one_applies_the_good_one(self):
        log_before = len(self.proxy.log())
        self.proxy.write_config_text("drain_timeout_ms: [\n")
        self.proxy.send_signal(signal.SIGHUP)
        name = os.path.basename(self.proxy.config_path)
        self.assertTrue(poll(lambda: name in self.proxy.log()[log_before:], timeout=5),
                        self.proxy.log_tail())
        self.cfg["drain_timeout_ms"] = 6000
        self.proxy.write_config(self.cfg)
        self.proxy.send_signal(signal.SIGHUP)
        self.assertTrue(poll(lambda: config_dump_value(self.proxy, "drain_timeout_ms") == 6000,
                             timeout=5), self.proxy.log_tail())
        self.assertServes(5)


class DrainTest(ProxyTestCase):

    def start(self, drain_timeout_ms):
        self.origin = HttpOrigin()
        self.addCleanup(self.origin.close)
        proxy = Proxy()
        proxy.write_config(proxy.default_config(drain_timeout_ms=drain_timeout_ms))
        return self.start_proxy(proxy)

    def test_sigterm_during_a_slow_download_lets_it_finish_then_exits_0(self):
        proxy = self.start(drain_timeout_ms=8000)
        n, ms = 2 << 20, 1500
        dl = SlowDownload(proxy.proxy_port, self.origin.url("/slow?n=%d&ms=%d&seed=9" % (n, ms)))
        self.addCleanup(dl.kill)
        self.assertTrue(dl.wait_first_bytes(10), "the download did not start")
        t0 = time.monotonic()
        proxy.send_signal(signal.SIGTERM)
        rc, err = dl.finish(timeout=30)
        self.assertEqual(rc, 0, err)
        self.assertEqual(dl.count, n)
        self.assertEqual(dl.hash.hexdigest(), content_sha256(n, 9))
        code = proxy.wait_exit(timeout=max(1.0, 8.0 + 5.0 - (time.monotonic() - t0)))
        self.assertIsNotNone(code, "still running after drain_timeout_ms + 5 s")
        self.assertEqual(code, 0, proxy.log_tail())

    def test_after_sigterm_new_connections_are_refused_and_ready_says_503(self):
        proxy = self.start(drain_timeout_ms=10000)
        dl = SlowDownload(proxy.proxy_port,
                          self.origin.url("/slow?n=%d&ms=4000&seed=8" % (1 << 20)))
        self.addCleanup(dl.kill)
        self.assertTrue(dl.wait_first_bytes(10), "the download did not start")
        proxy.send_signal(signal.SIGTERM)

        def new_connection_refused():
            try:
                s = socket.create_connection(("127.0.0.1", proxy.proxy_port), timeout=2)
            except (ConnectionRefusedError, ConnectionResetError):
                return True
            with s:  # accepted: it must not be served
                try:
                    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                               % (self.origin.url("/bytes?n=10"), self.origin.authority)).encode())
                except OSError:
                    return True
                data = harness.recv_until_close(s, timeout=2)
                return data == b"" or data.startswith(b"HTTP/1.1 503")

        self.assertTrue(poll(new_connection_refused, timeout=3),
                        "a new connection was still served after SIGTERM")

        def ready_503():
            try:
                return proxy.admin("GET", "/ready", token=None, timeout=2).status == 503
            except OSError:
                return False
        self.assertTrue(poll(ready_503, timeout=3), "/ready did not answer 503 while draining")
        # the in-flight download still completes
        rc, err = dl.finish(timeout=30)
        self.assertEqual(rc, 0, err)
        self.assertEqual(dl.hash.hexdigest(), content_sha256(1 << 20, 8))
        self.assertEqual(proxy.wait_exit(timeout=15), 0, proxy.log_tail())

    def test_sigterm_exits_0_at_the_drain_deadline_when_a_download_outlasts_it(self):
        proxy = self.start(drain_timeout_ms=1000)
        dl = SlowDownload(proxy.proxy_port,
                          self.origin.url("/slow?n=%d&ms=8000&seed=7" % (1 << 20)))
        self.addCleanup(dl.kill)
        self.assertTrue(dl.wait_first_bytes(10), "the download did not start")
        t0 = time.monotonic()
        proxy.send_signal(signal.SIGTERM)
        code = proxy.wait_exit(timeout=6.0)
        waited = time.monotonic() - t0
        self.assertIsNotNone(code, "still running 6 s after SIGTERM with drain_timeout_ms 1000")
        self.assertEqual(code, 0, proxy.log_tail())
        # It waited for the exchange (did not just drop it at once) ...
        self.assertGreaterEqual(waited, 0.5)
        # ... and the cut-off download is incomplete, as it must be.
        rc, _ = dl.finish(timeout=10)
        self.assertLess(dl.count, 1 << 20)
        self.assertNotEqual(rc, 0)

    def test_sigterm_on_an_idle_proxy_exits_0(self):
        proxy = self.start(drain_timeout_ms=5000)
        proxy.send_signal(signal.SIGTERM)
        self.assertEqual(proxy.wait_exit(timeout=10), 0, proxy.log_tail())

    def test_sigint_drains_like_sigterm(self):
        proxy = self.start(drain_timeout_ms=5000)
        proxy.send_signal(signal.SIGINT)
        self.assertEqual(proxy.wait_exit(timeout=10), 0, proxy.log_tail())


if __name__ == "__main__":
    unittest.main()
