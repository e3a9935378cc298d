// libFuzzer target for SseParser (src/http/sse_parser.cc). Built by tests/fuzz/CMakeLists.txt and
// run by `make fuzz` (docs/fuzzing.md).
//
// Input: the bytes of an event stream, as a server would send them (the seeds in
// corpus/sse_parser/ are real-looking OpenAI and Anthropic streams). A hash of the input picks
// where reads split and, for one input in four, a small max_event_bytes so the error path is
// exercised too. Checks, beyond "no crash, no leak, no UB":
//  * the same events, comments, error and finish() answer whether the input is fed whole, in
//    two reads, in three reads, or (short inputs) one byte per read;
//  * when no error happened, exactly the events and comments of a plain, literal transcription
//    of the WHATWG algorithm below (a second implementation, slow and obvious);
//  * every event holds the format's promises: a non-empty type, no CR or LF in type and id, no
//    CR in data, no NUL in id, nothing larger than the bound; errors are sticky.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "http/sse_parser.h"

namespace {

using aiw_fuzz::check;
using aiw_fuzz::verbose;

struct Outcome {
  std::string log;  // events and comments in order
  bool ok = true;
  bool incomplete = false;
  uint64_t events = 0;
};

void logEvent(std::string& log, std::string_view type, std::string_view data, std::string_view id,
              bool has_id, std::optional<uint32_t> retry) {
  log += "E";
  for (std::string_view part : {type, data, id}) {
    log += std::to_string(part.size()) + ":";
    log += part;
  }
  log += has_id ? "i" : "-";
  if (retry) log += "r" + std::to_string(*retry);
  log += ";";
}

void logComment(std::string& log, std::string_view text) {
  log += "C" + std::to_string(text.size()) + ":";
  log += text;
  log += ";";
}

Outcome runParser(const std::vector<std::string_view>& reads, size_t max) {
  Outcome out;
  aiw::SseParser parser(
      [&](const aiw::SseEvent& e) {
        check(!e.type.empty());
        check(e.type.find_first_of("\r\n") == std::string::npos);
        check(e.id.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
        check(e.data.find('\r') == std::string::npos);
        // The bound counts what the parser holds; the default type is filled in at dispatch.
        check(e.data.size() + e.id.size() + (e.type == "message" ? 0 : e.type.size()) <= max);
        logEvent(out.log, e.type, e.data, e.id, e.has_id, e.retry);
      },
      [&](std::string_view c) {
        check(c.find_first_of("\r\n") == std::string_view::npos);
        check(c.size() <= max);
        logComment(out.log, c);
      },
      max);
  for (std::string_view r : reads) {
    aiw::Result<void> fed = parser.feed(r);
    if (!fed) {
      check(fed.error().code == "sse_too_large");
      aiw::Result<void> again = parser.feed("data: x\n\n");  // sticky, and parses nothing
      check(!again && again.error().code == "sse_too_large");
      out.ok = false;
      break;
    }
  }
  out.events = parser.eventsDispatched();
  out.incomplete = parser.finish();
  check(out.ok || out.incomplete);      // after an error, bytes were lost
  if (out.ok) check(!parser.finish());  // the first finish() discarded what was pending
  return out;
}

// The WHATWG algorithm, step by step as written, on the whole input at once (no bound).
Outcome reference(std::string_view s) {
  Outcome out;
  if (s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  std::string data, type, last_id;
  bool has_id = false;
  std::optional<uint32_t> retry;
  size_t i = 0;
  while (true) {
    size_t j = s.find_first_of("\r\n", i);
    if (j == std::string_view::npos) break;  // a line without its end is discarded
    std::string_view line = s.substr(i, j - i);
    i = j + 1;
    if (s[j] == '\r' && i < s.size() && s[i] == '\n') ++i;
    if (line.empty()) {  // dispatch
      if (!data.empty()) {
        data.pop_back();  // the LF after the last data line
        logEvent(out.log, type.empty() ? "message" : type, data, last_id, has_id, retry);
        ++out.events;
      }
      data.clear();
      type.clear();
      has_id = false;
      retry.reset();
      continue;
    }
    if (line[0] == ':') {
      std::string_view c = line.substr(1);
      if (!c.empty() && c[0] == ' ') c.remove_prefix(1);
      logComment(out.log, c);
      continue;
    }
    std::string_view name = line, value;
    if (size_t colon = line.find(':'); colon != std::string_view::npos) {
      name = line.substr(0, colon);
      value = line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    }
    if (name == "event") {
      type = value;
    } else if (name == "data") {
      data += value;
      data += '\n';
    } else if (name == "id") {
      if (value.find('\0') == std::string_view::npos) {
        last_id = value;
        has_id = true;
      }
    } else if (name == "retry") {
      // This project's reading: non-empty, digits only (leading zeros too), within uint32_t.
      std::string_view digits = value.substr(std::min(value.find_first_not_of('0'), value.size()));
      bool ok = !value.empty() && value.find_first_not_of("0123456789") == std::string_view::npos;
      if (ok && (digits.size() < 10 || (digits.size() == 10 && digits <= "4294967295"))) {
        retry = digits.empty() ? 0u : static_cast<uint32_t>(std::stoul(std::string(digits)));
      }
    }
  }
  out.incomplete = !data.empty() || !type.empty() || has_id || retry.has_value() || i < s.size();
  return out;
}

bool same(const Outcome& a, const Outcome& b) {
  return a.log == b.log && a.ok == b.ok && a.incomplete == b.incomplete && a.events == b.events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  uint64_t h = aiw_fuzz::fnv1a(data, size);
  size_t max = (h & 3) == 0 ? 8 + (h >> 8) % 256 : size_t{1} << 20;
  aiw_fuzz::Splits splits = aiw_fuzz::splitsOf(h, size);

  if (verbose()) std::fprintf(stderr, "max=%zu splits=%zu,%zu\n", max, splits.a, splits.b);
  Outcome whole = runParser({in}, max);
  if (verbose()) {
    std::fprintf(stderr, "ok=%d incomplete=%d events=%llu\n%s\n", whole.ok, whole.incomplete,
                 static_cast<unsigned long long>(whole.events), whole.log.c_str());
  }
  for (const auto& reads : aiw_fuzz::splitReads(in, splits)) {
    check(same(whole, runParser(reads, max)));
  }
  if (whole.ok) {
    Outcome ref = reference(in);
    check(same(whole, ref));
  }
  return 0;
}
