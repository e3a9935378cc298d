#!/usr/bin/env python3
"""Plays an agent calling its tools through the aiwarden sidecar (Python 3, standard library only).

Three tool calls in one session, then the session's timeline:

  1. python_exec from an internal user          -> allowed: the tool runs, its answer comes back
  2. python_exec from an external user of tenant
     beta, with "suspicious" code                -> blocked by the rule "block python" (403)
  3. calculator                                  -> modified by the rule "mask calculator": the
                                                    tool gets overridden args, the agent gets the
                                                    rule's response_override
  4. GET /proxy/v1/sessions/{session}            -> the timeline of those three calls

    PROXY_TOKEN=... python3 agent.py [--sidecar http://127.0.0.1:8081] [--session ID] [--check]

With --check it also verifies that aiwarden answered exactly as the demo expects and exits 1
(listing what differed) if not; run.sh uses it.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

# What the calculator rule in aiwarden.yaml answers instead of the tool's result.
EXPECTED_OVERRIDE = {"status": "masked", "reason": "calculator results are masked by policy"}


def request(method, url, token, body=None):
    """One HTTP request; returns (status, headers, parsed JSON body or raw text)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("X-Proxy-Token", token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, headers, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:  # 4xx/5xx still carry aiwarden's JSON answer
        status, headers, raw = e.code, e.headers, e.read()
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = raw.decode(errors="replace")
    return status, headers, payload


def show(obj):
    return json.dumps(obj, indent=2, sort_keys=False).replace("\n", "\n      ")


def call_tool(base, token, step, title, tool, args, session, call_id, metadata):
    envelope = {"args": args, "session_id": session, "call_id": call_id, "metadata": metadata}
    print("\n%s %s" % (step, title))
    print("   -> POST /proxy/v1/tools/%s" % tool)
    print("      %s" % show(envelope))
    status, headers, payload = request("POST", "%s/proxy/v1/tools/%s" % (base, tool), token,
                                       envelope)
    decision = headers.get("x-aiwarden-decision")
    print("   <- HTTP %d%s" % (status, "  (x-aiwarden-decision: %s)" % decision if decision else ""))
    print("      %s" % show(payload))
    return status, decision, payload


def print_timeline(session_json):
    calls = session_json.get("calls") or []
    print("   session %s: %s call(s), %s blocked, %s rate-limited, %s error(s)" % (
        session_json.get("session_id"), session_json.get("total_calls"),
        session_json.get("blocked"), session_json.get("rate_limited"),
        session_json.get("errors")))
    print("   %-24s  %-14s  %-11s  %-8s  %4s  %9s  %s" % (
        "time", "call_id", "tool", "status", "http", "latency", "rule / reason"))
    for c in calls:
        rule = c.get("rule") or "-"
        if c.get("reason"):
            rule += " (%s)" % c["reason"]
        print("   %-24s  %-14s  %-11s  %-8s  %4s  %7.1fms  %s" % (
            c.get("time"), c.get("call_id"), c.get("tool") or c.get("path"), c.get("status"),
            c.get("http_status"), float(c.get("latency_ms") or 0), rule))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sidecar", default=os.environ.get("SIDECAR_URL", "http://127.0.0.1:8081"),
                        help="the sidecar listener (default %(default)s)")
    parser.add_argument("--session", default="demo-%d" % int(time.time()),
                        help="the session id the calls share (default: demo-<unix time>)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 unless aiwarden answered as the demo expects")
    opts = parser.parse_args()
    token = os.environ.get("PROXY_TOKEN")
    if not token:
        print("agent: set PROXY_TOKEN to aiwarden's admin token (X-Proxy-Token)", file=sys.stderr)
        return 2
    base = opts.sidecar.rstrip("/")
    session = opts.session
    problems = []

    def expect(cond, what):
        if not cond:
            problems.append(what)

    print("agent: session %s, sidecar %s" % (session, base))

    # 1. Allowed: no rule matches (the user is internal), the tool runs.
    status, decision, reply = call_tool(
        base, token, "1.", "an allowed call: python_exec for an internal user",
        "python_exec", {"code": "print(6 * 7)", "user": "internal"},
        session, "call-1", {"tenant": "beta"})
    print("   => allowed: the tool ran and its answer is in \"result\"")
    expect(status == 200, "call 1: HTTP %s, expected 200" % status)
    expect(isinstance(reply, dict) and reply.get("status") == "ok" and reply.get("rule") is None
           and isinstance(reply.get("result"), dict)
           and reply["result"].get("tool") == "python_exec",
           "call 1: expected status ok, rule null and the tool's result, got %r" % (reply,))

    # 2. Blocked: every match_* of the seed rule "block python" holds.
    status, decision, reply = call_tool(
        base, token, "2.", "a blocked call: python_exec, external user of tenant beta, suspicious code",
        "python_exec", {"code": "import os  # something suspicious", "user": "external"},
        session, "call-2", {"tenant": "beta"})
    print("   => blocked by rule %r: %s (the tool never saw this call)" % (
        reply.get("rule") if isinstance(reply, dict) else None,
        reply.get("reason") if isinstance(reply, dict) else reply))
    expect(status == 403, "call 2: HTTP %s, expected 403" % status)
    expect(isinstance(reply, dict) and reply.get("error") == "blocked"
           and reply.get("reason") == "high risk" and reply.get("rule") == "block python"
           and reply.get("call_id") == "call-2",
           "call 2: expected error blocked, reason 'high risk', rule 'block python', got %r"
           % (reply,))

    # 3. Modified: "mask calculator" overrides the args going in and the result coming out.
    status, decision, reply = call_tool(
        base, token, "3.", "a modified call: calculator (rule \"mask calculator\")",
        "calculator", {"expression": "22 / 7", "precision": 10},
        session, "call-3", {"tenant": "beta"})
    print("   => modified: the tool got precision=2 and audit=true (see the tool server's log),")
    print("      and the agent got the rule's response_override instead of the tool's answer")
    expect(status == 200, "call 3: HTTP %s, expected 200" % status)
    expect(decision == "modified", "call 3: x-aiwarden-decision %r, expected 'modified'" % decision)
    expect(isinstance(reply, dict) and reply.get("status") == "ok"
           and reply.get("rule") == "mask calculator"
           and reply.get("result") == EXPECTED_OVERRIDE,
           "call 3: expected status ok, rule 'mask calculator' and result %r, got %r"
           % (EXPECTED_OVERRIDE, reply))

    # 4. The session's timeline.
    print("\n4. the session timeline: GET /proxy/v1/sessions/%s" % session)
    status, _, timeline = request("GET", "%s/proxy/v1/sessions/%s" % (base, session), token)
    if status != 200 or not isinstance(timeline, dict):
        print("   <- HTTP %d %s" % (status, timeline))
        problems.append("timeline: HTTP %s, expected 200" % status)
    else:
        print_timeline(timeline)
        calls = timeline.get("calls") or []
        got = [(c.get("call_id"), c.get("tool"), c.get("status"), c.get("http_status"))
               for c in calls]
        want = [("call-1", "python_exec", "ok", 200), ("call-2", "python_exec", "blocked", 403),
                ("call-3", "calculator", "ok", 200)]
        expect(got == want, "timeline: expected %r, got %r" % (want, got))
        expect(timeline.get("total_calls") == 3 and timeline.get("blocked") == 1,
               "timeline: expected total_calls 3 and blocked 1, got %r and %r"
               % (timeline.get("total_calls"), timeline.get("blocked")))
        print("\n   raw JSON:\n      %s" % show(timeline))

    if opts.check:
        if problems:
            print("\nagent: the demo did NOT go as expected:", file=sys.stderr)
            for p in problems:
                print("  - " + p, file=sys.stderr)
            return 1
        print("\nagent: all checks passed (allowed 200 ok, blocked 403 'high risk', "
              "modified 200 masked, timeline ok/blocked/ok)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
