"""Acceptance 4 (issue 2): `aiwarden check -c FILE`.

A configuration with a misspelt key, a bad address and an unknown filter exits 1 and lists all
three as FILE:LINE: message with the right lines; a good one prints `configuration OK`.
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

import harness

BAD = """\
# three errors, on lines 3, 10 and 12
workers: 1
drain_timout_ms: 5000
admin:
  address: 127.0.0.1:19901
  token: test-token
listeners:
  - name: system
    type: forward
    address: 127.0.0.1:99999
filters:
  - filter: no_such_filter
"""

GOOD = """\
# a good configuration
workers: 1
drain_timeout_ms: 5000
admin:
  address: 127.0.0.1:{admin}
  token: test-token
listeners:
  - name: system
    type: forward
    address: 127.0.0.1:{proxy}
upstream:
  connect_timeout_ms: 2000
limits:
  header_timeout_ms: 2000
  max_header_bytes: 65536
filters: []
"""

LINE_RX = re.compile(r"^(?P<file>.+?):(?P<line>\d+):\s*(?P<msg>.*)$")


class CheckResult:
    def __init__(self, proc, cwd):
        self.rc = proc.returncode
        self.output = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
        self.cwd = cwd

    def errors_for(self, path):
        """{line: [messages]} of the FILE:LINE: lines that name `path`."""
        want = os.path.realpath(path)
        found = {}
        for line in self.output.splitlines():
            m = LINE_RX.match(line.strip())
            if not m:
                continue
            f = m.group("file").split()[-1]  # tolerate a prefix such as "error: "
            if os.path.realpath(os.path.join(self.cwd, f)) != want:
                continue
            found.setdefault(int(m.group("line")), []).append(m.group("msg"))
        return found

    def __str__(self):
        return "exit %s, output:\n%s" % (self.rc, self.output)


class ConfigCheckTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aiw-check-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, path, env=None):
        proc = subprocess.run([harness.binary(), "check", "-c", path], capture_output=True,
                              cwd=self.dir, env=harness.clean_env(**(env or {})), timeout=30)
        return CheckResult(proc, self.dir)

    def good_text(self):
        return GOOD.format(admin=harness.free_port(), proxy=harness.free_port())

    def test_a_misspelt_key_a_bad_address_and_an_unknown_filter_are_all_reported_with_lines(self):
        path = self.write("bad.yaml", BAD)
        r = self.check(path)
        self.assertEqual(r.rc, 1, r)
        self.assertNotIn("configuration OK", r.output)
        errors = self.errors_for_or_fail(r, path)
        for line in (3, 10, 12):
            self.assertIn(line, errors, "no error reported for line %d; %s" % (line, r))
        self.assertTrue(any("drain_timout_ms" in m for m in errors[3]), r)
        self.assertTrue(any(re.search(r"99999|port|address", m, re.I) for m in errors[10]), r)
        self.assertTrue(any("no_such_filter" in m for m in errors[12]), r)

    def errors_for_or_fail(self, r, path):
        errors = r.errors_for(path)
        if not errors:
            self.fail("no FILE:LINE: message naming %s; %s" % (path, r))
        return errors

    def test_a_good_configuration_prints_configuration_ok_and_exits_0(self):
        path = self.write("good.yaml", self.good_text())
        r = self.check(path)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("configuration OK", r.output)

    def test_check_opens_no_socket_so_ports_in_use_do_not_matter(self):
        busy = []
        for _ in range(2):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            busy.append(s)
        try:
            text = GOOD.format(admin=busy[0].getsockname()[1], proxy=busy[1].getsockname()[1])
            r = self.check(self.write("busy.yaml", text))
            self.assertEqual(r.rc, 0, r)
            self.assertIn("configuration OK", r.output)
        finally:
            for s in busy:
                s.close()

    def test_a_misspelt_top_level_section_is_reported_on_its_line(self):
        text = self.good_text().replace("listeners:", "listners:")
        path = self.write("listners.yaml", text)
        line = text.splitlines().index("listners:") + 1
        r = self.check(path)
        self.assertEqual(r.rc, 1, r)
        errors = self.errors_for_or_fail(r, path)
        self.assertIn(line, errors, r)
        self.assertTrue(any("listners" in m for m in errors[line]), r)

    def test_a_misspelt_key_nested_in_a_section_is_reported_on_its_line(self):
        text = self.good_text().replace("  header_timeout_ms: 2000", "  header_timout_ms: 2000")
        path = self.write("nested.yaml", text)
        line = text.splitlines().index("  header_timout_ms: 2000") + 1
        r = self.check(path)
        self.assertEqual(r.rc, 1, r)
        errors = self.errors_for_or_fail(r, path)
        self.assertIn(line, errors, r)
        self.assertTrue(any("header_timout_ms" in m for m in errors[line]), r)

    def test_a_value_of_the_wrong_type_is_reported_on_its_line(self):
        text = self.good_text().replace("drain_timeout_ms: 5000", "drain_timeout_ms: soon")
        path = self.write("type.yaml", text)
        line = text.splitlines().index("drain_timeout_ms: soon") + 1
        r = self.check(path)
        self.assertEqual(r.rc, 1, r)
        self.assertIn(line, self.errors_for_or_fail(r, path), r)

    def test_an_unknown_filter_in_filters_dir_is_reported_with_that_files_name_and_line(self):
        text = self.good_text().replace("filters: []", "filters_dir: filters.d")
        path = self.write("withdir.yaml", text)
        bogus = self.write("filters.d/10-bogus.yaml",
                           "# an unknown filter, on line 2\n"
                           "filter: no_such_filter\n"
                           "enabled: true\n")
        r = self.check(path)
        self.assertEqual(r.rc, 1, r)
        self.assertNotIn("configuration OK", r.output)
        errors = r.errors_for(bogus)
        self.assertIn(2, errors, "no %s:2: error; %s" % (bogus, r))
        self.assertTrue(any("no_such_filter" in m for m in errors[2]), r)

    def test_run_with_an_invalid_configuration_exits_non_zero_without_listening(self):
        proxy_port = harness.free_port()
        text = BAD.replace("127.0.0.1:99999", "127.0.0.1:%d" % proxy_port)
        path = self.write("run-bad.yaml", text)
        proc = subprocess.run([harness.binary(), "run", "-c", path], capture_output=True,
                              cwd=self.dir, env=harness.clean_env(), timeout=30)
        out = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
        self.assertNotEqual(proc.returncode, 0, out)
        self.assertIn("drain_timout_ms", out)
        self.assertIn("no_such_filter", out)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy_port), timeout=2).close()

    def test_version_prints_a_version_and_exits_0(self):
        proc = subprocess.run([harness.binary(), "version"], capture_output=True,
                              env=harness.clean_env(), timeout=30)
        out = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
        self.assertEqual(proc.returncode, 0, out)
        self.assertIn("aiwarden", out.lower())
        self.assertRegex(out, r"\d+\.\d+")


if __name__ == "__main__":
    unittest.main()
