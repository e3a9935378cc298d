// SseParser against the WHATWG "event stream interpretation" rules, and against the network:
// the same bytes must give the same events however they are split into reads.
#include "http/sse_parser.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aiw {
namespace {

// Everything a parser reported, in order, so two runs compare with ==.
struct Run {
  std::vector<SseEvent> events;
  std::vector<std::string> comments;
  std::string log;  // events and comments interleaved, in a printable form
  bool ok = true;
  std::string error_code;
  bool incomplete = false;
};

std::string describe(const SseEvent& e) {
  std::string s = "E[" + e.type + "|" + e.data + "|" + e.id + "|" + (e.has_id ? "id" : "-");
  if (e.retry) s += "|r" + std::to_string(*e.retry);
  return s + "]";
}

// Feeds `chunks` one after the other, stops at the first error, then calls finish().
Run parseChunks(const std::vector<std::string_view>& chunks, size_t max = 1 << 20) {
  Run run;
  SseParser parser(
      [&](const SseEvent& e) {
        run.events.push_back(e);
        run.log += describe(e);
      },
      [&](std::string_view c) {
        run.comments.emplace_back(c);
        run.log += "C[" + std::string(c) + "]";
      },
      max);
  for (std::string_view c : chunks) {
    Result<void> r = parser.feed(c);
    if (!r) {
      run.ok = false;
      run.error_code = r.error().code;
      break;
    }
  }
  run.incomplete = parser.finish();
  CHECK(parser.eventsDispatched() == run.events.size());
  return run;
}

Run parse(std::string_view s, size_t max = 1 << 20) { return parseChunks({s}, max); }

// Every read pattern a test compares with the single read: one split at every position, one
// byte per read, and three pieces at spread positions.
void checkSplitsAgree(const std::string& stream) {
  Run whole = parse(stream);
  for (size_t i = 0; i <= stream.size(); ++i) {
    std::string_view s(stream);
    Run split = parseChunks({s.substr(0, i), s.substr(i)});
    REQUIRE_MESSAGE(split.log == whole.log, "split at " << i);
    REQUIRE(split.incomplete == whole.incomplete);
    REQUIRE(split.ok == whole.ok);
  }
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < stream.size(); ++i) bytes.push_back(std::string_view(stream).substr(i, 1));
  Run bytewise = parseChunks(bytes);
  CHECK(bytewise.log == whole.log);
  CHECK(bytewise.incomplete == whole.incomplete);
  for (size_t i = 0; i < stream.size(); i += 7) {
    size_t j = i + (stream.size() - i) / 2;
    std::string_view s(stream);
    Run three = parseChunks({s.substr(0, i), s.substr(i, j - i), s.substr(j)});
    REQUIRE_MESSAGE(three.log == whole.log, "split at " << i << " and " << j);
  }
}

std::string withLineEnds(std::string_view lf_stream, std::string_view eol) {
  std::string out;
  for (char c : lf_stream) {
    if (c == '\n') {
      out += eol;
    } else {
      out += c;
    }
  }
  return out;
}

// Shaped like OpenAI's chat completions stream (data-only events ending with [DONE]).
constexpr std::string_view kOpenAiStream =
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo \xC3\xA9"
    "\\n\"}}]}\n\n"
    ": keep-alive\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"choices\":[{\"index\":0,\"delta\":{},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n"
    "data: [DONE]\n\n";

// Shaped like Anthropic's messages stream (named events, a ping, an error-free end).
constexpr std::string_view kAnthropicStream =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"role\":\"assistant\","
    "\"model\":\"claude-sonnet-4\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Hello\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"!\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
    "\"usage\":{\"output_tokens\":15}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

// Every rule at once: BOM, ids, retry, comments, multi-line data, unknown fields, no-data blocks.
constexpr std::string_view kEveryRuleStream =
    "\xEF\xBB\xBF: hello\n"
    "retry: 2500\n"
    "id: 1\n"
    "event: first\n"
    "data: a\n"
    "data\n"
    "data:  b\n\n"
    "id\n\n"
    "event: dropped\n\n"
    "unknown: x\n"
    "data:c:d\n\n"
    "data: tail";

TEST_CASE("dispatches a data event with the default type at a blank line") {
  Run r = parse("data: hello\n\n");
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].type == "message");
  CHECK(r.events[0].data == "hello");
  CHECK(r.events[0].id.empty());
  CHECK_FALSE(r.events[0].has_id);
  CHECK_FALSE(r.events[0].retry.has_value());
  CHECK_FALSE(r.incomplete);
}

TEST_CASE("removes exactly one space after the colon") {
  Run r = parse("data:x\n\ndata: x\n\ndata:  x\n\ndata:\tx\n\n");
  REQUIRE(r.events.size() == 4);
  CHECK(r.events[0].data == "x");
  CHECK(r.events[1].data == "x");
  CHECK(r.events[2].data == " x");
  CHECK(r.events[3].data == "\tx");
}

TEST_CASE("splits a field at the first colon only") {
  Run r = parse("data: a: b:c\n\n");
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].data == "a: b:c");
}

TEST_CASE("takes a line without a colon as a field name with an empty value") {
  Run r = parse("data\n\n");
  REQUIRE(r.events.size() == 1);  // the data buffer got a line, empty
  CHECK(r.events[0].data.empty());
  Run two = parse("data\ndata\n\n");
  REQUIRE(two.events.size() == 1);
  CHECK(two.events[0].data == "\n");
  Run event_only = parse("event\ndata: x\n\n");
  REQUIRE(event_only.events.size() == 1);
  CHECK(event_only.events[0].type == "message");
}

TEST_CASE("ignores unknown fields, field names in another case and names with spaces") {
  Run r = parse("foo: bar\nData: no\ndata : no\n DATA: no\nevent : no\ndata: yes\n\n");
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].data == "yes");
  CHECK(r.events[0].type == "message");
}

TEST_CASE("joins data lines with a line feed and keeps empty ones") {
  Run r = parse("data: a\ndata:\ndata: b\ndata\n\n");
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].data == "a\n\nb\n");
}

TEST_CASE("takes the event type from the event field, and message when it is empty") {
  Run r = parse("event: delta\ndata: 1\n\nevent:\ndata: 2\n\nevent: a\nevent: b\ndata: 3\n\n");
  REQUIRE(r.events.size() == 3);
  CHECK(r.events[0].type == "delta");
  CHECK(r.events[1].type == "message");
  CHECK(r.events[2].type == "b");
}

TEST_CASE("resets the event type after each event, dispatched or not") {
  Run r = parse("event: a\ndata: 1\n\ndata: 2\n\nevent: lost\n\ndata: 3\n\n");
  REQUIRE(r.events.size() == 3);
  CHECK(r.events[0].type == "a");
  CHECK(r.events[1].type == "message");
  CHECK(r.events[2].type == "message");
}

TEST_CASE("does not dispatch an event without a data field") {
  Run r = parse("event: ping\n\nid: 4\n\nretry: 10\n\n: comment\n\n\n\n");
  CHECK(r.events.empty());
  CHECK_FALSE(r.incomplete);
}

TEST_CASE("keeps the last event id across events and marks the events that set it") {
  Run r = parse("id: 7\ndata: a\n\ndata: b\n\nid: 8\n\ndata: c\n\nid\ndata: d\n\n");
  REQUIRE(r.events.size() == 4);
  CHECK(r.events[0].id == "7");
  CHECK(r.events[0].has_id);
  CHECK(r.events[1].id == "7");
  CHECK_FALSE(r.events[1].has_id);
  CHECK(r.events[2].id == "8");  // set by a data-less block, which still updates the id
  CHECK_FALSE(r.events[2].has_id);
  CHECK(r.events[3].id.empty());  // an empty id resets it
  CHECK(r.events[3].has_id);
}

TEST_CASE("ignores an id containing NUL") {
  using namespace std::string_literals;
  Run r = parse("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n"s);
  REQUIRE(r.events.size() == 2);
  CHECK(r.events[1].id == "1");
  CHECK_FALSE(r.events[1].has_id);
}

TEST_CASE("passes NUL and non-UTF-8 bytes in data through unchanged") {
  using namespace std::string_literals;
  Run r = parse("data: a\0b\xFF\xC3\n\n"s);
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].data == "a\0b\xFF\xC3"s);
}

TEST_CASE("takes retry only when it is all ASCII digits") {
  Run r = parse(
      "retry: 3000\ndata: a\n\n"
      "retry: 30a\ndata: b\n\n"
      "retry: -1\ndata: c\n\n"
      "retry:\ndata: d\n\n"
      "retry:  5\ndata: e\n\n"
      "retry: 4294967295\ndata: f\n\n"
      "retry: 4294967296\ndata: g\n\n"
      "retry: 0\ndata: h\n\n"
      "data: i\n\n"
      "retry: 000000000000000000007\ndata: j\n\n");
  REQUIRE(r.events.size() == 10);
  CHECK(r.events[0].retry == 3000u);
  CHECK_FALSE(r.events[1].retry.has_value());
  CHECK_FALSE(r.events[2].retry.has_value());
  CHECK_FALSE(r.events[3].retry.has_value());
  CHECK_FALSE(r.events[4].retry.has_value());  // " 5" after the one removed space
  CHECK(r.events[5].retry == 4294967295u);
  CHECK_FALSE(r.events[6].retry.has_value());  // beyond uint32_t: ignored, not clamped
  CHECK(r.events[7].retry == 0u);
  CHECK_FALSE(r.events[8].retry.has_value());  // retry belongs to one event
  CHECK(r.events[9].retry == 7u);              // leading zeros are digits like any other
}

TEST_CASE("reports comments with one leading space removed, without ending the event") {
  Run r = parse(": keep-alive\n:\n:  two\n:x:y\ndata: a\n: inside\ndata: b\n\n");
  REQUIRE(r.comments.size() == 5);
  CHECK(r.comments[0] == "keep-alive");
  CHECK(r.comments[1].empty());
  CHECK(r.comments[2] == " two");
  CHECK(r.comments[3] == "x:y");
  CHECK(r.comments[4] == "inside");
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].data == "a\nb");
  CHECK(r.log == "C[keep-alive]C[]C[ two]C[x:y]C[inside]E[message|a\nb||-]");
}

TEST_CASE("works without a comment callback or an event callback") {
  SseParser parser(nullptr);
  CHECK(parser.feed(": c\ndata: x\n\n").ok());
  CHECK(parser.eventsDispatched() == 1);
}

TEST_CASE("accepts LF, CR and CRLF line ends, mixed") {
  const std::string expected = "E[message|a\nb||-]E[t|c||-]";
  CHECK(parse("data: a\ndata: b\n\nevent: t\ndata: c\n\n").log == expected);
  CHECK(parse("data: a\rdata: b\r\revent: t\rdata: c\r\r").log == expected);
  CHECK(parse("data: a\r\ndata: b\r\n\r\nevent: t\r\ndata: c\r\n\r\n").log == expected);
  CHECK(parse("data: a\rdata: b\r\n\nevent: t\r\ndata: c\n\r\n").log == expected);
}

TEST_CASE("takes LF after CR as one line end, and LF CR as two") {
  CHECK(parse("data: a\r\ndata: b\r\n\r\n").events.size() == 1);
  Run lf_cr = parse("data: a\n\rdata: b\n\n");
  REQUIRE(lf_cr.events.size() == 2);
  CHECK(lf_cr.events[0].data == "a");
}

TEST_CASE("takes a CRLF split between two reads as one line end") {
  Run r = parseChunks({"data: a\r", "\ndata: b\r", "\n\r", "\n"});
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].data == "a\nb");
  // A CR at the end of a read followed by a CR is still two line ends.
  Run cr_cr = parseChunks({"data: a\r", "\r"});
  CHECK(cr_cr.events.size() == 1);
  // An empty read between CR and LF changes nothing.
  Run empty = parseChunks({"data: a\r", "", "\n\r", "", "\n"});
  CHECK(empty.events.size() == 1);
}

TEST_CASE("skips one leading UTF-8 BOM, also when it arrives split") {
  const std::string bom = "\xEF\xBB\xBF";
  CHECK(parse(bom + "data: a\n\n").log == "E[message|a||-]");
  const std::string third = "\xBF" + std::string("da");
  CHECK(parseChunks({"\xEF", "\xBB", third, "ta: a\n\n"}).log == "E[message|a||-]");
  // A second BOM is part of the first field's name, which is then unknown.
  CHECK(parse(bom + bom + "data: a\n\ndata: b\n\n").log == "E[message|b||-]");
  // A BOM later in the stream is data like any other bytes.
  CHECK(parse("data: \xEF\xBB\xBF\n\n").events.at(0).data == "\xEF\xBB\xBF");
  // Bytes that start like a BOM and then differ belong to the first line.
  CHECK(parseChunks({"\xEF\xBB", "x: 1\ndata: a\n\n"}).log == "E[message|a||-]");
  CHECK(parseChunks({"\xEF", "\ndata: a\n\n"}).log == "E[message|a||-]");
  CHECK(parse("\ndata: a\n\n").log == "E[message|a||-]");
}

TEST_CASE("fails with sse_too_large on a line longer than the bound, and stays failed") {
  std::string big = "data: " + std::string(100, 'x') + "\n\n";
  Run exact = parse(big, 106);
  CHECK(exact.ok);
  CHECK(exact.events.size() == 1);
  Run over = parse(big, 105);
  CHECK_FALSE(over.ok);
  CHECK(over.error_code == "sse_too_large");
  CHECK(over.events.empty());

  // Without a line end yet: the bytes buffered so far already exceed the bound.
  SseParser parser(nullptr, nullptr, 64);
  CHECK(parser.feed("data: " + std::string(50, 'x')).ok());
  Result<void> r = parser.feed(std::string(50, 'y'));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "sse_too_large");
  Result<void> again = parser.feed("\n\ndata: small\n\n");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == "sse_too_large");
  CHECK(parser.eventsDispatched() == 0);
  CHECK(parser.finish());  // bytes were lost
}

TEST_CASE("fails with sse_too_large on an event that grows past the bound") {
  std::string lines;
  for (int i = 0; i < 20; ++i) lines += "data: 0123456789\n";
  Run over = parse(lines + "\n", 100);
  CHECK_FALSE(over.ok);
  CHECK(over.error_code == "sse_too_large");
  // The same lines as separate events stay within it: the bound is per event.
  std::string events;
  for (int i = 0; i < 20; ++i) events += "data: 0123456789\n\n";
  Run fine = parse(events, 100);
  CHECK(fine.ok);
  CHECK(fine.events.size() == 20);
  // A long comment is bounded as a line but adds nothing to the event.
  Run comment = parse(": " + std::string(90, 'c') + "\ndata: x\n\n", 100);
  CHECK(comment.ok);
}

TEST_CASE("drops an event whose blank line never came, and finish() says so") {
  Run pending = parse("data: a\n\ndata: b\n");
  CHECK(pending.events.size() == 1);
  CHECK(pending.incomplete);
  Run partial_line = parse("data: a\n\ndata: b");
  CHECK(partial_line.events.size() == 1);
  CHECK(partial_line.incomplete);
  Run named = parse("event: x\n");
  CHECK(named.incomplete);
  Run clean = parse("data: a\n\n: bye\n");
  CHECK_FALSE(clean.incomplete);
  Run nothing = parse("");
  CHECK_FALSE(nothing.incomplete);
  Run bom_only = parse("\xEF\xBB\xBF");
  CHECK_FALSE(bom_only.incomplete);

  SseParser parser(nullptr);
  CHECK(parser.feed("data: a\n").ok());
  CHECK(parser.finish());
  CHECK_FALSE(parser.finish());  // the pending event was discarded
  CHECK(parser.eventsDispatched() == 0);
}

TEST_CASE("gives the same events for an OpenAI-style stream split at every byte") {
  Run r = parse(kOpenAiStream);
  REQUIRE(r.events.size() == 5);
  CHECK(r.events.back().data == "[DONE]");
  CHECK(r.events[2].data.find("lo \xC3\xA9\\n") != std::string::npos);
  CHECK(r.comments == std::vector<std::string>{"keep-alive"});
  checkSplitsAgree(std::string(kOpenAiStream));
  checkSplitsAgree(withLineEnds(kOpenAiStream, "\r\n"));
}

TEST_CASE("gives the same events for an Anthropic-style stream split at every byte") {
  Run r = parse(kAnthropicStream);
  REQUIRE(r.events.size() == 8);
  CHECK(r.events[0].type == "message_start");
  CHECK(r.events[2].type == "ping");
  CHECK(r.events[7].type == "message_stop");
  checkSplitsAgree(std::string(kAnthropicStream));
  checkSplitsAgree(withLineEnds(kAnthropicStream, "\r"));
}

TEST_CASE("gives the same events for a stream using every rule split at every byte") {
  Run r = parse(kEveryRuleStream);
  CHECK(r.log == "C[hello]E[first|a\n\n b|1|id|r2500]E[message|c:d||-]");
  CHECK(r.incomplete);
  for (std::string_view eol : {"\n", "\r", "\r\n"}) {
    std::string s = withLineEnds(kEveryRuleStream, eol);
    CHECK(parse(s).log == r.log);
    checkSplitsAgree(s);
  }
}

}  // namespace
}  // namespace aiw
