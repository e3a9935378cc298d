// Headers: ordered fields, duplicates kept, lookups ignoring ASCII case.
#include "core/headers.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace aiw {
namespace {

std::vector<std::string> lines(const Headers& h) {
  std::vector<std::string> out;
  for (const auto& f : h.fields()) out.push_back(f.name + ": " + f.value);
  return out;
}

using Lines = std::vector<std::string>;

TEST_CASE("keeps fields in the order received, duplicates included") {
  Headers h;
  CHECK(h.empty());
  h.add("Host", "a.test");
  h.add("Accept", "*/*");
  h.add("Cookie", "a=1");
  h.add("cookie", "b=2");
  CHECK(h.size() == 4);
  CHECK_FALSE(h.empty());
  CHECK(lines(h) == Lines{"Host: a.test", "Accept: */*", "Cookie: a=1", "cookie: b=2"});
}

TEST_CASE("find ignores ASCII case and returns the first value") {
  Headers h;
  h.add("X-Trace", "one");
  h.add("x-trace", "two");
  REQUIRE(h.find("X-TRACE") != nullptr);
  CHECK(*h.find("X-TRACE") == "one");
  CHECK(*h.find("x-trace") == "one");
  CHECK(h.has("X-tRaCe"));
  CHECK(h.count("X-Trace") == 2);
  CHECK(h.find("X-Trac") == nullptr);
  CHECK(h.find("X-Trace2") == nullptr);
  CHECK_FALSE(h.has(""));
  CHECK(h.count("Other") == 0);
}

TEST_CASE("set replaces every field of that name with one, in the first one's place") {
  Headers h;
  h.add("A", "1");
  h.add("Content-Length", "10");
  h.add("B", "2");
  h.add("content-length", "20");
  h.add("C", "3");
  h.set("CONTENT-LENGTH", "30");
  CHECK(lines(h) == Lines{"A: 1", "Content-Length: 30", "B: 2", "C: 3"});
  CHECK(h.count("content-length") == 1);
}

TEST_CASE("set appends a field that is absent") {
  Headers h;
  h.add("A", "1");
  h.set("Via", "1.1 aiwarden");
  CHECK(lines(h) == Lines{"A: 1", "Via: 1.1 aiwarden"});
  h.set("via", "");
  CHECK(lines(h) == Lines{"A: 1", "Via: "});
}

TEST_CASE("remove drops every field of that name and says how many") {
  Headers h;
  h.add("Connection", "close");
  h.add("A", "1");
  h.add("CONNECTION", "upgrade");
  h.add("B", "2");
  CHECK(h.remove("connection") == 2);
  CHECK(lines(h) == Lines{"A: 1", "B: 2"});
  CHECK(h.remove("connection") == 0);
  CHECK(h.size() == 2);
  h.clear();
  CHECK(h.empty());
}

TEST_CASE("fields can be edited in place") {
  Headers h;
  h.add("A", "1");
  h.fields()[0].value = "changed";
  CHECK(*h.find("a") == "changed");
}

TEST_CASE("equalsIgnoreCase folds only ASCII letters") {
  CHECK(equalsIgnoreCase("Content-Type", "content-TYPE"));
  CHECK(equalsIgnoreCase("", ""));
  CHECK_FALSE(equalsIgnoreCase("abc", "abcd"));
  CHECK_FALSE(equalsIgnoreCase("abc", "abd"));
  // Characters 0x20 apart that are not letters are different: '@'/'`', '['/'{', '^'/'~'.
  CHECK_FALSE(equalsIgnoreCase("@", "`"));
  CHECK_FALSE(equalsIgnoreCase("[", "{"));
  CHECK_FALSE(equalsIgnoreCase("^", "~"));
  CHECK_FALSE(equalsIgnoreCase("-", "\r"));
  // Non-ASCII bytes compare exactly (no locale folding): "É" vs "é" in UTF-8.
  CHECK_FALSE(equalsIgnoreCase("\xc3\x89", "\xc3\xa9"));
  CHECK(equalsIgnoreCase("\xc3\xa9", "\xc3\xa9"));
}

}  // namespace
}  // namespace aiw
