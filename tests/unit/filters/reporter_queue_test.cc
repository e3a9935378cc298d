// The reporter's queue (bounded, drops counted), ring (newest kept), jsonl sink
// (rotation with keep) and the Reporter service (thread, reconfiguration, flush
// on shutdown).
#include <doctest/doctest.h>

#include <filesystem>
#include <thread>

#include "filters/reporter/event_queue.h"
#include "filters/reporter/event_ring.h"
#include "filters/reporter/jsonl_sink.h"
#include "filters/reporter/reporter.h"
#include "reporter_test_util.h"

namespace aiw {
namespace {

using test::readLines;
using test::ScratchDir;

ReportEvent tunnel(const std::string &host) {
  ConnectionInfo c;
  c.target_host = host;
  c.target_port = 443;
  c.bypassed = true;
  return tunnelEvent(c, std::chrono::system_clock::now());
}

TEST_CASE("the queue holds up to its bound and counts what it drops") {
  EventQueue q(3);
  for (int i = 0; i < 5; ++i) q.push(tunnel("h" + std::to_string(i)));
  CHECK(q.size() == 3);
  CHECK(q.dropped() == 2);
  CHECK(q.accepted() == 3);
  std::vector<ReportEvent> out;
  q.takeAll(out, std::chrono::milliseconds(0));
  REQUIRE(out.size() == 3);
  CHECK(out[0].host == "h0");  // the oldest are kept: a full queue refuses the new
  CHECK(out[2].host == "h2");
  CHECK(q.push(tunnel("again")));
}

TEST_CASE("a take appends to a batch not yet delivered, oldest first") {
  EventQueue q(10);
  std::vector<ReportEvent> out;
  out.push_back(tunnel("earlier"));
  q.push(tunnel("a"));
  q.push(tunnel("b"));
  q.takeAll(out, std::chrono::milliseconds(0));
  REQUIRE(out.size() == 3);
  CHECK(out[0].host == "earlier");
  CHECK(out[1].host == "a");
  CHECK(out[2].host == "b");
  CHECK(q.size() == 0);
  // The queue is usable after handing its storage over, and a take into an empty batch
  // moves everything.
  out.clear();
  q.push(tunnel("c"));
  q.takeAll(out, std::chrono::milliseconds(0));
  REQUIRE(out.size() == 1);
  CHECK(out[0].host == "c");
}

TEST_CASE("many producers: every event is either taken or counted as dropped") {
  EventQueue q(1000);
  std::atomic<bool> done{false};
  size_t taken = 0;
  std::thread consumer([&] {
    std::vector<ReportEvent> out;
    while (!done.load() || q.size() > 0) {
      q.takeAll(out, std::chrono::milliseconds(5));
      taken += out.size();
      out.clear();
    }
  });
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&q] {
      for (int i = 0; i < 5000; ++i) q.push(tunnel("x"));
    });
  }
  for (auto &p : producers) p.join();
  done = true;
  consumer.join();
  CHECK(taken + q.dropped() == 20000);
}

TEST_CASE("the ring keeps the newest events and lists them oldest first") {
  EventRing ring(3);
  for (int i = 0; i < 5; ++i) ring.push("e" + std::to_string(i));
  CHECK(ring.recent(10) == std::vector<std::string>{"e2", "e3", "e4"});
  CHECK(ring.recent(2) == std::vector<std::string>{"e3", "e4"});
  ring.setCapacity(1);
  CHECK(ring.recent(10) == std::vector<std::string>{"e4"});
}

TEST_CASE("the jsonl sink rotates past max_bytes and keeps `keep` old files") {
  ScratchDir dir;
  JsonlSinkConfig cfg;
  cfg.path = dir.file("events.jsonl");
  cfg.max_bytes = 100;
  cfg.keep = 2;
  auto sink = JsonlSink::open(cfg);
  REQUIRE(sink.ok());
  std::string line(39, 'a');  // 40 bytes with its newline: two per file
  for (int i = 0; i < 10; ++i) {
    std::string l = line;
    l[0] = static_cast<char>('0' + i);
    REQUIRE(sink.value()->write({l}).ok());
  }
  REQUIRE(sink.value()->sync().ok());
  auto current = readLines(cfg.path);
  auto one = readLines(cfg.path + ".1");
  auto two = readLines(cfg.path + ".2");
  CHECK_FALSE(std::filesystem::exists(cfg.path + ".3"));
  REQUIRE(current.size() == 2);
  REQUIRE(one.size() == 2);
  REQUIRE(two.size() == 2);
  CHECK(current[0][0] == '8');
  CHECK(current[1][0] == '9');
  CHECK(one[0][0] == '6');
  CHECK(two[0][0] == '4');
  for (const auto &f : {cfg.path, cfg.path + ".1", cfg.path + ".2"}) {
    CHECK(std::filesystem::file_size(f) <= cfg.max_bytes);
  }
}

TEST_CASE(
    "a batch that crosses max_bytes is split at a line, and keep 0 keeps "
    "no old file") {
  ScratchDir dir;
  JsonlSinkConfig cfg;
  cfg.path = dir.file("e.jsonl");
  cfg.max_bytes = 1024;
  cfg.keep = 0;
  auto sink = JsonlSink::open(cfg);
  REQUIRE(sink.ok());
  std::vector<std::string> batch(30, std::string(99, 'b'));  // 3000 bytes
  REQUIRE(sink.value()->write(batch).ok());
  CHECK_FALSE(std::filesystem::exists(cfg.path + ".1"));
  CHECK(std::filesystem::file_size(cfg.path) <= 1024);
  CHECK(readLines(cfg.path).size() == 10);  // 10 lines per file: the last third
}

TEST_CASE("an existing file is appended to, and its size counts toward rotation") {
  ScratchDir dir;
  JsonlSinkConfig cfg;
  cfg.path = dir.file("e.jsonl");
  cfg.max_bytes = 1024;
  {
    auto sink = JsonlSink::open(cfg);
    REQUIRE(sink.ok());
    REQUIRE(sink.value()->write({"{\"a\":1}"}).ok());
  }
  auto sink = JsonlSink::open(cfg);
  REQUIRE(sink.ok());
  CHECK(sink.value()->size() == 8);
  REQUIRE(sink.value()->write({"{\"a\":2}"}).ok());
  CHECK(readLines(cfg.path) == std::vector<std::string>{"{\"a\":1}", "{\"a\":2}"});
}

TEST_CASE(
    "the reporter writes submitted events to its sinks and ring, "
    "relative to STATE_DIR") {
  ScratchDir dir;
  Reporter reporter(dir.path());
  ReporterSettings s;
  s.jsonl.push_back({"events.jsonl", 1 << 20, 2});
  s.ring = 5;
  reporter.configure(s);
  for (int i = 0; i < 8; ++i) CHECK(reporter.submit(tunnel("h" + std::to_string(i))));
  reporter.flush();
  auto lines = readLines(dir.file("events.jsonl"));
  REQUIRE(lines.size() == 8);
  CHECK(lines[7].find("\"host\":\"h7\"") != std::string::npos);
  auto recent = reporter.recent(100);
  REQUIRE(recent.size() == 5);
  CHECK(recent.back() == lines[7]);
  CHECK(reporter.written() == 8);
  CHECK(reporter.dropped() == 0);
}

TEST_CASE(
    "reconfiguring with the same sink keeps appending; a new path gets "
    "the next events") {
  ScratchDir dir;
  Reporter reporter(dir.path());
  ReporterSettings s;
  s.jsonl.push_back({"a.jsonl", 1 << 20, 2});
  reporter.configure(s);
  reporter.submit(tunnel("one"));
  reporter.flush();
  reporter.configure(s);  // a reload with the reporter unchanged
  reporter.submit(tunnel("two"));
  reporter.flush();
  CHECK(readLines(dir.file("a.jsonl")).size() == 2);
  ReporterSettings moved;
  moved.jsonl.push_back({dir.file("b.jsonl"), 1 << 20, 2});
  reporter.configure(moved);
  reporter.submit(tunnel("three"));
  reporter.flush();
  CHECK(readLines(dir.file("a.jsonl")).size() == 2);
  CHECK(readLines(dir.file("b.jsonl")).size() == 1);
}

TEST_CASE(
    "shutdown writes everything still queued, and nothing is accepted "
    "after it") {
  ScratchDir dir;
  Reporter reporter(dir.path());
  ReporterSettings s;
  s.jsonl.push_back({"events.jsonl", 1 << 20, 2});
  reporter.configure(s);
  for (int i = 0; i < 500; ++i) reporter.submit(tunnel("h"));
  reporter.shutdown();
  CHECK(readLines(dir.file("events.jsonl")).size() == 500);
  CHECK_FALSE(reporter.submit(tunnel("late")));
}

TEST_CASE("a sink that cannot be opened is counted and the others still get events") {
  ScratchDir dir;
  Reporter reporter(dir.path());
  ReporterSettings s;
  s.jsonl.push_back({dir.file("missing-dir/e.jsonl"), 1 << 20, 2});
  s.jsonl.push_back({"ok.jsonl", 1 << 20, 2});
  reporter.configure(s);
  reporter.submit(tunnel("h"));
  reporter.flush();
  CHECK(reporter.sinkErrors() >= 1);
  CHECK(readLines(dir.file("ok.jsonl")).size() == 1);
}

}  // namespace
}  // namespace aiw
