"""The reporter (issue 7, part 1): the real binary writes one event per exchange, per blind
tunnel and per security decision to STATE_DIR/events.jsonl and serves the newest on
GET /proxy/v1/events; secrets never appear in events or logs; SIGTERM flushes the queue.

The AI origin is the fake OpenAI API (fake_openai.py) reached through upstream.resolve, through
the intercepting proxy with curl; the tunnel goes to a plain TCP echo origin.
"""

import json
import os
import shutil
import signal
import socket
import tempfile
import unittest

from harness import Proxy, ProxyTestCase, RawResponseReader, connect, curl, poll
from fake_openai import FakeOpenAI
from origins import TcpEchoOrigin
from pki import make_pki

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key id, valid nowhere
BLOCK_REASON = "credentials must not be sent to AI providers"
BLOCK_SECRETS = {"name": "block secrets", "action": "block", "match_detector": ["secret.*"],
                 "block_reason": BLOCK_REASON, "priority": 10}


def read_events(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


class ReporterSetup:
    """A proxy intercepting api.openai.com (fake origin), bypassing the rest, with the reporter
    writing STATE_DIR/events.jsonl."""

    @staticmethod
    def make(pki, origin, ring=1000):
        proxy = Proxy(args=["--log-format", "json"])
        cfg = proxy.default_config()
        cfg["upstream"] = {"connect_timeout_ms": 2000, "ca_file": pki.ca_pem,
                           "resolve": {"api.openai.com:443": "127.0.0.1:%d" % origin.port}}
        cfg["filters"] = [
            {"filter": "tls_inspector"},
            {"filter": "domain_classifier", "config": {
                "ai_domains": ["api.openai.com"], "default": "bypass"}},
            {"filter": "chatty_bypass"},
            {"filter": "pattern_matcher"},
            {"filter": "rule_evaluator", "config": {"rules": [BLOCK_SECRETS]}},
            {"filter": "reporter", "config": {
                "sinks": [{"type": "jsonl", "path": "events.jsonl"}], "ring": ring}},
        ]
        proxy.write_config(cfg)
        return proxy


class ReporterTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki = make_pki(tempfile.mkdtemp(prefix="aiw-rep-pki-"), names=("api.openai.com",))
        cls.addClassCleanup(shutil.rmtree, cls.pki.directory, True)
        cls.origin = FakeOpenAI(cls.pki.server_context())
        cls.addClassCleanup(cls.origin.close)
        cls.proxy = ReporterSetup.make(cls.pki, cls.origin, ring=50)
        cls.start_class_proxy(cls.proxy)
        cls.proxy_ca = os.path.join(cls.proxy.state_dir, "ca", "ca.pem")
        cls.events_path = os.path.join(cls.proxy.state_dir, "events.jsonl")

    def chat(self, prompt, marker):
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": prompt}]}
        return curl(["--cacert", self.proxy_ca, "-H", "Content-Type: application/json",
                     "-H", "X-Session-Id: " + marker, "--data-binary", json.dumps(body),
                     "https://api.openai.com/v1/chat/completions?m=" + marker],
                    proxy_port=self.proxy.proxy_port)

    def admin_events(self, query=""):
        r = self.proxy.admin("GET", "/proxy/v1/events" + query)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["events"]

    def wait_for(self, pred, where="file"):
        def look():
            events = (read_events(self.events_path) if where == "file"
                      else self.admin_events("?limit=50"))
            return [e for e in events if pred(e)]
        found = poll(look, timeout=5.0)
        self.assertTrue(found, "no matching event in the %s" % where)
        return found

    def test_an_exchange_yields_an_exchange_event_in_the_file_and_on_the_admin_api(self):
        r = self.chat("what is 4 + 4?", "clean1")
        self.assertEqual(r.status, 200, r.describe())
        match = lambda e: e["kind"] == "exchange" and e["path"].endswith("m=clean1")
        (e,) = self.wait_for(match, "file")
        self.assertEqual(e["host"], "api.openai.com")
        self.assertEqual(e["method"], "POST")
        self.assertEqual(e["status"], 200)
        self.assertEqual(e["class"], "ai")
        self.assertTrue(e["intercepted"])
        self.assertEqual(e["provider"], "openai")
        self.assertEqual(e["model"], "gpt-4o")
        self.assertEqual(e["action"], "allow")
        self.assertEqual(e["listener"], "system")
        self.assertTrue(e["client"].startswith("127.0.0.1:"))
        self.assertEqual(e["detections"], [])
        self.assertGreater(e["bytes_in"], 0)
        self.assertGreater(e["bytes_out"], 0)
        self.assertIsInstance(e["latency_ms"], float)
        self.assertRegex(e["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        (same,) = self.wait_for(match, "admin")
        self.assertEqual(same, e)

    def test_a_blocked_request_yields_a_security_event_without_the_secret(self):
        r = self.chat("deploy with " + AWS_KEY, "secret1")
        self.assertEqual(r.status, 403, r.describe())
        (sec,) = self.wait_for(lambda e: e["kind"] == "security" and
                               e["path"].endswith("m=secret1"))
        self.assertEqual(sec["action"], "block")
        self.assertEqual(sec["rule"], "block secrets")
        self.assertEqual(sec["reason"], BLOCK_REASON)
        self.assertEqual(sec["phase"], "request")
        self.assertEqual(sec["detections"], [{"detector": "secret.aws_access_key",
                                              "category": "secret",
                                              "field": "messages[0].content", "count": 1}])
        (ex,) = self.wait_for(lambda e: e["kind"] == "exchange" and
                              e["path"].endswith("m=secret1"))
        self.assertEqual(sec["exchange_id"], ex["id"])
        self.assertEqual(ex["action"], "block")
        self.assertEqual(ex["status"], 403)
        with open(self.events_path) as f:
            self.assertNotIn(AWS_KEY, f.read())
        self.assertNotIn(AWS_KEY, self.proxy.admin("GET", "/proxy/v1/events?limit=50")
                         .body.decode())
        self.assertNotIn(AWS_KEY, self.proxy.log())

    def test_a_blind_tunnel_yields_a_tunnel_event_when_it_closes(self):
        with TcpEchoOrigin() as origin:
            s = connect(self.proxy.proxy_port)
            authority = "127.0.0.1:%d" % origin.port
            s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (authority, authority))
                      .encode())
            head = RawResponseReader(s, 10).read(head_only=True)
            self.assertEqual(head.status, 200)
            s.sendall(b"x" * 1000)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(10)
            while s.recv(65536):
                pass
            s.close()
            (t,) = self.wait_for(lambda e: e["kind"] == "tunnel" and e["port"] == origin.port)
        self.assertEqual(t["host"], "127.0.0.1")
        self.assertFalse(t["intercepted"])
        self.assertEqual(t["bytes_in"], 1000)
        self.assertGreaterEqual(t["bytes_out"], 1000)  # the echo and its BYE line
        self.assertIn("duration_ms", t)
        self.assertEqual(t["class"], "unknown")

    def test_events_limit_is_checked_and_the_newest_come_last(self):
        for i in range(3):
            self.assertEqual(self.chat("hello", "order%d" % i).status, 200)
        self.wait_for(lambda e: e.get("path", "").endswith("m=order2"), "admin")
        events = self.admin_events("?limit=3")
        self.assertEqual(len(events), 3)
        self.assertTrue(events[-1]["path"].endswith("m=order2"))
        self.assertTrue(events[-3]["path"].endswith("m=order0"))
        self.assertEqual(len(self.admin_events("?limit=1")), 1)
        self.assertEqual(len(self.admin_events("?limit=50")), min(50, len(read_events(
            self.events_path))))
        for bad in ("0", "-1", "abc", "51", "", "1e3"):
            r = self.proxy.admin("GET", "/proxy/v1/events?limit=" + bad)
            self.assertEqual(r.status, 400, (bad, r.body))
        self.assertEqual(self.proxy.admin("GET", "/proxy/v1/events", token=None).status, 401)
        self.assertEqual(self.proxy.admin("POST", "/proxy/v1/events").status, 405)

    def test_the_reporter_stage_is_listed_with_its_counters(self):
        r = self.proxy.admin("GET", "/proxy/v1/filters")
        self.assertEqual(r.status, 200)
        names = [f["name"] for f in r.json()["filters"]]
        self.assertEqual(names[-1], "reporter")


class ReporterShutdownTest(ProxyTestCase):

    def test_sigterm_flushes_every_completed_exchange_to_the_file(self):
        pki = make_pki(tempfile.mkdtemp(prefix="aiw-rep-pki2-"), names=("api.openai.com",))
        self.addCleanup(shutil.rmtree, pki.directory, True)
        origin = FakeOpenAI(pki.server_context())
        self.addCleanup(origin.close)
        proxy = self.start_proxy(ReporterSetup.make(pki, origin))
        ca = os.path.join(proxy.state_dir, "ca", "ca.pem")
        n = 20
        for i in range(n):
            body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
            r = curl(["--cacert", ca, "-H", "Content-Type: application/json", "--data-binary",
                      json.dumps(body), "https://api.openai.com/v1/chat/completions?n=%d" % i],
                     proxy_port=proxy.proxy_port)
            self.assertEqual(r.status, 200, r.describe())
        proxy.send_signal(signal.SIGTERM)
        self.assertEqual(proxy.wait_exit(20), 0, proxy.log_tail())
        events = read_events(os.path.join(proxy.state_dir, "events.jsonl"))
        paths = sorted(e["path"] for e in events if e["kind"] == "exchange")
        self.assertEqual(paths, sorted("/v1/chat/completions?n=%d" % i for i in range(n)))
        self.assertEqual(len({e["id"] for e in events}), len(events))
        self.assertTrue(proxy.wait_log("reporter flushed", 1.0))


if __name__ == "__main__":
    unittest.main()


class CaptureBodiesTest(ProxyTestCase):
    """capture_bodies: true — exchange events carry the bodies, every detection redacted."""

    @classmethod
    def setUpClass(cls):
        cls.pki = make_pki(tempfile.mkdtemp(prefix="aiw-cap-pki-"), names=("api.openai.com",))
        cls.addClassCleanup(shutil.rmtree, cls.pki.directory, True)
        cls.origin = FakeOpenAI(cls.pki.server_context())
        cls.addClassCleanup(cls.origin.close)
        cls.proxy = ReporterSetup.make(cls.pki, cls.origin)
        cfg = cls.proxy.config
        cfg["filters"][4]["config"]["rules"] = [
            {"name": "log secrets", "action": "log", "match_detector": ["secret.*"],
             "priority": 10}]
        cfg["filters"][5]["config"]["capture_bodies"] = True
        cfg["filters"][5]["config"]["capture_max_bytes"] = 4096
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)
        cls.proxy_ca = os.path.join(cls.proxy.state_dir, "ca", "ca.pem")
        cls.events_path = os.path.join(cls.proxy.state_dir, "events.jsonl")

    def test_bodies_are_captured_with_the_secret_redacted(self):
        body = {"model": "gpt-4o", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "deploy with " + AWS_KEY}]}
        r = curl(["--cacert", self.proxy_ca, "-H", "Content-Type: application/json",
                  "--data-binary", json.dumps(body),
                  "https://api.openai.com/v1/chat/completions?m=capture1"],
                 proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.status, 200, r.describe())

        def exchange():
            return [e for e in read_events(self.events_path)
                    if e["kind"] == "exchange" and e["path"].endswith("m=capture1")]
        found = poll(exchange, timeout=5.0)
        self.assertTrue(found, "no exchange event")
        ev = found[0]
        sent = json.loads(ev["request_body"])
        self.assertEqual(sent["messages"][0]["content"], "be brief")
        self.assertEqual(sent["messages"][1]["content"], "[REDACTED:secret.aws_access_key]")
        self.assertEqual(sent["model"], "gpt-4o")
        self.assertEqual(json.loads(ev["response_body"])["object"], "chat.completion")
        with open(self.events_path) as f:
            self.assertNotIn(AWS_KEY, f.read())
        self.assertNotIn(AWS_KEY, self.proxy.log())
