"""The official `openai` Node SDK through aiwarden (issue 3, acceptance 5): with undici's
ProxyAgent and aiwarden's CA, the SDK's default https://api.openai.com/v1 is intercepted and
reaches a fake OpenAI origin (mapped with upstream.resolve); a chat completion and a streamed one
complete as the origin sent them.

Needs `node` and tests/node_modules (`make test` runs `npm ci` in tests/); skipped without them.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import Proxy, ProxyTestCase
from fake_openai import COMPLETION_CONTENT, COMPLETION_ID, STREAM_ID, STREAM_PIECES, FakeOpenAI
from pki import make_pki

TESTS_DIR = os.path.normpath(os.path.join(harness.HERE, ".."))
SCRIPT = os.path.join(TESTS_DIR, "node", "openai_chat.mjs")
NODE = shutil.which("node")
MODULES = [os.path.join(TESTS_DIR, "node_modules", m, "package.json") for m in ("openai", "undici")]
MISSING = [m for m in MODULES if not os.path.isfile(m)]

_skip_reason = None
NODE_OK = os.path.join(TESTS_DIR, "..", "scripts", "node-ok.sh")
if NODE is None:
    _skip_reason = "node is not installed (the SDK tests need Node >= 20.18.1)"
elif subprocess.run([NODE_OK], capture_output=True).returncode != 0:
    _skip_reason = ("node %s is older than 20.18.1, which the pinned openai/undici SDKs need"
                    % subprocess.run([NODE, "--version"], capture_output=True, text=True)
                    .stdout.strip())
elif MISSING:
    _skip_reason = ("Node packages missing (%s): run `cd tests && npm ci` (make test does)"
                    % ", ".join(os.path.relpath(m, TESTS_DIR) for m in MISSING))


@unittest.skipIf(_skip_reason is not None, _skip_reason or "")
class OpenAiSdkTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki = make_pki(tempfile.mkdtemp(prefix="aiw-openai-pki-"), names=("api.openai.com",))
        cls.addClassCleanup(shutil.rmtree, cls.pki.directory, True)
        cls.origin = FakeOpenAI(cls.pki.server_context())
        cls.addClassCleanup(cls.origin.close)
        cls.proxy = Proxy()
        cfg = cls.proxy.default_config()
        cfg["upstream"] = {
            "connect_timeout_ms": 2000,
            "ca_file": cls.pki.ca_pem,
            "resolve": {"api.openai.com:443": "127.0.0.1:%d" % cls.origin.port},
        }
        cfg["filters"] = [
            {"filter": "tls_inspector"},
            {"filter": "domain_classifier", "config": {
                "ai_domains": ["api.openai.com"], "default": "bypass"}},
            {"filter": "chatty_bypass"},
        ]
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)
        cls.proxy_ca = os.path.join(cls.proxy.state_dir, "ca", "ca.pem")

    def run_sdk(self):
        env = harness.clean_env(PROXY_URL=self.proxy.proxy_url, PROXY_CA=self.proxy_ca)
        env.pop("NODE_EXTRA_CA_CERTS", None)  # trust comes from requestTls.ca only
        env.pop("OPENAI_BASE_URL", None)
        env.pop("OPENAI_API_KEY", None)
        p = subprocess.run([NODE, SCRIPT], capture_output=True, env=env, timeout=60,
                           cwd=TESTS_DIR)
        self.assertEqual(p.returncode, 0, "node %s failed (%d):\nstdout: %s\nstderr: %s"
                         % (SCRIPT, p.returncode, p.stdout.decode(errors="replace"),
                            p.stderr.decode(errors="replace")))
        return json.loads(p.stdout.decode("utf-8"))

    def test_the_sdk_completes_a_chat_and_a_stream_through_interception(self):
        before = self.proxy.metrics().get("intercepted", 0)
        seen_before = len(self.origin.requests)
        out = self.run_sdk()

        # What the SDK got is what the origin sent.
        self.assertEqual(out["baseURL"], "https://api.openai.com/v1")
        c = out["completion"]
        self.assertEqual(c["id"], COMPLETION_ID)
        self.assertEqual(c["object"], "chat.completion")
        self.assertEqual(c["role"], "assistant")
        self.assertEqual(c["content"], COMPLETION_CONTENT)
        self.assertEqual(c["finish_reason"], "stop")
        self.assertEqual(c["usage"]["total_tokens"], 33)
        s = out["stream"]
        self.assertEqual(s["deltas"], list(STREAM_PIECES), "deltas lost, split or reordered")
        self.assertEqual(s["text"], "".join(STREAM_PIECES))
        self.assertEqual(s["ids"], [STREAM_ID])
        self.assertEqual(s["chunks"], len(STREAM_PIECES) + 2)  # role chunk + pieces + finish
        self.assertEqual(s["finish_reason"], "stop")

        # The origin got the SDK's requests, forwarded by aiwarden.
        reqs = self.origin.requests[seen_before:]
        self.assertEqual(len(reqs), 2, [(r["method"], r["path"]) for r in reqs])
        plain, streamed = reqs
        for r in reqs:
            self.assertEqual(r["method"], "POST")
            self.assertEqual(r["path"], "/v1/chat/completions")
            h = {}
            for k, v in r["headers"]:
                h.setdefault(k.lower(), []).append(v)
            self.assertIn("aiwarden", ", ".join(h.get("via", [])), r["headers"])
            self.assertEqual(h.get("authorization"), ["Bearer sk-test"])
            self.assertEqual(h.get("host"), ["api.openai.com"])
            self.assertTrue(any(v.startswith("OpenAI/JS") for v in h.get("user-agent", [])),
                            h.get("user-agent"))
            self.assertEqual(r["body"]["model"], "gpt-4o-mini")
        self.assertEqual(plain["body"]["messages"], [
            {"role": "system", "content": "You are a calculator."},
            {"role": "user", "content": "What is 4 + 4?"}])
        self.assertFalse(plain["body"].get("stream", False))
        self.assertEqual(streamed["body"]["messages"],
                         [{"role": "user", "content": "Count to three, streaming."}])
        self.assertIs(streamed["body"]["stream"], True)

        # And aiwarden counted the connection as intercepted.
        self.assertGreaterEqual(self.proxy.metrics()["intercepted"], before + 1)


if __name__ == "__main__":
    unittest.main()
