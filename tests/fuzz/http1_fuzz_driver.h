// The driver shared by the Http1Parser targets (http1_request_fuzz.cc, http1_response_fuzz.cc):
// the options a hash of the input picks, the recorder's common callbacks, the feed / resume /
// finish loop a connection runs, and the comparison of the whole-input run with the split runs.
// Each target keeps what differs: its head callback (checks and log line) and the errors it
// accepts, given by its recorder:
//
//   struct Recorder : aiw_fuzz::Http1Recorder {
//     static constexpr Http1Parser::Type kType = ...;
//     static constexpr uint16_t kIncompleteStatus = ...;  // finish() before a message's end
//     static bool validError(const std::string& code, uint16_t status);
//     HeadAction onRequestHead(RequestHead&) override;    // or onResponseHead
//   };
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "http/http1_parser.h"

namespace aiw_fuzz {

inline bool isTchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

inline bool validName(std::string_view n) {
  if (n.empty()) return false;
  for (unsigned char c : n) {
    if (!isTchar(c)) return false;
  }
  return true;
}

inline bool validValue(std::string_view v) {
  if (!v.empty() && (v.front() == ' ' || v.front() == '\t')) return false;
  if (!v.empty() && (v.back() == ' ' || v.back() == '\t')) return false;
  for (unsigned char c : v) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

struct Http1Options {
  size_t max_header_bytes = aiw::Http1Parser::kDefaultMaxHeaderBytes;
  bool pause = false;
  bool stop_heads = false;
  bool skip_body = false;  // responses only: every response answers a HEAD request
};

// The options both targets take from the hash: a small max_header_bytes (one input in four),
// pausing after every body chunk and message (one in two), HeadAction::Stop for every head (one
// in eight). The response target adds skip_body from bits 56-57; bits 16 and up are the splits.
inline Http1Options http1Options(uint64_t h) {
  Http1Options opts;
  if ((h & 3) == 0) opts.max_header_bytes = 16 + (h >> 2) % 512;
  opts.pause = (h >> 12) & 1;
  opts.stop_heads = ((h >> 13) & 7) == 0;
  return opts;
}

// Logs every event in a form two runs compare with ==; the target's head callback checks each
// head and logs it with logHead().
struct Http1Recorder : aiw::Http1ParserCallbacks {
  explicit Http1Recorder(const Http1Options& o) : opts(o) {}
  const Http1Options& opts;
  std::string log;
  bool in_body = false;

  // `first` is what the start line holds besides the version (method and target, or status and
  // reason).
  template <class Head>
  aiw::HeadAction logHead(const std::string& first, const Head& h) {
    in_body = false;
    log += "H[" + first + " " + std::to_string(h.version_major) + "." +
           std::to_string(h.version_minor) + " ka" + std::to_string(h.keep_alive) + " up" +
           std::to_string(h.upgrade) + " f" + std::to_string(static_cast<int>(h.framing)) + ":" +
           std::to_string(h.content_length) + " hb" + std::to_string(h.head_bytes);
    for (const auto& f : h.headers.fields()) log += "|" + f.name + "=" + f.value;
    log += "]";
    if (opts.stop_heads) return aiw::HeadAction::Stop;
    return opts.skip_body ? aiw::HeadAction::SkipBody : aiw::HeadAction::Continue;
  }

  aiw::FlowAction onBody(const char* data, size_t len) override {
    check(len > 0);
    if (!in_body) log += "B:";  // spans follow the reads: only their concatenation compares
    in_body = true;
    log.append(data, len);
    return opts.pause ? aiw::FlowAction::Pause : aiw::FlowAction::Continue;
  }
  aiw::FlowAction onMessageComplete(aiw::Headers& trailers) override {
    in_body = false;
    log += "C[";
    for (const auto& f : trailers.fields()) {
      check(validName(f.name) && validValue(f.value));
      check(!aiw::equalsIgnoreCase(f.name, "Content-Length") &&
            !aiw::equalsIgnoreCase(f.name, "Transfer-Encoding"));
      log += "|" + f.name + "=" + f.value;
    }
    log += "]";
    return opts.pause ? aiw::FlowAction::Pause : aiw::FlowAction::Continue;
  }
};

struct Http1Outcome {
  std::string log;
  std::string end;
  bool operator==(const Http1Outcome&) const = default;
};

// Feeds one read the way a connection does: after a pause or a stop, resume and feed the rest.
// Returns false once parsing is over (an error, or the connection is closed).
template <class Recorder>
bool feedRead(aiw::Http1Parser& p, std::string_view read, std::string& end) {
  using aiw::Http1ParserState;
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
      check(Recorder::validError(code, status));
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

template <class Recorder>
Http1Outcome drive(aiw::Http1Parser& p, Recorder& rec, const std::vector<std::string_view>& reads) {
  using aiw::Http1ParserState;
  rec.log.clear();
  rec.in_body = false;
  Http1Outcome out;
  bool open = true;
  for (std::string_view read : reads) {
    if (!(open = feedRead<Recorder>(p, read, out.end))) break;
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
    if (!f) {
      check(f.error().code == aiw::kHttp1Incomplete &&
            p.errorStatus() == Recorder::kIncompleteStatus);
    }
  }
  out.log = rec.log;
  out.end += " state=" + std::to_string(static_cast<int>(p.state()));
  return out;
}

template <class Recorder>
Http1Outcome fresh(const Http1Options& opts, const std::vector<std::string_view>& reads) {
  Recorder rec(opts);
  aiw::Http1Parser p(Recorder::kType, rec, opts.max_header_bytes);
  return drive(p, rec, reads);
}

// The body of LLVMFuzzerTestOneInput: the whole input, again after reset() on the used parser,
// then the split runs on fresh parsers, all with the same outcome.
template <class Recorder>
void checkHttp1Runs(std::string_view in, const Http1Options& opts, Splits splits) {
  Recorder rec(opts);
  aiw::Http1Parser p(Recorder::kType, rec, opts.max_header_bytes);
  if (verbose()) {
    std::fprintf(stderr, "max_header_bytes=%zu pause=%d stop=%d", opts.max_header_bytes, opts.pause,
                 opts.stop_heads);
    if (Recorder::kType == aiw::Http1Parser::Type::Response) {
      std::fprintf(stderr, " skip_body=%d", opts.skip_body);
    }
    std::fprintf(stderr, " splits=%zu,%zu\n", splits.a, splits.b);
  }
  Http1Outcome whole = drive(p, rec, {in});
  if (verbose()) std::fprintf(stderr, "%s\n%s\n", whole.log.c_str(), whole.end.c_str());
  p.reset();
  check(drive(p, rec, {in}) == whole);  // reset() forgets everything, the error included

  for (const auto& reads : splitReads(in, splits)) check(fresh<Recorder>(opts, reads) == whole);
}

}  // namespace aiw_fuzz
