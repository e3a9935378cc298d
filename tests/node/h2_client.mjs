// An HTTP/2 client for the HTTP/2 tests (Node's own node:http2), one JSON line per event on
// stdout so the Python test can react to each as it comes.
//
// Connection: H2C_URL=http://127.0.0.1:PORT (h2c with prior knowledge, a sidecar), or
// PROXY=127.0.0.1:PORT + TARGET=https://host[:port] + CA=file (CONNECT through the proxy, then
// TLS with ALPN h2 only, verified against CA). HEADERS: a JSON object of extra request headers.
//
// MODE=sse       POST BODY to URL_PATH; a line {"event": k, "t": ms} per complete SSE event as it
//                arrives, then {"done": true, "status", "events"}.
// MODE=transfer  METHOD (POST) URL_PATH with SIZE bytes of a fixed pattern (0: no body); prints
//                {"status", "length", "sha256", "sent_sha256"} of the answer.
// MODE=concurrent COUNT requests GET URL_PATH at once on the one connection; prints
//                {"statuses": [...], "alpn"}.
// MODE=stall     GET URL_PATH, stop reading after the first bytes ({"stalled": n}); exits when
//                stdin closes.
// MODE=abort     POST BODY to URL_PATH; at the first body bytes resets the stream (RST_STREAM
//                CANCEL) and prints {"aborted": true}; the connection stays open HOLD_MS (3000)
//                more, so what the proxy does comes from the reset alone.
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import tls from "node:tls";

const env = process.env;
const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

async function connect() {
  if (env.H2C_URL) return http2.connect(env.H2C_URL);
  const [proxyHost, proxyPort] = env.PROXY.split(":");
  const target = new URL(env.TARGET);
  const port = target.port || "443";
  const socket = await new Promise((resolve, reject) => {
    const req = http.request({ host: proxyHost, port: Number(proxyPort), method: "CONNECT",
                               path: `${target.hostname}:${port}` });
    req.on("connect", (res, sock) =>
      res.statusCode === 200 ? resolve(sock) : reject(new Error(`CONNECT ${res.statusCode}`)));
    req.on("error", reject);
    req.end();
  });
  return http2.connect(target.origin, {
    createConnection: () => tls.connect({ socket, servername: target.hostname,
                                          ALPNProtocols: ["h2"], ca: fs.readFileSync(env.CA) }),
  });
}

function pattern(size) {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

function request(session, method, path, body) {
  const headers = { ":method": method, ":path": path, ...JSON.parse(env.HEADERS || "{}") };
  if (body) headers["content-type"] = headers["content-type"] || "application/json";
  const stream = session.request(headers, { endStream: !body });
  if (body) stream.end(body);
  return stream;
}

const session = await connect();
session.on("error", (err) => {
  say({ error: String(err) });
  process.exit(1);
});
const mode = env.MODE;

if (mode === "sse") {
  const stream = request(session, "POST", env.URL_PATH, env.BODY);
  let status = 0;
  let pending = "";
  let events = 0;
  stream.on("response", (h) => { status = h[":status"]; });
  stream.setEncoding("utf8");
  stream.on("data", (chunk) => {
    pending += chunk;
    for (let end = pending.indexOf("\n\n"); end >= 0; end = pending.indexOf("\n\n")) {
      pending = pending.slice(end + 2);
      say({ event: events++, t: Date.now() });
    }
  });
  stream.on("end", () => {
    say({ done: true, status, events });
    session.close();
  });
} else if (mode === "transfer") {
  const size = Number(env.SIZE || "0");
  const body = size > 0 ? pattern(size) : null;
  const stream = request(session, env.METHOD || "POST", env.URL_PATH, body);
  const hash = crypto.createHash("sha256");
  let length = 0;
  let status = 0;
  stream.on("response", (h) => { status = h[":status"]; });
  stream.on("data", (chunk) => { hash.update(chunk); length += chunk.length; });
  stream.on("end", () => {
    say({ status, length, sha256: hash.digest("hex"),
          sent_sha256: body ? crypto.createHash("sha256").update(body).digest("hex") : null });
    session.close();
  });
} else if (mode === "concurrent") {
  const count = Number(env.COUNT || "100");
  const statuses = await Promise.all(Array.from({ length: count }, () => new Promise((resolve) => {
    const stream = request(session, "GET", env.URL_PATH, null);
    let status = 0;
    stream.on("response", (h) => { status = h[":status"]; });
    stream.on("data", () => {});
    stream.on("end", () => resolve(status));
    stream.on("error", (err) => resolve(String(err)));
  })));
  say({ statuses, alpn: session.alpnProtocol });
  session.close();
} else if (mode === "abort") {
  const stream = request(session, "POST", env.URL_PATH, env.BODY);
  let first = false;
  stream.on("data", () => {
    if (first) return;
    first = true;
    stream.close(http2.constants.NGHTTP2_CANCEL);
    say({ aborted: true });
    setTimeout(() => session.destroy(), Number(env.HOLD_MS || "3000"));
  });
  stream.on("error", () => {});
} else if (mode === "stall") {
  // Reads the first bytes of GET URL_PATH, then stops reading (no WINDOW_UPDATE goes out) and
  // says {"stalled": bytes}; exits when stdin closes.
  const stream = request(session, "GET", env.URL_PATH, null);
  let seen = 0;
  stream.on("data", (chunk) => {
    seen += chunk.length;
    if (!stream.isPaused()) {
      stream.pause();
      say({ stalled: seen });
    }
  });
  stream.on("error", () => {});
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
} else {
  say({ error: `unknown MODE ${mode}` });
  process.exit(2);
}
