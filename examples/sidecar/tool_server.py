#!/usr/bin/env python3
"""A tiny tool server for the aiwarden sidecar demo (Python 3, standard library only).

Two tools, each a POST with the call's arguments as its JSON body (what aiwarden forwards):

  POST /python_exec  {"code": "...", ...}        pretends to run the code: nothing is executed,
                                                 the answer echoes what the tool received
  POST /calculator   {"expression": "...", "precision": N, ...}
                                                 evaluates + - * / // % ** and parentheses over
                                                 numbers, safely (a tiny AST walker, no eval)

Every call it receives is printed, so the demo shows what the tool really got: the arguments
after aiwarden's rules (param_overrides), and never the calls aiwarden blocked.

    python3 tool_server.py [--host 127.0.0.1] [--port 7001]
"""

import argparse
import ast
import json
import operator
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def calculate(expression):
    """Evaluates an arithmetic expression without eval(): only numbers and + - * / // % **."""
    if not isinstance(expression, str) or len(expression) > 200:
        raise ValueError("expression must be a string of at most 200 characters")

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 100:
                raise ValueError("exponent too large")
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](walk(node.operand))
        raise ValueError("only numbers, + - * / // % ** and parentheses are allowed")

    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as e:
        raise ValueError("not an arithmetic expression: %s" % e.msg) from None
    return walk(tree)


def python_exec(args):
    code = args.get("code", "")
    return 200, {
        "tool": "python_exec",
        "executed": False,
        "stdout": "(demo: code not run) %d line(s) received" % (len(str(code).splitlines()) or 1),
        "received": args,
    }


def calculator(args):
    try:
        value = calculate(args.get("expression"))
    except (ValueError, ZeroDivisionError, OverflowError) as e:
        return 400, {"tool": "calculator", "error": str(e), "received": args}
    precision = args.get("precision")
    if isinstance(precision, int) and not isinstance(precision, bool) and 0 <= precision <= 15:
        value = round(value, precision)
    return 200, {"tool": "calculator", "value": value, "received": args}


TOOLS = {"/python_exec": python_exec, "/calculator": calculator}


class Handler(BaseHTTPRequestHandler):
    server_version = "demo-tools/1"
    protocol_version = "HTTP/1.1"  # keep-alive: aiwarden pools its connections to the tools

    def do_POST(self):
        tool = TOOLS.get(self.path.split("?", 1)[0])
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True  # the body is left unread
            return self.reply(413, {"error": "body too large"})
        raw = self.rfile.read(length)
        try:
            args = json.loads(raw or b"{}")
        except ValueError:
            return self.reply(400, {"error": "the body is not JSON"})
        if tool is None:
            return self.reply(404, {"error": "no tool at %s" % self.path})
        if not isinstance(args, dict):
            return self.reply(400, {"error": "the arguments must be a JSON object"})
        status, answer = tool(args)
        print("[tool server] %s session=%s call=%s got args %s -> %d %s" % (
            self.path, self.headers.get("X-Session-Id", "-"), self.headers.get("X-Call-Id", "-"),
            json.dumps(args, sort_keys=True), status,
            json.dumps({k: v for k, v in answer.items() if k != "received"}, sort_keys=True)),
            flush=True)
        self.reply(status, answer)

    def do_GET(self):
        if self.path == "/health":
            return self.reply(200, {"status": "ok", "tools": sorted(t[1:] for t in TOOLS)})
        self.reply(404, {"error": "POST /python_exec or /calculator"})

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # the calls are printed by do_POST, once each
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7001)
    opts = parser.parse_args()
    server = ThreadingHTTPServer((opts.host, opts.port), Handler)
    print("[tool server] listening on http://%s:%d (python_exec, calculator)" % (opts.host, opts.port),
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
