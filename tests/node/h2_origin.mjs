// An HTTP/2-only TLS origin for the upstream HTTP/2 tests (Node's node:http2, no HTTP/1.1
// fallback: a client that cannot speak h2 gets nothing). CERT and KEY: PEM files. Prints
// {"port": N} once listening, then {"connection": n} for every new client connection (the
// origin-side count the tests check).
//   GET  /bytes?n=N&seed=S  N bytes of a seeded pattern, with x-body-sha256
//   POST /echo              the request body back, with x-body-length and x-body-sha256
//   GET  /hello             a short text answer
//   GET  /zeros?n=N         N zero bytes, written as the client's window allows (no length)
//   GET  /reset-midway      a 200 head (content-length 100000), 1000 bytes, then RST_STREAM
//   GET  /refuse            RST_STREAM INTERNAL_ERROR before any answer
//   GET  /silent            never answers (the stream stays open)
//   GET  /drip?n=N&gap=MS   a 200 head at once, then N lines "chunk k", one every MS ms
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
  stream.on("error", () => {});  // resets (ours or the proxy's) must not end the origin
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
  } else if (url.pathname === "/zeros") {
    let left = Number(url.searchParams.get("n") || "0");
    const chunk = Buffer.alloc(64 * 1024);
    stream.respond({ ":status": 200, "content-type": "application/octet-stream" });
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!stream.write(chunk.subarray(0, n))) {
          stream.once("drain", pump);
          return;
        }
      }
      stream.end();
    };
    pump();
  } else if (url.pathname === "/reset-midway") {
    // Announces more than it sends, so the answer cannot pass for whole even if Node ended the
    // stream before the reset.
    stream.respond({ ":status": 200, "content-type": "application/octet-stream",
                     "content-length": "100000" });
    stream.write(Buffer.alloc(1000, 0x61), () => {
      setTimeout(() => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR), 50);
    });
  } else if (url.pathname === "/refuse") {
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  } else if (url.pathname === "/silent") {
    // no answer: the stream stays open until the proxy gives up on it
  } else if (url.pathname === "/drip") {
    const n = Number(url.searchParams.get("n") || "1");
    const gap = Number(url.searchParams.get("gap") || "100");
    stream.respond({ ":status": 200, "content-type": "text/plain" });
    let sent = 0;
    const next = () => {
      if (stream.destroyed) return;
      sent += 1;
      if (sent === n) stream.end(`chunk ${sent}\n`);
      else {
        stream.write(`chunk ${sent}\n`);
        setTimeout(next, gap);
      }
    };
    setTimeout(next, gap);
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
