#!/usr/bin/env python3
"""Captures real TLS ClientHellos from real clients and regenerates the test data built from them.

Each client connects to a throw-away listener on 127.0.0.1; the listener keeps the bytes up to the
end of the first handshake message (the ClientHello, whatever records carry it) and closes the
connection, so the client fails its handshake: only the hello matters. The bytes are written to
tests/testdata/client_hello/<name>.bin, and tests/unit/tls/client_hello_samples.h is regenerated
from every .bin here (the unit tests embed them; the fuzz corpus copies a few).

    python3 tests/testdata/client_hello/capture.py            # capture all, regenerate header
    python3 tests/testdata/client_hello/capture.py --header   # only regenerate the header
    python3 tests/testdata/client_hello/capture.py chromium   # capture only the named clients

Clients: openssl s_client, curl, Node's tls module and headless Chromium (Debian's `chromium`
package: a test-time tool for this capture only, not a dependency of aiwarden), whichever are
installed. Chromium is pointed at https://api.openai.com:<port>/ with its host resolver mapping
that name to 127.0.0.1 and every other name to NOTFOUND (--host-resolver-rules), so nothing
leaves loopback; it gets a throw-away profile ({profile}). Every client runs in its own process
group, which is killed once the hello is read (a browser leaves helpers behind its pid).

The hellos carry fresh randoms and key shares on every run, so re-capturing changes the bytes,
not the facts the tests check (SNI, ALPN, versions).
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
HEADER = os.path.join(ROOT, "tests", "unit", "tls", "client_hello_samples.h")

# name -> (description, argv with {port}); the SNI and ALPN each test expects are in the header.
CLIENTS = {
    "openssl_tls13_alpn": (
        "openssl s_client -servername api.openai.com -alpn h2,http/1.1 (TLS 1.3 + 1.2)",
        ["openssl", "s_client", "-connect", "127.0.0.1:{port}", "-servername", "api.openai.com",
         "-alpn", "h2,http/1.1"]),
    "openssl_tls12_only": (
        "openssl s_client -tls1_2 -servername chatgpt.com (no supported_versions, no ALPN)",
        ["openssl", "s_client", "-tls1_2", "-connect", "127.0.0.1:{port}", "-servername",
         "chatgpt.com"]),
    "openssl_no_sni": (
        "openssl s_client -noservername (no server_name, no ALPN)",
        ["openssl", "s_client", "-noservername", "-connect", "127.0.0.1:{port}"]),
    "curl_http2": (
        "curl --http2 https://api.openai.com/ --resolve api.openai.com:{port}:127.0.0.1",
        ["curl", "-s", "-o", "/dev/null", "--max-time", "5", "--http2",
         "https://api.openai.com:{port}/", "--resolve", "api.openai.com:{port}:127.0.0.1"]),
    "node_tls": (
        "node tls.connect({servername: 'api.anthropic.com', ALPNProtocols: ['h2', 'http/1.1']})",
        ["node", "-e",
         "const s = require('tls').connect({host: '127.0.0.1', port: {port}, "
         "servername: 'api.anthropic.com', ALPNProtocols: ['h2', 'http/1.1']}); "
         "s.on('error', () => {});"]),
    "chromium": (
        "headless chromium https://api.openai.com/ mapped to 127.0.0.1 (GREASE, ECH, MLKEM)",
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--user-data-dir={profile}",
         "--host-resolver-rules=MAP api.openai.com 127.0.0.1, MAP * ~NOTFOUND",
         "https://api.openai.com:{port}/"]),
}


def read_hello(conn):
    """Bytes from the first one to the end of the first handshake message."""
    data = b""
    handshake = b""
    at = 0
    conn.settimeout(10)
    while True:
        while len(data) >= at + 5:
            length = int.from_bytes(data[at + 3:at + 5], "big")
            if len(data) < at + 5 + length:
                break
            handshake += data[at + 5:at + 5 + length]
            at += 5 + length
            if len(handshake) >= 4 and len(handshake) >= 4 + int.from_bytes(handshake[1:4], "big"):
                return data[:at]
        chunk = conn.recv(65536)
        if not chunk:
            raise RuntimeError("client closed before a whole ClientHello")
        data += chunk


def capture(name, argv):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    profile = tempfile.mkdtemp(prefix="capture-hello-")
    argv = [a.replace("{port}", str(port)).replace("{profile}", profile) for a in argv]
    # Own process group: a browser leaves helpers (zygote, network service) behind its pid.
    client = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        listener.settimeout(10)
        conn, _ = listener.accept()
        hello = read_hello(conn)
        conn.close()
    finally:
        listener.close()
        try:
            client.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(client.pid, signal.SIGKILL)  # the group this script started, nothing else
        except ProcessLookupError:
            pass
        client.wait()
        shutil.rmtree(profile, ignore_errors=True)
    with open(os.path.join(HERE, name + ".bin"), "wb") as f:
        f.write(hello)
    print(f"{name}: {len(hello)} bytes")


def write_header():
    lines = [
        "// Real TLS ClientHellos, captured from real clients by",
        "// tests/testdata/client_hello/capture.py (the raw bytes are the .bin files next to it).",
        "// GENERATED: re-run that script rather than editing this file.",
        "#pragma once",
        "",
        "#include <cstdint>",
        "",
        "namespace aiw::test::hello_samples {",
        "",
    ]
    for name in sorted(CLIENTS):
        path = os.path.join(HERE, name + ".bin")
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        lines.append(f"// {CLIENTS[name][0]}")
        constant = "k" + "".join(part.capitalize() for part in name.split("_"))
        lines.append(f"inline constexpr uint8_t {constant}[{len(data)}] = {{")
        for i in range(0, len(data), 16):
            lines.append("    " + ", ".join(f"0x{b:02x}" for b in data[i:i + 16]) + ",")
        lines.append("};")
        lines.append("")
    lines.append("}  // namespace aiw::test::hello_samples")
    with open(HEADER, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {os.path.relpath(HEADER, ROOT)}")


def main():
    wanted = [a for a in sys.argv[1:] if not a.startswith("--")]
    unknown = [a for a in wanted if a not in CLIENTS]
    if unknown:
        sys.exit(f"unknown client(s) {', '.join(unknown)}; known: {', '.join(CLIENTS)}")
    if "--header" not in sys.argv:
        for name, (_, argv) in CLIENTS.items():
            if wanted and name not in wanted:
                continue
            if subprocess.run(["which", argv[0]], capture_output=True).returncode != 0:
                print(f"{name}: {argv[0]} not installed, kept the previous capture")
                continue
            capture(name, argv)
    write_header()


if __name__ == "__main__":
    main()
