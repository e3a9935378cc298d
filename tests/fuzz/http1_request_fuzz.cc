// libFuzzer target for the HTTP/1 request parser (Http1Parser::Type::Request,
// src/http/http1_parser.cc over llhttp). Built by tests/fuzz/CMakeLists.txt and run by
// `make fuzz` (docs/fuzzing.md).
//
// Input: the bytes a client sends on one connection (the seeds in corpus/http1_request/ are
// pipelined, chunked, CONNECT, upgrade and smuggling-shaped requests). A hash of the input picks
// the read splits and the driver's choices: a small max_header_bytes (one input in four), pausing
// after every body chunk and message (one in two), HeadAction::Stop for every head (one in
// eight). The driver does what a connection does: resume() after a pause or stop and feed the
// rest, then finish() at EOF. Checks, beyond "no crash, no leak, no UB":
//  * the same heads, body bytes, trailers, completions, final state and error (status, code and
//    message) whether the input is fed whole, in two reads, in three reads, or (short inputs)
//    one byte per read; and again after reset() on a used parser;
//  * feed() consumes everything unless it leaves Ready; it never livelocks;
//  * every delivered head keeps the header's promises: version 1.0 or 1.1, a request-target of
//    visible ASCII without '#', valid field names and trimmed values, exactly one Host in
//    HTTP/1.1 and at most one in 1.0, no Content-Length with Transfer-Encoding, at most one
//    Content-Length, no Transfer-Encoding in 1.0, no CONNECT with a body, framing that matches
//    the fields, head_bytes within max_header_bytes;
//  * errors carry one of the documented codes with its status.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/http1_parser.h"

namespace {

using aiw::BodyFraming;
using aiw::FlowAction;
using aiw::HeadAction;
using aiw::Http1Parser;
using aiw::Http1ParserState;

void check(bool ok) {
  if (!ok) std::abort();
}

bool isTchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool validName(std::string_view n) {
  if (n.empty()) return false;
  for (unsigned char c : n) {
    if (!isTchar(c)) return false;
  }
  return true;
}

bool validValue(std::string_view v) {
  if (!v.empty() && (v.front() == ' ' || v.front() == '\t')) return false;
  if (!v.empty() && (v.back() == ' ' || v.back() == '\t')) return false;
  for (unsigned char c : v) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

struct Options {
  size_t max_header_bytes = Http1Parser::kDefaultMaxHeaderBytes;
  bool pause = false;
  bool stop_heads = false;
};

// Logs every event in a form two runs compare with ==, checking each head on the way.
struct Recorder : aiw::Http1ParserCallbacks {
  explicit Recorder(const Options& o) : opts(o) {}
  const Options& opts;
  std::string log;
  bool in_body = false;

  HeadAction onRequestHead(aiw::RequestHead& h) override {
    checkHead(h);
    in_body = false;
    log += "H[" + h.method + " " + h.target + " " + std::to_string(h.version_major) + "." +
           std::to_string(h.version_minor) + " ka" + std::to_string(h.keep_alive) + " up" +
           std::to_string(h.upgrade) + " f" + std::to_string(static_cast<int>(h.framing)) + ":" +
           std::to_string(h.content_length) + " hb" + std::to_string(h.head_bytes);
    for (const auto& f : h.headers.fields()) log += "|" + f.name + "=" + f.value;
    log += "]";
    return opts.stop_heads ? HeadAction::Stop : HeadAction::Continue;
  }
  FlowAction onBody(const char* data, size_t len) override {
    check(len > 0);
    if (!in_body) log += "B:";  // spans follow the reads: only their concatenation compares
    in_body = true;
    log.append(data, len);
    return opts.pause ? FlowAction::Pause : FlowAction::Continue;
  }
  FlowAction onMessageComplete(aiw::Headers& trailers) override {
    in_body = false;
    log += "C[";
    for (const auto& f : trailers.fields()) {
      check(validName(f.name) && validValue(f.value));
      check(!aiw::equalsIgnoreCase(f.name, "Content-Length") &&
            !aiw::equalsIgnoreCase(f.name, "Transfer-Encoding"));
      log += "|" + f.name + "=" + f.value;
    }
    log += "]";
    return opts.pause ? FlowAction::Pause : FlowAction::Continue;
  }

  void checkHead(const aiw::RequestHead& h) const {
    check(!h.method.empty() && validName(h.method));
    check(h.version_major == 1 && (h.version_minor == 0 || h.version_minor == 1));
    check(!h.target.empty());
    for (unsigned char c : h.target) check(c > 0x20 && c < 0x7f && c != '#');
    for (const auto& f : h.headers.fields()) check(validName(f.name) && validValue(f.value));
    size_t hosts = h.headers.count("Host");
    check(h.version_minor == 1 ? hosts == 1 : hosts <= 1);
    size_t lengths = h.headers.count("Content-Length");
    bool te = h.headers.has("Transfer-Encoding");
    check(lengths <= 1 && !(lengths == 1 && te));
    check(!(te && h.version_minor == 0));
    check(h.framing != BodyFraming::UntilClose);
    check((h.framing == BodyFraming::Chunked) == te);
    check((h.framing == BodyFraming::ContentLength) == (lengths == 1));
    if (h.isConnect()) check(!h.hasBody() && h.upgrade);
    check(h.head_bytes > 0 && h.head_bytes <= opts.max_header_bytes);
  }
};

struct Outcome {
  std::string log;
  std::string end;
  bool operator==(const Outcome&) const = default;
};

// Feeds one read the way a connection does: after a pause or a stop, resume and feed the rest.
// Returns false once parsing is over (an error, or the connection is closed).
bool feedRead(Http1Parser& p, std::string_view read, std::string& end) {
  size_t off = 0;
  int idle = 0;
  while (off < read.size()) {
    if (p.state() == Http1ParserState::Paused || p.state() == Http1ParserState::Stopped) {
      p.resume();
    }
    aiw::Result<size_t> r = p.feed(read.substr(off));
    if (!r) {
      check(p.state() == Http1ParserState::Failed);
      uint16_t status = p.errorStatus();
      const std::string& code = r.error().code;
      check(code == p.error().code && r.error().message == p.error().message);
      check((code == aiw::kHttp1Malformed && status == 400) ||
            (code == aiw::kHttp1HeaderTooLarge && status == 431) ||
            (code == aiw::kHttp1UnsupportedCoding && status == 501) ||
            (code == aiw::kHttp1UnsupportedVersion && status == 505));
      end = "E" + std::to_string(status) + " " + code + " " + r.error().message;
      return false;
    }
    check(*r <= read.size() - off);
    off += *r;
    if (p.state() == Http1ParserState::Closed) return false;
    // Less than everything only when the parser left Ready (pause, stop, close).
    if (off < read.size()) check(p.state() != Http1ParserState::Ready);
    idle = *r == 0 ? idle + 1 : 0;
    check(idle < 16);
  }
  return true;
}

Outcome drive(Http1Parser& p, Recorder& rec, const std::vector<std::string_view>& reads) {
  rec.log.clear();
  rec.in_body = false;
  Outcome out;
  bool open = true;
  for (std::string_view read : reads) {
    if (!(open = feedRead(p, read, out.end))) break;
  }
  if (open) {
    // Events due without more input (a completion after a pause on the last body bytes).
    for (int i = 0; p.state() == Http1ParserState::Paused || p.state() == Http1ParserState::Stopped;
         ++i) {
      check(i < 16);
      p.resume();
      aiw::Result<size_t> r = p.feed(nullptr, 0);
      if (!r) {
        out.end = "E" + std::to_string(p.errorStatus()) + " " + r.error().code;
        open = false;
        break;
      }
    }
  }
  if (open || p.state() == Http1ParserState::Closed) {
    aiw::Result<void> f = p.finish();
    out.end += f ? " fin" : " F " + f.error().code + " " + f.error().message;
    if (!f) check(f.error().code == aiw::kHttp1Incomplete && p.errorStatus() == 400);
  }
  out.log = rec.log;
  out.end += " state=" + std::to_string(static_cast<int>(p.state()));
  return out;
}

Outcome fresh(const Options& opts, const std::vector<std::string_view>& reads) {
  Recorder rec(opts);
  Http1Parser p(Http1Parser::Type::Request, rec, opts.max_header_bytes);
  return drive(p, rec, reads);
}

// AIW_FUZZ_VERBOSE=1 prints what the whole-input run saw, for reading a saved crash input.
bool verbose() {
  static const bool on = std::getenv("AIW_FUZZ_VERBOSE") != nullptr;
  return on;
}

uint64_t fnv1a(const uint8_t* data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ULL;
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  uint64_t h = fnv1a(data, size);
  Options opts;
  if ((h & 3) == 0) opts.max_header_bytes = 16 + (h >> 2) % 512;
  opts.pause = (h >> 12) & 1;
  opts.stop_heads = ((h >> 13) & 7) == 0;
  size_t a = (h >> 16) % (size + 1);
  size_t b = a + (h >> 40) % (size - a + 1);

  Recorder rec(opts);
  Http1Parser p(Http1Parser::Type::Request, rec, opts.max_header_bytes);
  if (verbose()) {
    std::fprintf(stderr, "max_header_bytes=%zu pause=%d stop=%d splits=%zu,%zu\n",
                 opts.max_header_bytes, opts.pause, opts.stop_heads, a, b);
  }
  Outcome whole = drive(p, rec, {in});
  if (verbose()) std::fprintf(stderr, "%s\n%s\n", whole.log.c_str(), whole.end.c_str());
  p.reset();
  check(drive(p, rec, {in}) == whole);  // reset() forgets everything, the error included

  check(fresh(opts, {in.substr(0, a), in.substr(a)}) == whole);
  check(fresh(opts, {in.substr(0, a), in.substr(a, b - a), in.substr(b)}) == whole);
  if (size <= 512) {
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < size; ++i) bytes.push_back(in.substr(i, 1));
    check(fresh(opts, bytes) == whole);
  }
  return 0;
}
