// libFuzzer target for the HTTP/1 response parser (Http1Parser::Type::Response,
// src/http/http1_parser.cc over llhttp): what an upstream sends on one connection. Built by
// tests/fuzz/CMakeLists.txt and run by `make fuzz` (docs/fuzzing.md). The driver is the one of
// http1_request_fuzz.cc (http1_fuzz_driver.h); a hash of the input picks the read splits, a
// small max_header_bytes (one input in four), pausing (one in two), and per head
// HeadAction::SkipBody (a response to HEAD, one in four) or HeadAction::Stop (one in eight).
// Checks, beyond "no crash, no leak, no UB":
//  * the same heads, body bytes, trailers, completions, final state and error whether the input
//    is fed whole, in two reads, in three, or (short inputs) one byte per read; and again after
//    reset() on a used parser;
//  * feed() consumes everything unless it leaves Ready; it never livelocks;
//  * every delivered head keeps the promises of message_head.h: status 100-599, version 1.0 or
//    1.1, a reason without controls, valid field names and trimmed values, at most one
//    Content-Length and never with Transfer-Encoding, no Transfer-Encoding in 1.0, framing None
//    for 1xx/204/304 and else matching the fields (UntilClose without either, and then no
//    keep-alive), upgrade exactly for 101, head_bytes within max_header_bytes;
//  * errors carry one of the documented codes, always with status 502.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http1_fuzz_driver.h"

namespace {

using aiw::BodyFraming;
using aiw::HeadAction;
using aiw::Http1Parser;
using aiw_fuzz::check;
using aiw_fuzz::validName;
using aiw_fuzz::validValue;

struct Recorder : aiw_fuzz::Http1Recorder {
  using Http1Recorder::Http1Recorder;
  static constexpr Http1Parser::Type kType = Http1Parser::Type::Response;
  static constexpr uint16_t kIncompleteStatus = 502;

  static bool validError(const std::string& code, uint16_t status) {
    return status == 502 &&
           (code == aiw::kHttp1Malformed || code == aiw::kHttp1HeaderTooLarge ||
            code == aiw::kHttp1UnsupportedCoding || code == aiw::kHttp1UnsupportedVersion);
  }

  HeadAction onResponseHead(aiw::ResponseHead& h) override {
    checkHead(h);
    return logHead(std::to_string(h.status) + " " + h.reason, h);
  }

  void checkHead(const aiw::ResponseHead& h) const {
    check(h.status >= 100 && h.status <= 599);
    check(h.version_major == 1 && (h.version_minor == 0 || h.version_minor == 1));
    for (unsigned char c : h.reason) check((c >= 0x20 || c == '\t') && c != 0x7f);
    for (const auto& f : h.headers.fields()) check(validName(f.name) && validValue(f.value));
    size_t lengths = h.headers.count("Content-Length");
    bool te = h.headers.has("Transfer-Encoding");
    check(lengths <= 1 && !(lengths == 1 && te));
    check(!(te && h.version_minor == 0));
    if (h.isInformational() || h.status == 204 || h.status == 304) {
      check(h.framing == BodyFraming::None);
    } else {
      check((h.framing == BodyFraming::Chunked) == te);
      check((h.framing == BodyFraming::ContentLength) == (lengths == 1));
      check((h.framing == BodyFraming::UntilClose) == (!te && lengths == 0));
    }
    if (h.framing == BodyFraming::UntilClose) check(!h.keep_alive);
    check(h.upgrade == (h.status == 101));
    check(h.head_bytes > 0 && h.head_bytes <= opts.max_header_bytes);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint64_t h = aiw_fuzz::fnv1a(data, size);
  aiw_fuzz::Http1Options opts = aiw_fuzz::http1Options(h);
  opts.skip_body = ((h >> 56) & 3) == 0;  // one response in four answers a HEAD request
  aiw_fuzz::checkHttp1Runs<Recorder>(std::string_view(reinterpret_cast<const char*>(data), size),
                                     opts, aiw_fuzz::splitsOf(h, size));
  return 0;
}
