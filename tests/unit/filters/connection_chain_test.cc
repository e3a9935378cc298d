// ConnectionFilterChain: order, resuming at the filter that asked for more, the peek bound,
// block / bypass, close, counters.
#include <doctest/doctest.h>

#include <vector>

#include "filters/chain.h"
#include "probe_filter.h"

namespace aiw {
namespace {

using test::Events;
using test::Harness;

std::vector<uint8_t> peek(size_t n) { return std::vector<uint8_t>(n, 0x16); }

TEST_CASE("connection filters run in order and continue when all continue") {
  Harness h;
  ConnectionFilterChain chain(h.chain(R"(- filter: probe
  config: {tag: a}
- filter: probe
  config: {tag: b})"),
                              1024);
  ConnectionInfo conn;
  auto bytes = peek(3);
  CHECK(chain.run(conn, bytes).action == Action::Continue);
  CHECK(h.take() == Events{"a.conn(3)", "b.conn(3)"});
  // Decided: asking again calls nobody.
  CHECK(chain.run(conn, bytes).action == Action::Continue);
  CHECK(h.take().empty());
}

TEST_CASE("a filter asking for more is called again with the longer peek, and only from it on") {
  Harness h;
  ConnectionFilterChain chain(h.chain(R"(- filter: probe
  config: {tag: a}
- filter: probe
  config: {tag: b, connection: need_more_data, until_bytes: 5}
- filter: probe
  config: {tag: c})"),
                              1024);
  ConnectionInfo conn;
  auto first = peek(3);
  CHECK(chain.run(conn, first).action == Action::NeedMoreData);
  auto second = peek(4);
  CHECK(chain.run(conn, second).action == Action::NeedMoreData);
  auto third = peek(6);
  CHECK(chain.run(conn, third).action == Action::Continue);
  CHECK(h.take() == Events{"a.conn(3)", "b.conn(3)", "b.conn(4)", "b.conn(6)", "c.conn(6)"});
}

TEST_CASE("a filter still wanting more at max_peek_bytes is taken as continue") {
  Harness h;
  ConnectionFilterChain chain(h.chain(R"(- filter: probe
  config: {tag: a, connection: need_more_data}
- filter: probe
  config: {tag: b})"),
                              4);
  ConnectionInfo conn;
  auto some = peek(2);
  CHECK(chain.run(conn, some).action == Action::NeedMoreData);
  auto bound = peek(4);
  CHECK(chain.run(conn, bound).action == Action::Continue);
  CHECK(h.take() == Events{"a.conn(2)", "a.conn(4)", "b.conn(4)"});
}

TEST_CASE("with no more data to come, a filter wanting more is taken as continue") {
  Harness h;
  ConnectionFilterChain chain(
      h.chain("- filter: probe\n  config: {tag: a, connection: need_more_data}\n"), 1024);
  ConnectionInfo conn;
  auto some = peek(2);
  CHECK(chain.run(conn, some).action == Action::NeedMoreData);
  CHECK(chain.run(conn, some, /*no_more_data=*/true).action == Action::Continue);
}

TEST_CASE("a block stops the chain, answers 403 by default, and is returned again") {
  Harness h;
  auto filters = h.chain(R"(- filter: guard
  config: {tag: a, connection: block}
- filter: probe
  config: {tag: b})");
  ConnectionFilterChain chain(filters, 1024);
  ConnectionInfo conn;
  Verdict v = chain.run(conn, {});
  CHECK(v.action == Action::Block);
  CHECK(v.status == 403);
  CHECK(chain.run(conn, {}).action == Action::Block);
  CHECK(h.take() == Events{"a.conn(0)"});
  CHECK_FALSE(conn.bypassed);
  CHECK(filters->entry(0).counters().blocks == 1);
}

TEST_CASE("a bypass stops the chain and marks the connection a blind tunnel") {
  Harness h;
  ConnectionFilterChain chain(h.chain(R"(- filter: probe
  config: {tag: a, connection: bypass}
- filter: probe
  config: {tag: b})"),
                              1024);
  ConnectionInfo conn;
  CHECK(chain.run(conn, {}).action == Action::Bypass);
  CHECK(conn.bypassed);
  CHECK(h.take() == Events{"a.conn(0)"});
}

TEST_CASE("close calls onConnectionClose once on every filter, whatever the verdict") {
  Harness h;
  ConnectionFilterChain chain(h.chain(R"(- filter: probe
  config: {tag: a, connection: block}
- filter: probe
  config: {tag: b})"),
                              1024);
  ConnectionInfo conn;
  (void)chain.run(conn, {});
  chain.close(conn);
  chain.close(conn);
  CHECK(h.take() == Events{"a.conn(0)", "a.close", "b.close"});
}

TEST_CASE("stages without a connection filter are left out") {
  Harness h;
  ConnectionFilterChain chain(h.chain(R"(- filter: probe
  config: {tag: a, connection_filter: false}
- filter: probe
  config: {tag: b})"),
                              1024);
  CHECK_FALSE(chain.empty());
  ConnectionInfo conn;
  CHECK(chain.run(conn, {}).action == Action::Continue);
  CHECK(h.take() == Events{"b.conn(0)"});
}

TEST_CASE("connection counters count each call and answer") {
  Harness h;
  auto filters = h.chain(R"(- filter: probe
  config: {tag: a, connection: need_more_data, until_bytes: 2}
- filter: probe
  config: {tag: b})");
  for (int i = 0; i < 3; ++i) {
    ConnectionFilterChain chain(filters, 1024);
    ConnectionInfo conn;
    auto one = peek(1);
    auto two = peek(2);
    (void)chain.run(conn, one);
    (void)chain.run(conn, two);
  }
  FilterCounterValues a = filters->entry(0).counters();
  CHECK(a.invocations == 6);
  CHECK(a.need_more_data == 3);
  CHECK(a.continues == 3);
  CHECK(filters->entry(1).counters().invocations == 3);
  CHECK(filters->entry(1).counters().continues == 3);
}

}  // namespace
}  // namespace aiw
