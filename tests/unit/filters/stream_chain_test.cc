// StreamFilterChain: order, each action at each phase, body buffering, limits, modifications,
// onComplete, counters.
#include <doctest/doctest.h>

#include <algorithm>

#include "filters/chain.h"
#include "probe_filter.h"

namespace aiw {
namespace {

using test::bytes;
using test::Events;
using test::Harness;

constexpr uint64_t kLimit = 1 << 20;

struct Exchange {
  StreamInfo info;
  Headers req_headers;
  Headers resp_headers;
  StreamFilterChain chain;

  explicit Exchange(std::shared_ptr<const FilterChain> c, uint64_t limit = kLimit,
                    FailMode mode = FailMode::Closed)
      : chain(std::move(c), limit, mode) {}

  Verdict reqBody(std::string_view in, bool end, std::string* out) {
    Buffer b = bytes(in);
    Verdict v = chain.requestBody(info, b, end);
    *out = b.toString();
    return v;
  }
  Verdict respBody(std::string_view in, bool end, std::string* out) {
    Buffer b = bytes(in);
    Verdict v = chain.responseBody(info, b, end);
    *out = b.toString();
    return v;
  }
};

TEST_CASE("stream filters run in chain order at every phase, then onComplete") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: a}
- filter: probe
  config: {tag: b}
- filter: probe
  config: {tag: c})"));
  std::string out;
  CHECK(x.chain.requestHeaders(x.info, x.req_headers, false).action == Action::Continue);
  CHECK(x.reqBody("hi", true, &out).action == Action::Continue);
  CHECK(out == "hi");
  CHECK(x.chain.responseHeaders(x.info, x.resp_headers, false).action == Action::Continue);
  CHECK(x.respBody("yo", false, &out).action == Action::Continue);
  CHECK(out == "yo");
  CHECK(x.respBody("", true, &out).action == Action::Continue);
  x.chain.complete(x.info);
  CHECK(h.take() == Events{"a.req_headers", "b.req_headers", "c.req_headers", "a.req_body(hi,end)",
                           "b.req_body(hi,end)", "c.req_body(hi,end)", "a.resp_headers",
                           "b.resp_headers", "c.resp_headers", "a.resp_body(yo)", "b.resp_body(yo)",
                           "c.resp_body(yo)", "a.resp_body(,end)", "b.resp_body(,end)",
                           "c.resp_body(,end)", "a.complete", "b.complete", "c.complete"});
  CHECK(x.info.verdict.action == Action::Continue);
  CHECK(x.info.blocked_by.empty());
}

TEST_CASE("a block at any phase stops the chain, names the filter, and sticks") {
  struct Case {
    const char* phase;
    const char* key;
  };
  for (Case c :
       {Case{"request headers", "request_headers"}, Case{"request body", "request_body"},
        Case{"response headers", "response_headers"}, Case{"response body", "response_body"}}) {
    CAPTURE(c.phase);
    Harness h;
    Exchange x(h.chain(std::string(R"(- filter: probe
  config: {tag: a}
- filter: guard
  config: {tag: b, status: 451, reason: nope, )") +
                       c.key + R"(: block}
- filter: probe
  config: {tag: c})"));
    std::string out;
    std::vector<Verdict> verdicts;
    verdicts.push_back(x.chain.requestHeaders(x.info, x.req_headers, false));
    verdicts.push_back(x.reqBody("q", true, &out));
    verdicts.push_back(x.chain.responseHeaders(x.info, x.resp_headers, false));
    verdicts.push_back(x.respBody("r", true, &out));
    CHECK(out.empty());  // nothing of a blocked exchange is forwarded past the block
    size_t blocked_at = 0;
    while (verdicts[blocked_at].action != Action::Block) ++blocked_at;
    for (size_t i = blocked_at; i < verdicts.size(); ++i) {
      CHECK(verdicts[i].action == Action::Block);
      CHECK(verdicts[i].status == 451);
      CHECK(verdicts[i].reason == "nope");
    }
    CHECK(x.chain.blocked());
    CHECK(x.info.blocked_by == "guard");
    CHECK(x.info.verdict.action == Action::Block);
    CHECK(x.info.verdict.status == 451);
    Events events = h.take();
    // The blocking call was the last call of any filter: c never saw it.
    REQUIRE(events.size() >= 2);
    CHECK(events.back().starts_with("b."));
    CHECK(events[events.size() - 2].starts_with("a."));
  }
}

TEST_CASE("a block without a status answers 403") {
  Harness h;
  Exchange x(h.chain("- filter: probe\n  config: {tag: a, request_headers: block}\n"));
  Verdict v = x.chain.requestHeaders(x.info, x.req_headers, true);
  CHECK(v.action == Action::Block);
  CHECK(v.status == 403);
  CHECK(x.info.verdict.status == 403);
}

TEST_CASE("a bypass at any phase skips later filters and later phases but forwards everything") {
  for (const char* key : {"request_headers", "request_body", "response_headers"}) {
    CAPTURE(key);
    Harness h;
    Exchange x(h.chain(std::string(R"(- filter: probe
  config: {tag: a}
- filter: probe
  config: {tag: b, )") +
                       key + R"(: bypass}
- filter: probe
  config: {tag: c})"));
    std::string out;
    Verdict v1 = x.chain.requestHeaders(x.info, x.req_headers, false);
    Verdict v2 = x.reqBody("q", true, &out);
    CHECK(out == "q");
    Verdict v3 = x.chain.responseHeaders(x.info, x.resp_headers, false);
    Verdict v4 = x.respBody("r", true, &out);
    CHECK(out == "r");
    CHECK(v4.action == Action::Bypass);
    CHECK(x.chain.bypassed());
    CHECK(x.info.verdict.action == Action::Bypass);
    CHECK_FALSE(v1.action == Action::Block);
    CHECK_FALSE(v2.action == Action::Block);
    CHECK_FALSE(v3.action == Action::Block);
    Events events = h.take();
    CHECK(events.back().starts_with("b."));  // the bypassing call was the last call
    x.chain.complete(x.info);
    CHECK(h.take() == Events{"a.complete", "b.complete", "c.complete"});
  }
}

TEST_CASE("need_more_data on a body accumulates every chunk and ends with end_stream") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: a}
- filter: probe
  config: {tag: b, request_body: need_more_data}
- filter: probe
  config: {tag: c})"));
  std::string out;
  CHECK(x.chain.requestHeaders(x.info, x.req_headers, false).action == Action::Continue);
  CHECK(x.reqBody("he", false, &out).action == Action::NeedMoreData);
  CHECK(out.empty());
  CHECK(x.reqBody("ll", false, &out).action == Action::NeedMoreData);
  CHECK(out.empty());
  CHECK(x.reqBody("o", false, &out).action == Action::NeedMoreData);
  CHECK(x.reqBody("", true, &out).action == Action::Continue);
  CHECK(out == "hello");
  // a (before the holder) sees each chunk as it comes; b everything so far; c the whole once.
  CHECK(h.take() == Events{"a.req_headers", "b.req_headers", "c.req_headers", "a.req_body(he)",
                           "b.req_body(he)", "a.req_body(ll)", "b.req_body(hell)", "a.req_body(o)",
                           "b.req_body(hello)", "a.req_body(,end)", "b.req_body(hello,end)",
                           "c.req_body(hello,end)"});
}

TEST_CASE("a filter that has seen enough lets the body go and later chunks stream") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: a, request_body: need_more_data, until_bytes: 4}
- filter: probe
  config: {tag: b})"));
  std::string out;
  CHECK(x.reqBody("ab", false, &out).action == Action::NeedMoreData);
  CHECK(x.reqBody("cde", false, &out).action == Action::Continue);
  CHECK(out == "abcde");
  CHECK(x.reqBody("fghij", false, &out).action == Action::Continue);
  CHECK(out == "fghij");
  CHECK(x.reqBody("", true, &out).action == Action::Continue);
  CHECK(h.take() == Events{"a.req_body(ab)", "a.req_body(abcde)", "b.req_body(abcde)",
                           "a.req_body(fghij)", "b.req_body(fghij)", "a.req_body(,end)",
                           "b.req_body(,end)"});
}

TEST_CASE("need_more_data with end_stream already set counts as continue") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: a, request_headers: need_more_data, request_body: need_more_data}
- filter: probe
  config: {tag: b})"));
  CHECK(x.chain.requestHeaders(x.info, x.req_headers, true).action == Action::Continue);
  CHECK_FALSE(x.chain.requestHeadersHeld());
  std::string out;
  CHECK(x.reqBody("all", true, &out).action == Action::Continue);
  CHECK(out == "all");
  CHECK(h.take() == Events{"a.req_headers(end)", "b.req_headers(end)", "a.req_body(all,end)",
                           "b.req_body(all,end)"});
}

TEST_CASE("headers held by a filter reach the later filters before the body, once it continues") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: a, add_header: x-a}
- filter: probe
  config: {tag: b, request_headers: need_more_data, request_body: need_more_data,
           add_header: x-b}
- filter: probe
  config: {tag: c, add_header: x-c})"));
  x.req_headers.add("host", "example.com");
  CHECK(x.chain.requestHeaders(x.info, x.req_headers, false).action == Action::NeedMoreData);
  CHECK(x.chain.requestHeadersHeld());
  std::string out;
  CHECK(x.reqBody("he", false, &out).action == Action::NeedMoreData);
  CHECK(x.chain.requestHeadersHeld());
  CHECK(x.reqBody("llo", true, &out).action == Action::Continue);
  CHECK(out == "hello");
  CHECK_FALSE(x.chain.requestHeadersHeld());
  CHECK(h.take() == Events{"a.req_headers", "b.req_headers", "a.req_body(he)", "b.req_body(he)",
                           "a.req_body(llo,end)", "b.req_body(hello,end)", "c.req_headers",
                           "c.req_body(hello,end)"});
  REQUIRE(x.req_headers.size() == 4);
  CHECK(*x.req_headers.find("x-a") == "a");
  CHECK(*x.req_headers.find("x-b") == "b");
  CHECK(*x.req_headers.find("x-c") == "c");
}

TEST_CASE("held headers wait for the whole body even if their holder lets bytes through early") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: a, response_headers: need_more_data}
- filter: probe
  config: {tag: b})"));
  CHECK(x.chain.responseHeaders(x.info, x.resp_headers, false).action == Action::NeedMoreData);
  std::string out;
  CHECK(x.respBody("data: 1\n\n", false, &out).action == Action::NeedMoreData);
  CHECK(out.empty());
  CHECK(x.chain.responseHeadersHeld());
  CHECK(x.respBody("data: 2\n\n", true, &out).action == Action::Continue);
  CHECK(out == "data: 1\n\ndata: 2\n\n");
  CHECK_FALSE(x.chain.responseHeadersHeld());
  // a sees each chunk once (it let the first one through); b gets headers, then the body whole.
  CHECK(h.take() == Events{"a.resp_headers", "a.resp_body(data: 1\n\n)",
                           "a.resp_body(data: 2\n\n,end)", "b.resp_headers",
                           "b.resp_body(data: 1\n\ndata: 2\n\n,end)"});
}

TEST_CASE("bytes waiting behind held headers count against max_inspect_body_bytes") {
  Harness h;
  Exchange x(h.chain("- filter: guard\n  config: {tag: a, request_headers: need_more_data}\n"), 4,
             FailMode::Closed);
  CHECK(x.chain.requestHeaders(x.info, x.req_headers, false).action == Action::NeedMoreData);
  std::string out;
  CHECK(x.reqBody("123", false, &out).action == Action::NeedMoreData);
  Verdict v = x.reqBody("45", false, &out);
  CHECK(v.action == Action::Block);
  CHECK(v.status == 413);
  CHECK(x.info.blocked_by == "guard");
}

TEST_CASE("in open mode, bytes waiting behind held headers go out first when the limit is hit") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: a, request_headers: need_more_data}
- filter: probe
  config: {tag: b})"),
             4, FailMode::Open);
  CHECK(x.chain.requestHeaders(x.info, x.req_headers, false).action == Action::NeedMoreData);
  std::string out;
  CHECK(x.reqBody("123", false, &out).action == Action::NeedMoreData);
  CHECK(x.reqBody("45", false, &out).action == Action::Continue);
  CHECK(out == "12345");
  CHECK_FALSE(x.chain.requestHeadersHeld());
  CHECK(x.info.inspection_skipped);
  CHECK(x.reqBody("6", true, &out).action == Action::Continue);
  CHECK(out == "6");
  CHECK(h.take() == Events{"a.req_headers", "a.req_body(123)", "a.req_body(45)", "b.req_headers",
                           "b.req_body(12345)", "b.req_body(6,end)"});
}

TEST_CASE("a bypass while headers are held releases them with the waiting bytes first") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: x, request_body: bypass, when_contains: B}
- filter: probe
  config: {tag: a, request_headers: need_more_data}
- filter: probe
  config: {tag: c})"));
  CHECK(x.chain.requestHeaders(x.info, x.req_headers, false).action == Action::NeedMoreData);
  std::string out;
  CHECK(x.reqBody("11", false, &out).action == Action::NeedMoreData);
  CHECK(x.reqBody("B", false, &out).action == Action::Bypass);
  CHECK(out == "11B");
  CHECK_FALSE(x.chain.requestHeadersHeld());
  CHECK(h.take() == Events{"x.req_headers", "a.req_headers", "x.req_body(11)", "a.req_body(11)",
                           "x.req_body(B)"});
}

TEST_CASE("a filter after the released headers may hold them again until its own release") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: a, request_headers: need_more_data}
- filter: probe
  config: {tag: b, request_headers: need_more_data, request_body: need_more_data}
- filter: probe
  config: {tag: c})"));
  CHECK(x.chain.requestHeaders(x.info, x.req_headers, false).action == Action::NeedMoreData);
  std::string out;
  CHECK(x.reqBody("1", false, &out).action == Action::NeedMoreData);
  CHECK(x.chain.requestHeadersHeld());
  CHECK(x.reqBody("2", true, &out).action == Action::Continue);
  CHECK(out == "12");
  CHECK(h.take() == Events{"a.req_headers", "a.req_body(1)", "a.req_body(2,end)", "b.req_headers",
                           "b.req_body(12,end)", "c.req_headers", "c.req_body(12,end)"});
}

TEST_CASE("changes to headers and to the accumulated body reach later filters and the output") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: a, add_header: x-seen-by}
- filter: probe
  config:
    tag: b
    request_body: need_more_data
    replace: {from: secret, to: "[x]"}
- filter: probe
  config: {tag: c, replace: {from: "[x]", to: "[redacted]"}})"));
  CHECK(x.chain.requestHeaders(x.info, x.req_headers, false).action == Action::Continue);
  CHECK(*x.req_headers.find("x-seen-by") == "a");
  std::string out;
  CHECK(x.reqBody("my sec", false, &out).action == Action::NeedMoreData);
  CHECK(x.reqBody("ret is", false, &out).action == Action::NeedMoreData);
  CHECK(x.reqBody(" out", true, &out).action == Action::Continue);
  CHECK(out == "my [redacted] is out");
  Events events = h.take();
  CHECK(events.back() == "c.req_body(my [x] is out,end)");
}

TEST_CASE("a changed response body streams out chunk by chunk") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: a, replace: {from: h3, to: h2}})"));
  std::string out;
  CHECK(x.respBody("alt: h3", false, &out).action == Action::Continue);
  CHECK(out == "alt: h2");
  CHECK(x.respBody("", true, &out).action == Action::Continue);
  CHECK(out.empty());
}

TEST_CASE("a request body over max_inspect_body_bytes is refused with 413 in closed mode") {
  Harness h;
  auto chain = h.chain(R"(- filter: probe
  config: {tag: a}
- filter: guard
  config: {tag: b, request_headers: need_more_data, request_body: need_more_data}
- filter: probe
  config: {tag: c})");
  Exchange x(chain, 8, FailMode::Closed);
  CHECK(x.chain.requestHeaders(x.info, x.req_headers, false).action == Action::NeedMoreData);
  std::string out;
  CHECK(x.reqBody("12345", false, &out).action == Action::NeedMoreData);
  CHECK(x.reqBody("678", false, &out).action == Action::NeedMoreData);  // exactly the limit
  Verdict v = x.reqBody("9", false, &out);
  CHECK(v.action == Action::Block);
  CHECK(v.status == 413);
  CHECK(v.reason ==
        "request body exceeds max_inspect_body_bytes (8 bytes), which filter "
        "'guard' must see whole");
  CHECK(out.empty());
  CHECK(x.info.blocked_by == "guard");
  CHECK(x.info.verdict.status == 413);
  CHECK(x.reqBody("0", true, &out).action == Action::Block);
  CHECK(chain->entry(1).counters().over_limit == 1);
  x.chain.complete(x.info);
  Events events = h.take();
  CHECK(std::count(events.begin(), events.end(), "c.req_headers") == 0);
  CHECK(std::count(events.begin(), events.end(), "c.complete") == 1);
}

TEST_CASE("a response body over max_inspect_body_bytes is refused with 502 in closed mode") {
  Harness h;
  Exchange x(h.chain("- filter: probe\n  config: {tag: a, response_body: need_more_data}\n"), 4,
             FailMode::Closed);
  std::string out;
  CHECK(x.respBody("12345", false, &out).action == Action::Block);
  CHECK(x.info.verdict.status == 502);
}

TEST_CASE("open mode releases everything held, stops calling the holder, and says so") {
  Harness h;
  auto chain = h.chain(R"(- filter: probe
  config: {tag: a}
- filter: guard
  config: {tag: b, request_headers: need_more_data, request_body: need_more_data,
           response_headers: need_more_data}
- filter: probe
  config: {tag: c})");
  Exchange x(chain, 8, FailMode::Open);
  CHECK(x.chain.requestHeaders(x.info, x.req_headers, false).action == Action::NeedMoreData);
  std::string out;
  CHECK(x.reqBody("12345", false, &out).action == Action::NeedMoreData);
  CHECK(x.reqBody("67890", false, &out).action == Action::Continue);
  CHECK(out == "1234567890");
  CHECK_FALSE(x.chain.requestHeadersHeld());
  CHECK(x.info.inspection_skipped);
  CHECK(x.info.verdict.action == Action::Continue);
  CHECK(x.reqBody("abc", true, &out).action == Action::Continue);
  CHECK(out == "abc");
  CHECK(x.chain.responseHeaders(x.info, x.resp_headers, false).action == Action::Continue);
  x.chain.complete(x.info);
  // b is not called again after the limit (its response phase neither), but still completes.
  CHECK(h.take() == Events{"a.req_headers", "b.req_headers", "a.req_body(12345)",
                           "b.req_body(12345)", "a.req_body(67890)", "c.req_headers",
                           "c.req_body(1234567890)", "a.req_body(abc,end)", "c.req_body(abc,end)",
                           "a.resp_headers", "c.resp_headers", "a.complete", "b.complete",
                           "c.complete"});
  CHECK(chain->entry(1).counters().over_limit == 1);
}

TEST_CASE("open mode keeps byte order when several filters hold parts of the body") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: a}
- filter: probe
  config: {tag: b, request_body: need_more_data, when_contains: Z}
- filter: probe
  config: {tag: c, request_body: need_more_data}
- filter: probe
  config: {tag: d})"),
             10, FailMode::Open);
  std::string out;
  CHECK(x.reqBody("111", false, &out).action == Action::NeedMoreData);  // held by c
  CHECK(x.reqBody("2Z2", false, &out).action == Action::NeedMoreData);  // held by b
  CHECK(x.reqBody("33333", false, &out).action == Action::Continue);    // 11 > 10
  CHECK(out == "1112Z233333");
  CHECK(x.reqBody("4", true, &out).action == Action::Continue);
  CHECK(out == "4");
  Events events = h.take();
  CHECK(events == Events{"a.req_body(111)", "b.req_body(111)", "c.req_body(111)", "a.req_body(2Z2)",
                         "b.req_body(2Z2)", "a.req_body(33333)", "d.req_body(111)",
                         "d.req_body(2Z233333)", "a.req_body(4,end)", "d.req_body(4,end)"});
}

TEST_CASE("open mode on the last chunk gives end_stream only to the newest bytes") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: b, request_body: need_more_data, when_contains: Z}
- filter: probe
  config: {tag: c, request_body: need_more_data}
- filter: probe
  config: {tag: d})"),
             6, FailMode::Open);
  std::string out;
  CHECK(x.reqBody("111", false, &out).action == Action::NeedMoreData);  // held by c
  CHECK(x.reqBody("Z2", false, &out).action == Action::NeedMoreData);   // held by b
  CHECK(x.reqBody("33", true, &out).action == Action::Continue);        // 7 > 6
  CHECK(out == "111Z233");
  CHECK(h.take() == Events{"b.req_body(111)", "c.req_body(111)", "b.req_body(Z2)",
                           "d.req_body(111)", "d.req_body(Z233,end)"});
}

TEST_CASE("a later filter's answer to released headers decides for the body too") {
  for (const char* action : {"bypass", "block"}) {
    CAPTURE(action);
    Harness h;
    Exchange x(h.chain(std::string(R"(- filter: probe
  config: {tag: a, request_headers: need_more_data, request_body: need_more_data}
- filter: guard
  config: {tag: b, request_headers: )") +
                       action + R"(}
- filter: probe
  config: {tag: c})"));
    CHECK(x.chain.requestHeaders(x.info, x.req_headers, false).action == Action::NeedMoreData);
    std::string out;
    CHECK(x.reqBody("x", false, &out).action == Action::NeedMoreData);
    Verdict v = x.reqBody("y", true, &out);
    CHECK_FALSE(x.chain.requestHeadersHeld());
    if (std::string(action) == "bypass") {
      CHECK(v.action == Action::Bypass);
      CHECK(out == "xy");
    } else {
      CHECK(v.action == Action::Block);
      CHECK(out.empty());
      CHECK(x.info.blocked_by == "guard");
    }
    CHECK(h.take() ==
          Events{"a.req_headers", "a.req_body(x)", "a.req_body(xy,end)", "b.req_headers"});
  }
}

TEST_CASE("a bypass while later filters hold bytes forwards them all in order") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: a, request_body: bypass, when_contains: B}
- filter: probe
  config: {tag: b, request_body: need_more_data})"));
  std::string out;
  CHECK(x.reqBody("one ", false, &out).action == Action::NeedMoreData);
  CHECK(x.reqBody("two ", false, &out).action == Action::NeedMoreData);
  CHECK(x.reqBody("B!", false, &out).action == Action::Bypass);
  CHECK(out == "one two B!");
  CHECK(x.reqBody("rest", true, &out).action == Action::Bypass);
  CHECK(out == "rest");
}

TEST_CASE("a bypass releases bytes held by several later filters oldest first") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: a, request_body: bypass, when_contains: B}
- filter: probe
  config: {tag: b, request_body: need_more_data, when_contains: Z}
- filter: probe
  config: {tag: c, request_body: need_more_data})"));
  std::string out;
  CHECK(x.reqBody("111", false, &out).action == Action::NeedMoreData);  // held by c
  CHECK(x.reqBody("Z2", false, &out).action == Action::NeedMoreData);   // held by b
  CHECK(x.reqBody("B", false, &out).action == Action::Bypass);
  CHECK(out == "111Z2B");
}

TEST_CASE("a block while bytes are held drops them") {
  Harness h;
  Exchange x(h.chain(R"(- filter: probe
  config: {tag: a, request_body: need_more_data, when_contains: X}
- filter: guard
  config: {tag: b, request_body: block, when_contains: X})"));
  std::string out;
  CHECK(x.reqBody("aX", false, &out).action == Action::NeedMoreData);
  Verdict v = x.reqBody("b", true, &out);
  CHECK(v.action == Action::Block);
  CHECK(out.empty());
  CHECK(x.info.blocked_by == "guard");
}

TEST_CASE("onComplete runs exactly once for every filter, whatever happened") {
  for (const char* action : {"continue", "block", "bypass", "need_more_data"}) {
    CAPTURE(action);
    Harness h;
    Exchange x(h.chain(std::string(R"(- filter: probe
  config: {tag: a, request_headers: )") +
                       action + R"(}
- filter: probe
  config: {tag: b})"));
    (void)x.chain.requestHeaders(x.info, x.req_headers, false);
    x.chain.complete(x.info);
    x.chain.complete(x.info);
    CHECK(h.log.count("a.complete") == 1);
    CHECK(h.log.count("b.complete") == 1);
  }
}

TEST_CASE("counters count each call and each answer per stage, across exchanges") {
  Harness h;
  auto chain = h.chain(R"(- filter: probe
  config: {tag: a, request_body: need_more_data}
- filter: guard
  config: {tag: b, response_headers: block}
- filter: probe
  config: {tag: c})");
  for (int i = 0; i < 2; ++i) {
    Exchange x(chain);
    std::string out;
    (void)x.chain.requestHeaders(x.info, x.req_headers, false);
    (void)x.reqBody("1", false, &out);
    (void)x.reqBody("2", true, &out);
    (void)x.chain.responseHeaders(x.info, x.resp_headers, false);
    x.chain.complete(x.info);
  }
  FilterCounterValues a = chain->entry(0).counters();
  CHECK(a.invocations == 8);     // request headers, body twice, response headers; two exchanges
  CHECK(a.need_more_data == 2);  // the end_stream call continues (the probe has seen it all)
  CHECK(a.continues == 6);
  CHECK(a.over_limit == 0);
  FilterCounterValues b = chain->entry(1).counters();
  CHECK(b.invocations == 6);
  CHECK(b.blocks == 2);
  CHECK(b.continues == 4);
  FilterCounterValues c = chain->entry(2).counters();
  CHECK(c.invocations == 4);
  CHECK(c.blocks == 0);
  CHECK(c.bypasses == 0);
}

TEST_CASE("stages without a stream filter are left out; an empty chain passes everything") {
  Harness h;
  Exchange x(h.chain("- filter: probe\n  config: {tag: a, stream_filter: false}\n"));
  CHECK(x.chain.empty());
  std::string out;
  CHECK(x.chain.requestHeaders(x.info, x.req_headers, false).action == Action::Continue);
  CHECK(x.reqBody("body", true, &out).action == Action::Continue);
  CHECK(out == "body");
  x.chain.complete(x.info);
  CHECK(h.take().empty());
}

}  // namespace
}  // namespace aiw
