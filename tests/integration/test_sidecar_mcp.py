"""MCP through the sidecar (issue 6, acceptance 3): the official @modelcontextprotocol/sdk client
lists and calls the tools of a real MCP server (the SDK's own McpServer, tests/node/
mcp_server.mjs) through an `mcp` route; a rule blocks one tools/call, which the client sees as a
JSON-RPC error; the session timeline is keyed by the Mcp-Session-Id.

Skips without Node >= 20.18.1 and tests/node_modules (make test installs them).
"""

import json
import os
import shutil
import subprocess
import unittest

import harness
from harness import Proxy, ProxyTestCase, http_request

TESTS_DIR = os.path.normpath(os.path.join(harness.HERE, ".."))
SERVER = os.path.join(TESTS_DIR, "node", "mcp_server.mjs")
CLIENT = os.path.join(TESTS_DIR, "node", "mcp_client.mjs")
NODE = shutil.which("node")
NODE_OK = os.path.join(TESTS_DIR, "..", "scripts", "node-ok.sh")
SDK = os.path.join(TESTS_DIR, "node_modules", "@modelcontextprotocol", "sdk", "package.json")
if NODE is None or subprocess.run([NODE_OK], capture_output=True).returncode != 0:
    SKIP = "node >= 20.18.1 is not installed (the MCP SDK tests need it)"
elif not os.path.isfile(SDK):
    SKIP = "Node packages missing: run `cd tests && npm ci` (make test does)"
else:
    SKIP = None

BLOCK_PYTHON_OVER_MCP = {"name": "no python over mcp", "action": "block",
                         "match_class": "mcp", "match_tool": "python_exec",
                         "block_reason": "python is not allowed for this agent", "priority": 20}


@unittest.skipIf(SKIP, SKIP)
class SidecarMcpTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = subprocess.Popen([NODE, SERVER], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, cwd=TESTS_DIR,
                                      env=harness.clean_env())
        cls.addClassCleanup(cls._stop_server)
        line = cls.server.stdout.readline()
        if not line:
            raise AssertionError("the MCP server did not start: %s"
                                 % cls.server.stderr.read().decode(errors="replace"))
        cls.mcp_port = json.loads(line)["port"]
        cls.proxy = Proxy()
        cls.sidecar_port = harness.free_port()
        cfg = cls.proxy.default_config()
        cfg["listeners"].append({
            "name": "agent", "type": "sidecar", "address": "127.0.0.1:%d" % cls.sidecar_port,
            "admin_routes": True,
            "mcp": [{"path": "/mcp", "upstream": "http://127.0.0.1:%d/mcp" % cls.mcp_port}],
        })
        cfg["filters"] = [
            {"filter": "pattern_matcher"},
            {"filter": "rule_evaluator", "config": {"rules": [BLOCK_PYTHON_OVER_MCP]}},
            {"filter": "reporter"},
        ]
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)

    @classmethod
    def _stop_server(cls):
        cls.server.terminate()
        try:
            cls.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.server.kill()
            cls.server.wait(timeout=10)
        for f in (cls.server.stdout, cls.server.stderr):
            f.close()

    def run_client(self):
        env = harness.clean_env(MCP_URL="http://127.0.0.1:%d/mcp" % self.sidecar_port,
                                PROXY_TOKEN=harness.TOKEN)
        p = subprocess.run([NODE, CLIENT], capture_output=True, env=env, timeout=60,
                           cwd=TESTS_DIR)
        self.assertEqual(p.returncode, 0, "node failed:\n%s\n%s" % (p.stdout, p.stderr))
        return json.loads(p.stdout.decode("utf-8"))

    def test_sdk_client_lists_and_calls_tools_and_sees_a_block_as_json_rpc_error(self):
        out = self.run_client()
        self.assertEqual(out["tools"], ["echo", "python_exec"])
        self.assertEqual(out["echo"]["content"], [{"type": "text",
                                                   "text": "hello through aiwarden"}])
        self.assertIsNone(out["python"], "the blocked call reached the MCP server")
        self.assertIsNotNone(out["blocked"])
        self.assertEqual(out["blocked"]["code"], -32001)
        self.assertIn("python is not allowed for this agent", out["blocked"]["message"])

        # The session is the MCP session: its timeline holds the two tools/call, not the
        # handshake or the listing.
        session = out["session_id"]
        self.assertTrue(session)
        r = http_request(self.sidecar_port, "GET", "/proxy/v1/sessions/" + session,
                         headers={"X-Proxy-Token": harness.TOKEN})
        self.assertEqual(r.status, 200, r.body)
        calls = r.json()["calls"]
        self.assertEqual([(c["kind"], c["tool"], c["status"]) for c in calls],
                         [("mcp", "echo", "ok"), ("mcp", "python_exec", "blocked")])
        self.assertEqual(calls[1]["rule"], "no python over mcp")
        self.assertTrue(all(c["call_id"] for c in calls))

        # The reporter names these calls by what they are: MCP, in the session.
        def blocked_events():
            events = http_request(self.sidecar_port, "GET", "/proxy/v1/events?limit=100",
                                  headers={"X-Proxy-Token": harness.TOKEN}).json()["events"]
            return [e for e in events
                    if e.get("kind") == "exchange" and e.get("tool") == "python_exec"]
        blocked = harness.poll(blocked_events, timeout=5.0)  # events reach the ring in batches
        self.assertTrue(blocked, "no exchange event for the blocked call")
        self.assertEqual(blocked[-1]["class"], "mcp")
        self.assertEqual(blocked[-1]["action"], "block")
        self.assertEqual(blocked[-1]["session_id"], session)

    def test_without_the_token_the_mcp_route_is_401(self):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
        r = http_request(self.sidecar_port, "POST", "/mcp", body=body,
                         headers={"Content-Type": "application/json",
                                  "Accept": "application/json, text/event-stream"})
        self.assertEqual(r.status, 401, r.body)


if __name__ == "__main__":
    unittest.main()
