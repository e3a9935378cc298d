// libFuzzer target for the HTTP/1 request parser (Http1Parser::Type::Request,
// src/http/http1_parser.cc over llhttp). Built by tests/fuzz/CMakeLists.txt and run by
// `make fuzz` (docs/fuzzing.md).
//
// Input: the bytes a client sends on one connection (the seeds in corpus/http1_request/ are
// pipelined, chunked, CONNECT, upgrade and smuggling-shaped requests). A hash of the input picks
// the read splits and the driver's choices: a small max_header_bytes (one input in four), pausing
// after every body chunk and message (one in two), HeadAction::Stop for every head (one in
// eight). The driver (http1_fuzz_driver.h, shared with http1_response_fuzz.cc) does what a
// connection does: resume() after a pause or stop and feed the rest, then finish() at EOF.
// Checks, beyond "no crash, no leak, no UB":
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
  static constexpr Http1Parser::Type kType = Http1Parser::Type::Request;
  static constexpr uint16_t kIncompleteStatus = 400;

  static bool validError(const std::string& code, uint16_t status) {
    return (code == aiw::kHttp1Malformed && status == 400) ||
           (code == aiw::kHttp1HeaderTooLarge && status == 431) ||
           (code == aiw::kHttp1UnsupportedCoding && status == 501) ||
           (code == aiw::kHttp1UnsupportedVersion && status == 505);
  }

  HeadAction onRequestHead(aiw::RequestHead& h) override {
    checkHead(h);
    return logHead(h.method + " " + h.target, h);
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint64_t h = aiw_fuzz::fnv1a(data, size);
  aiw_fuzz::checkHttp1Runs<Recorder>(std::string_view(reinterpret_cast<const char*>(data), size),
                                     aiw_fuzz::http1Options(h), aiw_fuzz::splitsOf(h, size));
  return 0;
}
