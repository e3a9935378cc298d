"""The sidecar listener (issue 6, SPEC §4 and §7): an agent calls its tools through
POST /proxy/v1/tools/{tool}, its LLM through a route, and reads its session timeline; the rules
block or modify calls, a token bucket limits them, and X-Proxy-Token guards every route.

The tools are a fake tool server (tool_origin.py); the LLM is the fake OpenAI API over TLS
(fake_openai.py) reached through a route and upstream.resolve.
"""

import json
import math
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import uuid

import harness
from harness import Proxy, ProxyTestCase, http_request
from fake_openai import FakeOpenAI
from pki import make_pki
from tool_origin import ToolOrigin

# The seed's example rule, verbatim (SPEC §6).
SEED_RULE = {
    "name": "block python",
    "action": "block",
    "match_tool": "python_exec",
    "match_args": {"user": "external"},
    "match_metadata": {"tenant": "beta"},
    "match_pattern": "(?i)suspicious",
    "block_reason": "high risk",
    "param_overrides": {"expression": "0"},
    "response_override": {"status": "masked"},
    "priority": 50,
}
MODIFY_RULE = {
    "name": "mask calc",
    "action": "modify",
    "match_tool": "calc",
    "param_overrides": {"expression": "0", "sandbox": True},
    "response_override": {"status": "masked"},
    "priority": 60,
}
BLOCK_SECRETS = {"name": "no secrets to the llm", "action": "block",
                 "match_detector": ["secret.*"], "block_reason": "credentials stay home",
                 "priority": 10}
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
RATE = 5
BURST = 5


# ---------------------------------------------------------------------------------------------
# The Prometheus text exposition format (version 0.0.4), parsed strictly: what a scraper would
# reject, this rejects.
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def _family(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
            return base
    return name


def parse_prometheus(text):
    """{(name, frozenset(labels)): value}; raises AssertionError on any format error."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    types, helps, samples, done = {}, set(), {}, set()
    current = None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d: %r" % (n, line)
        assert line, "empty line " + where
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                assert _NAME.match(name), "bad metric name " + where
                assert name not in done and name not in samples, "metadata after samples " + where
                if parts[1] == "TYPE":
                    assert len(parts) == 4 and parts[3] in _TYPES, "bad TYPE " + where
                    assert name not in types, "second TYPE " + where
                    types[name] = parts[3]
                else:
                    assert name not in helps, "second HELP " + where
                    helps.add(name)
            continue
        m = re.match(r"([^{ ]+)(\{[^}]*\})? (\S+)( -?\d+)?$", line)
        assert m, "bad sample " + where
        name, labels_text, value = m.group(1), m.group(2) or "", m.group(3)
        assert _NAME.match(name), "bad metric name " + where
        labels = {}
        if labels_text:
            inner = labels_text[1:-1]
            pos = 0
            while pos < len(inner):
                lm = _LABEL.match(inner, pos)
                assert lm, "bad label " + where
                assert lm.group(1) not in labels, "duplicate label " + where
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
                if pos < len(inner):
                    assert inner[pos] == ",", "bad label separator " + where
                    pos += 1
        assert value in ("+Inf", "-Inf", "NaN") or re.match(
            r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$", value), "bad value " + where
        family = _family(name, types)
        if family != current:
            assert family not in done, "samples of %s are not one group: %s" % (family, where)
            if current is not None:
                done.add(current)
            current = family
        if types.get(family) == "counter":
            assert float(value) >= 0, "negative counter " + where
        key = (name, frozenset(labels.items()))
        assert key not in samples, "duplicate sample " + where
        samples[key] = float(value)
    for family, kind in types.items():
        if kind != "histogram":
            continue
        buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in samples.items()
                          if k[0] == family + "_bucket"), key=lambda b: b[0])
        assert buckets and buckets[-1][0] == math.inf, family + ": no +Inf bucket"
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), family + ": buckets are not cumulative"
        assert samples[(family + "_count", frozenset())] == counts[-1], family + ": _count"
        assert (family + "_sum", frozenset()) in samples, family + ": no _sum"
    return samples


class ClosesSecondRequestOrigin:
    """A tool origin that answers the first request of each connection (keep-alive) and closes
    the connection without a word when a second one arrives on it: what a pooled connection
    the origin has just timed out looks like to the proxy."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.bodies = []  # every request body that arrived, in order
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self.serve, daemon=True).start()

    def read_request(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
        return body

    def handle(self, conn):
        with conn:
            conn.settimeout(10)
            for n in (1, 2):
                body = self.read_request(conn)
                if body is None:
                    return
                with self.lock:
                    self.bodies.append(body)
                if n == 2:
                    return  # closed, unanswered
                out = b'{"ok": true}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(out), out))

    def serve(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def close(self):
        self.stopped = True
        self.sock.close()


def new_session() -> str:
    return "sess-" + uuid.uuid4().hex[:12]


class SidecarTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tools = ToolOrigin()
        cls.addClassCleanup(cls.tools.close)
        cls.flaky = ClosesSecondRequestOrigin()
        cls.addClassCleanup(cls.flaky.close)
        cls.pki = make_pki(tempfile.mkdtemp(prefix="aiw-sidecar-pki-"), names=("api.openai.com",))
        cls.addClassCleanup(shutil.rmtree, cls.pki.directory, True)
        cls.llm = FakeOpenAI(cls.pki.server_context())
        cls.addClassCleanup(cls.llm.close)
        cls.proxy = Proxy()
        cls.sidecar_port = harness.free_port()
        cfg = cls.proxy.default_config()
        cfg["listeners"].append({
            "name": "agent", "type": "sidecar",
            "address": "127.0.0.1:%d" % cls.sidecar_port,
            "admin_routes": True,
            "tools": {"python_exec": cls.tools.url("/run"), "shell": cls.tools.url("/run"),
                      "calc": cls.tools.url("/run"), "limited": cls.tools.url("/run"),
                      "broken": cls.tools.url("/fail"), "texty": cls.tools.url("/text"),
                      "binary": cls.tools.url("/binary"),
                      "flaky": "http://127.0.0.1:%d/run" % cls.flaky.port,
                      "offline": "http://127.0.0.1:%d/run" % harness.free_port()},
            "routes": [{"prefix": "/openai/", "upstream": "https://api.openai.com/"}],
        })
        cfg["upstream"] = {"connect_timeout_ms": 2000, "ca_file": cls.pki.ca_pem,
                           "resolve": {"api.openai.com:443": "127.0.0.1:%d" % cls.llm.port}}
        cfg["filters"] = [
            {"filter": "pattern_matcher"},
            {"filter": "rule_evaluator",
             "config": {"rules": [SEED_RULE, MODIFY_RULE, BLOCK_SECRETS]}},
            {"filter": "rate_limiter", "config": {"buckets": [
                {"key": "session", "rate": RATE, "burst": BURST, "match": {"tool": "limited"}}]}},
        ]
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)

    # -- helpers ---------------------------------------------------------------------------------
    def sidecar(self, method, path, body=None, token=True, headers=None):
        h = dict(headers or {})
        if token is True:
            h["X-Proxy-Token"] = harness.TOKEN
        elif token:
            h["X-Proxy-Token"] = token
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or b"")
        if data:
            h.setdefault("Content-Type", "application/json")
        return http_request(self.sidecar_port, method, path, headers=h, body=data)

    def call_tool(self, tool, args, session=None, metadata=None, call_id=None, **kw):
        body = {"args": args}
        if session is not None:
            body["session_id"] = session
        if metadata is not None:
            body["metadata"] = metadata
        if call_id is not None:
            body["call_id"] = call_id
        return self.sidecar("POST", "/proxy/v1/tools/" + tool, body, **kw)

    def tool_calls_with(self, marker):
        return [c for c in self.tools.calls
                if isinstance(c["body"], dict) and c["body"].get("marker") == marker]

    def timeline(self, session):
        r = self.sidecar("GET", "/proxy/v1/sessions/" + session)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    # -- tool calls ------------------------------------------------------------------------------
    def test_allowed_call_reaches_the_tool_and_answers_with_its_result(self):
        session = new_session()
        r = self.call_tool("shell", {"cmd": "ls", "marker": "allowed-1"}, session=session,
                           call_id="call-1")
        self.assertEqual(r.status, 200, r.body)
        reply = r.json()
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(reply["session_id"], session)
        self.assertEqual(reply["call_id"], "call-1")
        self.assertIsNone(reply["rule"])
        # The tool got the arguments, and only them, as its JSON body.
        self.assertEqual(reply["result"], {"ran": {"cmd": "ls", "marker": "allowed-1"}})
        [call] = self.tool_calls_with("allowed-1")
        self.assertEqual(call["body"], {"cmd": "ls", "marker": "allowed-1"})
        self.assertEqual(call["headers"]["x-session-id"], session)
        self.assertEqual(call["headers"]["x-call-id"], "call-1")
        self.assertNotIn("x-proxy-token", call["headers"])

    def test_seed_rule_blocks_the_matching_call_and_only_it(self):
        session = new_session()
        matching = {"tool": "python_exec",
                    "args": {"user": "external", "code": "run the Suspicious thing",
                             "marker": "seed-block"},
                    "metadata": {"tenant": "beta"}}
        r = self.call_tool(matching["tool"], matching["args"], session=session,
                           metadata=matching["metadata"])
        self.assertEqual(r.status, 403, r.body)
        self.assertEqual(r.header("x-aiwarden-decision"), "blocked")
        reply = r.json()
        self.assertEqual(reply["error"], "blocked")
        self.assertEqual(reply["reason"], "high risk")
        self.assertEqual(reply["rule"], "block python")
        self.assertEqual(reply["session_id"], session)
        self.assertTrue(reply["call_id"])
        self.assertEqual(self.tool_calls_with("seed-block"), [], "a blocked call reached the tool")

        # Each variant differs from the matching call in one criterion: it reaches the tool.
        variants = {
            "tool": ("shell", matching["args"], matching["metadata"]),
            "args": ("python_exec", dict(matching["args"], user="internal"),
                     matching["metadata"]),
            "metadata": ("python_exec", matching["args"], {"tenant": "alpha"}),
            "pattern": ("python_exec", dict(matching["args"], code="run the usual thing"),
                        matching["metadata"]),
        }
        for criterion, (tool, args, metadata) in variants.items():
            with self.subTest(differs_in=criterion):
                marker = "seed-variant-" + criterion
                r = self.call_tool(tool, dict(args, marker=marker), session=session,
                                   metadata=metadata)
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.json()["status"], "ok")
                self.assertEqual(len(self.tool_calls_with(marker)), 1)

        t = self.timeline(session)
        statuses = [(c["tool"], c["status"], c["rule"]) for c in t["calls"]]
        self.assertEqual(statuses[0], ("python_exec", "blocked", "block python"))
        self.assertEqual([s[1] for s in statuses[1:]], ["ok"] * 4)
        self.assertEqual(t["calls"][0]["reason"], "high risk")
        self.assertEqual(t["blocked"], 1)
        self.assertEqual(t["calls"][0]["http_status"], 403)
        for c in t["calls"]:
            self.assertGreaterEqual(c["latency_ms"], 0)
            self.assertIn("time", c)

    def test_modify_rule_overrides_the_arguments_and_the_answer(self):
        session = new_session()
        r = self.call_tool("calc", {"expression": "2**64", "marker": "modify-1"},
                           session=session)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("x-aiwarden-decision"), "modified")
        reply = r.json()
        self.assertEqual(reply["result"], {"status": "masked"})
        self.assertEqual(reply["rule"], "mask calc")
        [call] = self.tool_calls_with("modify-1")
        self.assertEqual(call["body"], {"expression": "0", "marker": "modify-1", "sandbox": True})
        [entry] = self.timeline(session)["calls"]
        self.assertEqual((entry["status"], entry["rule"]), ("ok", "mask calc"))

    def test_session_and_call_ids_come_from_headers_or_are_made_up(self):
        r = self.call_tool("shell", {"marker": "ids-1"},
                           headers={"X-Session-Id": "hdr-session", "X-Call-Id": "hdr-call"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json()["session_id"], r.json()["call_id"]),
                         ("hdr-session", "hdr-call"))
        r = self.call_tool("shell", {"marker": "ids-2"})
        self.assertEqual(r.status, 200, r.body)
        made_up = r.json()["session_id"]
        self.assertTrue(made_up)
        self.assertTrue(r.json()["call_id"])
        self.assertEqual(self.timeline(made_up)["calls"][0]["tool"], "shell")

    def test_tool_failures_are_502_with_status_error(self):
        session = new_session()
        r = self.call_tool("broken", {"marker": "fail-1"}, session=session)
        self.assertEqual(r.status, 502, r.body)
        reply = r.json()
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["tool_status"], 500)
        self.assertEqual(reply["result"], {"error": "tool crashed"})
        self.assertEqual(reply["session_id"], session)
        r = self.call_tool("offline", {"marker": "fail-2"}, session=session)
        self.assertEqual(r.status, 502, r.body)
        self.assertEqual(r.json()["status"], "error")
        self.assertEqual(r.json()["session_id"], session)
        t = self.timeline(session)
        self.assertEqual([c["status"] for c in t["calls"]], ["error", "error"])
        self.assertEqual(t["errors"], 2)

    def test_a_refused_call_keeps_the_connection_for_the_next(self):
        session = new_session()

        def request(tool, args, metadata=None):
            body = json.dumps({"args": args, "session_id": session,
                               "metadata": metadata or {}}).encode()
            return (b"POST /proxy/v1/tools/" + tool.encode() + b" HTTP/1.1\r\nHost: sidecar\r\n"
                    b"X-Proxy-Token: " + harness.TOKEN.encode() + b"\r\n"
                    b"Content-Type: application/json\r\nContent-Length: " +
                    str(len(body)).encode() + b"\r\n\r\n" + body)

        blocked = request("python_exec", {"user": "external", "code": "suspicious"},
                          {"tenant": "beta"})
        allowed = request("shell", {"marker": "after-block"})
        sock = socket.create_connection(("127.0.0.1", self.sidecar_port), timeout=10)
        try:
            # Pipelined: both in one write; the answers come back in order on the one connection.
            sock.sendall(blocked + allowed)
            reader = harness.RawResponseReader(sock)
            first = reader.read()
            second = reader.read()
            self.assertEqual(first.status, 403, first.body)
            self.assertNotEqual((first.header("Connection") or "").lower(), "close")
            self.assertEqual(second.status, 200, second.body)
            self.assertEqual(second.json()["result"], {"ran": {"marker": "after-block"}})
            sock.sendall(blocked)
            self.assertEqual(reader.read().status, 403)
        finally:
            sock.close()

    def test_a_tool_call_on_a_pooled_connection_the_origin_dropped_is_sent_again(self):
        import http.client
        # Both calls on one client connection: one worker, so one pool.
        conn = http.client.HTTPConnection("127.0.0.1", self.sidecar_port, timeout=10)
        try:
            results = []
            for n in (1, 2):
                conn.request("POST", "/proxy/v1/tools/flaky", body=json.dumps({"args": {"n": n}}),
                             headers={"X-Proxy-Token": harness.TOKEN,
                                      "Content-Type": "application/json"})
                r = conn.getresponse()
                results.append((r.status, json.loads(r.read())))
        finally:
            conn.close()
        # The second call reuses the pooled connection, which the origin closes unanswered. The
        # call was read whole, so the proxy sends it again on a new connection.
        self.assertEqual([status for status, _ in results], [200, 200], results)
        self.assertEqual(results[1][1]["result"], {"ok": True})
        with self.flaky.lock:
            bodies = [json.loads(b) for b in self.flaky.bodies]
        self.assertEqual(bodies, [{"n": 1}, {"n": 2}, {"n": 2}])

    def test_a_tool_answering_text_gives_a_string_result(self):
        r = self.call_tool("texty", {})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["result"], "plain words")
        # Bytes that are not UTF-8 cannot go into JSON as they are: U+FFFD stands in for them.
        r = self.call_tool("binary", {})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["result"], "bytes \ufffd\ufffd here")

    def test_bad_calls_get_specific_errors(self):
        cases = [
            ("POST", "/proxy/v1/tools/nope", {"args": {}}, 404, "not_found"),
            ("GET", "/proxy/v1/tools/shell", None, 405, "method_not_allowed"),
            ("POST", "/proxy/v1/tools/shell", {"cmd": "ls"}, 400, "bad_request"),
            ("POST", "/proxy/v1/tools/shell", b"{not json", 400, "bad_request"),
            ("POST", "/proxy/v1/tools/shell", {"args": "ls"}, 400, "bad_request"),
            ("GET", "/somewhere/else", None, 404, "not_found"),
        ]
        for method, path, body, status, code in cases:
            with self.subTest(path=path, body=body):
                r = self.sidecar(method, path, body)
                self.assertEqual(r.status, status, r.body)
                self.assertEqual(r.json()["error"], code)
                self.assertTrue(r.json()["message"])

    # -- rate limits -----------------------------------------------------------------------------
    def burst_of_calls(self, session, n):
        """n calls of one session at once, each on its own connection (so both workers take
        some); returns their statuses and retry-after values, and how long the burst took."""
        socks = [socket.create_connection(("127.0.0.1", self.sidecar_port), timeout=10)
                 for _ in range(n)]
        body = json.dumps({"args": {"marker": "limited"}, "session_id": session}).encode()
        request = (b"POST /proxy/v1/tools/limited HTTP/1.1\r\nHost: sidecar\r\n"
                   b"X-Proxy-Token: " + harness.TOKEN.encode() + b"\r\n"
                   b"Content-Type: application/json\r\nConnection: close\r\n"
                   b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        results = [None] * n
        barrier = threading.Barrier(n)

        def one(i):
            barrier.wait(timeout=10)
            socks[i].sendall(request)
            results[i] = harness.RawResponseReader(socks[i]).read()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        elapsed = time.monotonic() - start
        for s in socks:
            s.close()
        return results, elapsed

    def test_token_bucket_per_session_limits_the_sixth_call(self):
        session = new_session()
        results, elapsed = self.burst_of_calls(session, BURST + 1)
        statuses = sorted(r.status for r in results)
        # Exact while the burst takes under 1/RATE s (no token can come back in between).
        refill = math.floor(elapsed * RATE)
        self.assertLessEqual(statuses.count(200), BURST + refill, statuses)
        if refill == 0:
            self.assertEqual(statuses, [200] * BURST + [429])
        limited = [r for r in results if r.status == 429]
        self.assertTrue(limited, statuses)
        for r in limited:
            self.assertGreaterEqual(int(r.header("Retry-After")), 1)
            reply = r.json()
            self.assertEqual(reply["error"], "rate_limited")
            self.assertEqual(reply["session_id"], session)
        # Another session has its own bucket.
        other = self.call_tool("limited", {"marker": "other"}, session=new_session())
        self.assertEqual(other.status, 200, other.body)
        t = self.timeline(session)
        self.assertEqual(t["rate_limited"], len(limited))
        self.assertIn("rate_limited", [c["status"] for c in t["calls"]])
        self.assertGreaterEqual(self.proxy.metrics()["rate_limited"], len(limited))

    def calls_until_limited(self, session):
        """Calls `limited` one after another until one is refused (bounded); returns how many
        were allowed and the time since the previous refusal's clock (monotonic)."""
        allowed = 0
        for _ in range(100):
            r = self.call_tool("limited", {}, session=session)
            if r.status == 429:
                return allowed, time.monotonic()
            self.assertEqual(r.status, 200, r.body)
            allowed += 1
        self.fail("never rate limited")

    def test_a_rules_update_keeps_the_buckets_and_reset_fills_them(self):
        session = new_session()
        _, empty_at = self.calls_until_limited(session)
        # The same rules put back: a new chain, the same rate_limiter config.
        before = self.proxy.admin("GET", "/proxy/v1/filters").json()
        rules = self.sidecar("GET", "/proxy/v1/rules").json()["rules"]
        r = self.sidecar("PUT", "/proxy/v1/rules", {"rules": rules})
        self.assertEqual(r.status, 200, r.body)
        after = self.proxy.admin("GET", "/proxy/v1/filters").json()
        self.assertGreater(after["generation"], before["generation"])
        # Counters go on from where the replaced stages left them.
        for old, new in zip(before["filters"], after["filters"]):
            self.assertEqual(old["name"], new["name"])
            for key, value in old["counters"].items():
                self.assertGreaterEqual(new["counters"][key], value, (new["name"], key))
        limiter = [f for f in after["filters"] if f["name"] == "rate_limiter"][0]["stats"]
        self.assertGreaterEqual(limiter["rate_limiter.limited"], 1)
        allowed, now = self.calls_until_limited(session)
        # Only what refilled since the bucket ran dry, never a fresh burst (decisive while less
        # than BURST / RATE seconds passed, which is the usual case).
        refilled = math.floor((now - empty_at) * RATE)
        self.assertLessEqual(allowed, refilled, "a rules update refilled the bucket")
        # POST /proxy/v1/reset rebuilds the chain as at start-up: counters from zero, every
        # bucket full.
        self.assertEqual(self.sidecar("POST", "/proxy/v1/reset").status, 200)
        for stage in self.proxy.admin("GET", "/proxy/v1/filters").json()["filters"]:
            self.assertEqual(set(stage["counters"].values()), {0}, stage["name"])
        started = time.monotonic()
        allowed, now = self.calls_until_limited(session)
        self.assertGreaterEqual(allowed, BURST)
        self.assertLessEqual(allowed, BURST + math.floor((now - started) * RATE) + 1)

    # -- the token -------------------------------------------------------------------------------
    def test_every_route_but_the_public_ones_needs_the_token(self):
        guarded = [("POST", "/proxy/v1/tools/shell"), ("POST", "/openai/v1/chat/completions"),
                   ("GET", "/proxy/v1/sessions"), ("GET", "/proxy/v1/metrics"),
                   ("GET", "/proxy/v1/rules"), ("GET", "/metrics"), ("GET", "/nowhere")]
        for method, path in guarded:
            for token in (None, "wrong-token"):
                with self.subTest(path=path, token=token):
                    r = self.sidecar(method, path, {"args": {}} if method == "POST" else None,
                                     token=token)
                    self.assertEqual(r.status, 401, r.body)
            if path.startswith("/proxy/v1/") and method == "GET" or path == "/metrics":
                with self.subTest(admin_listener=path):
                    self.assertEqual(self.proxy.admin(method, path, token=None).status, 401)
        for path in ("/ready", "/ca.pem", "/proxy.pac"):
            with self.subTest(public=path):
                self.assertEqual(self.sidecar("GET", path, token=None).status, 200)
                self.assertEqual(self.proxy.admin("GET", path, token=None).status, 200)

    # -- LLM routes ------------------------------------------------------------------------------
    def test_llm_route_forwards_to_the_provider_over_verified_tls(self):
        session = new_session()
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi there"}]}
        r = self.sidecar("POST", "/openai/v1/chat/completions", body,
                         headers={"X-Session-Id": session, "Authorization": "Bearer sk-test"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["object"], "chat.completion")
        got = [q for q in self.llm.requests if q["body"] == body]
        self.assertEqual(len(got), 1)
        headers = {k.lower(): v for k, v in got[0]["headers"]}
        self.assertEqual(got[0]["path"], "/v1/chat/completions")
        self.assertEqual(headers["host"], "api.openai.com")
        self.assertEqual(headers["authorization"], "Bearer sk-test")
        self.assertNotIn("x-proxy-token", headers)
        [entry] = self.timeline(session)["calls"]
        self.assertEqual((entry["kind"], entry["path"], entry["status"]),
                         ("route", "/v1/chat/completions", "ok"))

    def test_llm_route_streams_and_blocks_in_the_provider_shape(self):
        body = {"model": "gpt-4o-mini", "stream": True,
                "messages": [{"role": "user", "content": "stream please"}]}
        r = self.sidecar("POST", "/openai/v1/chat/completions", body)
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.header("Content-Type").startswith("text/event-stream"))
        self.assertIn(b"data: [DONE]", r.body)
        leak = {"model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "my key is " + AWS_KEY}]}
        r = self.sidecar("POST", "/openai/v1/chat/completions", leak)
        self.assertEqual(r.status, 403, r.body)
        self.assertEqual(r.json()["error"]["message"], "credentials stay home")
        self.assertFalse([q for q in self.llm.requests if q["body"] == leak])

    # -- metrics ---------------------------------------------------------------------------------
    def test_prometheus_metrics_parse_strictly_and_agree_with_the_json(self):
        session = new_session()
        self.assertEqual(self.call_tool("shell", {"marker": "metrics"}, session=session).status,
                         200)
        self.assertEqual(self.call_tool("calc", {"expression": "1"}, session=session).status, 200)
        self.assertEqual(self.call_tool("python_exec", {"user": "external", "code": "suspicious"},
                                        session=session, metadata={"tenant": "beta"}).status, 403)
        # Until one is refused (bounded): a slow machine refills a token now and then.
        for _ in range(100):
            if self.call_tool("limited", {}, session=session).status == 429:
                break
        # Both read while nothing is in flight.
        text = self.sidecar("GET", "/metrics")
        self.assertEqual(text.status, 200, text.body)
        self.assertTrue(text.header("Content-Type").startswith("text/plain; version=0.0.4"))
        samples = parse_prometheus(text.body.decode("utf-8"))
        totals = self.proxy.metrics()
        for key in ("calls", "blocked", "modified", "errors", "rate_limited", "bypassed"):
            with self.subTest(metric=key):
                self.assertEqual(samples[("aiwarden_%s_total" % key, frozenset())], totals[key])
        self.assertGreaterEqual(totals["blocked"], 1)
        self.assertGreaterEqual(totals["modified"], 1)
        self.assertGreaterEqual(totals["rate_limited"], 1)
        self.assertEqual(samples[("aiwarden_latency_seconds_count", frozenset())], totals["calls"])
        self.assertAlmostEqual(samples[("aiwarden_latency_seconds_sum", frozenset())],
                               totals["latency_ms"]["total"] / 1000, delta=0.01)
        for key in ("total", "avg", "p50", "p99"):
            self.assertGreaterEqual(totals["latency_ms"][key], 0)
        self.assertGreater(totals["throughput_rps"], 0)
        self.assertGreater(totals["uptime_s"], 0)
        # The strict parser refuses what a scraper would.
        for bad in ("aiwarden_x 1", "aiwarden_x{a=\"1\"} 1\naiwarden_y 2\naiwarden_x{a=\"2\"} 3\n",
                    "# TYPE aiwarden_x counter\n# TYPE aiwarden_x counter\naiwarden_x 1\n",
                    "aiwarden_x{a=1} 1\n", "aiwarden_x one\n"):
            with self.subTest(bad=bad):
                with self.assertRaises(AssertionError):
                    parse_prometheus(bad)

    # -- admin API on the sidecar ----------------------------------------------------------------
    def test_sessions_list_and_reset(self):
        session = new_session()
        self.assertEqual(self.call_tool("shell", {"marker": "list"}, session=session).status, 200)
        listed = self.sidecar("GET", "/proxy/v1/sessions").json()
        self.assertIn(session, [s["session_id"] for s in listed["sessions"]])
        self.assertEqual(self.sidecar("GET", "/proxy/v1/sessions/no-such-session").status, 404)
        # PUT rules through the sidecar's admin routes, then reset restores the configured ones.
        r = self.sidecar("PUT", "/proxy/v1/rules", {"rules": []})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.sidecar("GET", "/proxy/v1/rules").json()["rules"], [])
        r = self.sidecar("POST", "/proxy/v1/reset")
        self.assertEqual(r.status, 200, r.body)
        names = [x["name"] for x in self.sidecar("GET", "/proxy/v1/rules").json()["rules"]]
        self.assertEqual(sorted(names), sorted(["block python", "mask calc",
                                                "no secrets to the llm"]))
        self.assertEqual(self.sidecar("GET", "/proxy/v1/sessions").json()["sessions"], [])
        self.assertEqual(self.proxy.metrics()["calls"], 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
