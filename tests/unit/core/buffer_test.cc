// Buffer: an owning byte queue over evbuffer.
#include "core/buffer.h"

#include <doctest/doctest.h>
#include <event2/buffer.h>

#include <string>
#include <utility>

namespace aiw {
namespace {

using namespace std::string_literals;

// A buffer made of several evbuffer chains (each moved-in buffer keeps its own chain), so that
// view() has to make bytes contiguous.
Buffer chained(std::initializer_list<std::string> parts) {
  Buffer out;
  for (const auto& p : parts) {
    Buffer piece;
    piece.append(p);
    out.moveFrom(piece);
  }
  return out;
}

TEST_CASE("appends bytes, NULs included, and reads them back") {
  Buffer b;
  CHECK(b.empty());
  CHECK(b.size() == 0);
  CHECK(b.toString().empty());
  b.append("hello");
  b.append(" \0world"s);
  const unsigned char raw[] = {0xff, 0x00, 0x7f};
  b.append(raw, sizeof raw);
  CHECK(b.size() == 15);
  CHECK(b.toString() == "hello \0world\xff\0\x7f"s);
  CHECK(b.toString() == b.toString());  // reading does not consume
}

TEST_CASE("moveFrom takes every byte of the other buffer, which ends empty") {
  Buffer a, b;
  a.append("head:");
  b.append("tail");
  a.moveFrom(b);
  CHECK(a.toString() == "head:tail");
  CHECK(b.empty());
  b.append("again");  // the emptied buffer is still usable
  CHECK(b.toString() == "again");

  evbuffer* raw = evbuffer_new();
  REQUIRE(raw != nullptr);
  evbuffer_add(raw, "+raw", 4);
  a.moveFrom(raw);
  CHECK(a.toString() == "head:tail+raw");
  CHECK(evbuffer_get_length(raw) == 0);
  evbuffer_free(raw);
}

TEST_CASE("drain removes bytes from the front, never more than there are") {
  Buffer b;
  b.append("0123456789");
  b.drain(3);
  CHECK(b.toString() == "3456789");
  b.drain(0);
  CHECK(b.size() == 7);
  b.drain(100);
  CHECK(b.empty());
  b.append("x");
  b.clear();
  CHECK(b.empty());
}

TEST_CASE("view gives the first bytes contiguous, across chains") {
  Buffer b = chained({"ab", "cd", "ef"});
  CHECK(b.size() == 6);
  CHECK(b.view(3) == "abc");
  CHECK(b.view(5) == "abcde");
  CHECK(b.view() == "abcdef");
  CHECK(b.view(1000) == "abcdef");
  CHECK(b.view(0).empty());
  CHECK(b.size() == 6);  // viewing consumes nothing
  Buffer empty;
  CHECK(empty.view().empty());
}

TEST_CASE("a view can be rewritten through raw() by a filter") {
  Buffer b = chained({"secret=", "AKIA1234"});
  // Replace the body the way a filter does: drain and append.
  std::string body(b.view());
  body.replace(body.find("AKIA1234"), 8, "[redacted]");
  b.clear();
  b.append(body);
  CHECK(b.toString() == "secret=[redacted]");
  CHECK(evbuffer_get_length(b.raw()) == b.size());
}

TEST_CASE("moving a buffer moves its bytes and leaves the source empty and usable") {
  Buffer a;
  a.append("payload");
  Buffer b(std::move(a));
  CHECK(b.toString() == "payload");
  CHECK(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  a.append("reused");
  CHECK(a.toString() == "reused");

  Buffer c;
  c.append("old content");
  c = std::move(b);
  CHECK(c.toString() == "payload");  // the old content is dropped, not kept in front
  CHECK(b.empty());  // NOLINT(bugprone-use-after-move)

  Buffer& self = c;
  c = std::move(self);
  CHECK(c.toString() == "payload");
}

TEST_CASE("an unused buffer owns no evbuffer until something needs one") {
  Buffer unused;
  CHECK(unused.empty());
  unused.drain(5);  // nothing to drain, nothing made
  unused.append("");
  CHECK(unused.view().empty());
  CHECK(unused.toString().empty());
  Buffer other;
  other.moveFrom(unused);  // an empty source gives nothing
  CHECK(other.empty());
  evbuffer* raw = unused.raw();  // made on demand, then the same one
  REQUIRE(raw != nullptr);
  CHECK(unused.raw() == raw);
  evbuffer_add(raw, "via raw", 7);
  CHECK(unused.toString() == "via raw");
}

TEST_CASE("moveFrom into an unused buffer hands the whole queue over") {
  Buffer source;
  source.append("first ");
  source.append("second");
  evbuffer* queue = source.raw();
  Buffer target;
  target.moveFrom(source);
  CHECK(target.toString() == "first second");
  CHECK(target.raw() == queue);  // no copy, no new evbuffer
  CHECK(source.empty());
  source.append("again");
  CHECK(source.toString() == "again");
  CHECK(source.raw() != queue);
}

TEST_CASE("move assignment from an unused buffer empties the target") {
  Buffer target;
  target.append("stale");
  Buffer unused;
  target = std::move(unused);
  CHECK(target.empty());
  target.append("fresh");
  CHECK(target.toString() == "fresh");
}

}  // namespace
}  // namespace aiw
