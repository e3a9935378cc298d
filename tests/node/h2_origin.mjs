// An HTTP/2-only TLS origin for the upstream HTTP/2 tests (Node's node:http2, no HTTP/1.1
// fallback: a client that cannot speak h2 gets nothing). CERT and KEY: PEM files. Prints
// {"port": N} once listening, then {"connection": n} for every new client connection (the
// origin-side count the tests check).
//   GET  /bytes?n=N&seed=S  N bytes of a seeded pattern, with x-body-sha256
//   POST /echo              the request body back, with x-body-length and x-body-sha256
//   GET  /hello             a short text answer
import fs from "node:fs";
import http2 from "node:http2";

const server = http2.createSecureServer({
  cert: fs.readFileSync(process.env.CERT),
  key: fs.readFileSync(process.env.KEY),
  allowHTTP1: false,
  settings: { maxConcurrentStreams: Number(process.env.MAX_STREAMS || "100") },
});

let connections = 0;
server.on("session", () => {
  connections += 1;
  process.stdout.write(JSON.stringify({ connection: connections }) + "\n");
});

import crypto from "node:crypto";

// N bytes from a seeded sha256 chain; the answer carries its sha256 in x-body-sha256.
function pattern(n, seed) {
  const out = Buffer.alloc(n);
  let h = crypto.createHash("sha256").update(`aiwarden-${seed}`).digest();
  for (let off = 0; off < n; off += h.length) {
    h.copy(out, off, 0, Math.min(h.length, n - off));
    h = crypto.createHash("sha256").update(h).digest();
  }
  return out;
}
const sha = (b) => crypto.createHash("sha256").update(b).digest("hex");

server.on("stream", (stream, headers) => {
  const url = new URL(headers[":path"], "https://origin");
  if (url.pathname === "/bytes") {
    const body = pattern(Number(url.searchParams.get("n") || "0"), Number(url.searchParams.get("seed") || "1"));
    stream.respond({ ":status": 200, "content-type": "application/octet-stream",
                     "content-length": String(body.length), "x-body-sha256": sha(body) });
    stream.end(body);
  } else if (url.pathname === "/echo") {
    const chunks = [];
    stream.on("data", (c) => chunks.push(c));
    stream.on("end", () => {
      const body = Buffer.concat(chunks);
      stream.respond({ ":status": 200, "content-type": "application/octet-stream",
                       "x-body-length": String(body.length), "x-body-sha256": sha(body) });
      stream.end(body);
    });
  } else if (url.pathname === "/hello") {
    stream.respond({ ":status": 200, "content-type": "text/plain" });
    stream.end("hello over h2\n");
  } else {
    stream.respond({ ":status": 404 });
    stream.end();
  }
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
process.on("SIGTERM", () => process.exit(0));
