// The http sink's spool: append, read, ack, compaction, the bound, and reopening after a
// "crash" (the object destroyed without any shutdown step, then opened again).
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include "filters/reporter/spool.h"
#include "reporter_test_util.h"

namespace aiw {
namespace {

using test::readLines;
using test::ScratchDir;

std::vector<std::string> numbered(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("{\"id\":" + std::to_string(i) + "}");
  return out;
}

std::unique_ptr<Spool> openSpool(const std::string &path, uint64_t max = 1 << 20) {
  auto s = Spool::open(path, max);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error().message));
  return std::move(s).value();
}

TEST_CASE("spool: lines come back in order, in batches, and an ack moves past them") {
  ScratchDir dir;
  auto spool = openSpool(dir.file("s.log"));
  auto dropped = spool->append(numbered(0, 5));
  REQUIRE(dropped.ok());
  CHECK(dropped.value() == 0);
  auto b1 = spool->read(3);
  REQUIRE(b1.ok());
  CHECK(b1.value().lines == numbered(0, 3));
  // Without an ack the same batch is read again (a failed delivery retries it).
  CHECK(spool->read(3).value().lines == numbered(0, 3));
  REQUIRE(spool->ack(b1.value().end).ok());
  auto b2 = spool->read(10);
  CHECK(b2.value().lines == numbered(3, 5));
  CHECK(spool->pendingBytes() > 0);
}

TEST_CASE("spool: fully delivered, the log is compacted to nothing") {
  ScratchDir dir;
  auto spool = openSpool(dir.file("s.log"));
  REQUIRE(spool->append(numbered(0, 4)).ok());
  auto b = spool->read(4).value();
  REQUIRE(spool->ack(b.end).ok());
  CHECK(spool->fileBytes() == 0);
  CHECK(spool->pendingBytes() == 0);
  struct stat st;
  REQUIRE(::stat(dir.file("s.log").c_str(), &st) == 0);
  CHECK(st.st_size == 0);
  CHECK(spool->read(10).value().lines.empty());
  REQUIRE(spool->append(numbered(4, 6)).ok());
  CHECK(spool->read(10).value().lines == numbered(4, 6));
}

TEST_CASE("spool: a large delivered prefix is compacted away, keeping the tail") {
  ScratchDir dir;
  auto spool = openSpool(dir.file("s.log"), 64u << 20);
  std::string big(1000, 'x');
  std::vector<std::string> lines;
  for (int i = 0; i < 6000; ++i) lines.push_back(big + std::to_string(i));
  REQUIRE(spool->append(lines).ok());
  auto b = spool->read(5000).value();
  REQUIRE(b.lines.size() == 5000);
  REQUIRE(spool->ack(b.end).ok());
  // 5000 of 6000 lines (~5 MB) delivered: past kCompactMinBytes and half the file.
  CHECK(spool->fileBytes() == spool->pendingBytes());
  auto rest = spool->read(10000).value();
  REQUIRE(rest.lines.size() == 1000);
  CHECK(rest.lines.front() == big + "5000");
  CHECK(rest.lines.back() == big + "5999");
  // And the compacted state survives a reopen.
  spool.reset();
  auto again = openSpool(dir.file("s.log"), 64u << 20);
  CHECK(again->read(10000).value().lines.size() == 1000);
}

TEST_CASE("spool: reopened after a crash, delivery resumes at the last ack") {
  ScratchDir dir;
  {
    auto spool = openSpool(dir.file("s.log"));
    REQUIRE(spool->append(numbered(0, 10)).ok());
    auto b = spool->read(4).value();
    REQUIRE(spool->ack(b.end).ok());
    // Read but not acknowledged: must come back after the crash.
    (void)spool->read(3);
  }  // "crash": destroyed without sync or anything else
  auto spool = openSpool(dir.file("s.log"));
  CHECK(spool->read(100).value().lines == numbered(4, 10));
}

TEST_CASE("spool: a partial last line (a write cut short) is dropped at open") {
  ScratchDir dir;
  {
    auto spool = openSpool(dir.file("s.log"));
    REQUIRE(spool->append(numbered(0, 2)).ok());
  }
  {
    std::ofstream out(dir.file("s.log"), std::ios::app);
    out << "{\"id\":2";
  }
  auto spool = openSpool(dir.file("s.log"));
  CHECK(spool->read(100).value().lines == numbered(0, 2));
  REQUIRE(spool->append(numbered(3, 4)).ok());
  CHECK(readLines(dir.file("s.log")) ==
        std::vector<std::string>{"{\"id\":0}", "{\"id\":1}", "{\"id\":3}"});
}

TEST_CASE("spool: an offset written for another file is not trusted") {
  ScratchDir dir;
  {
    auto spool = openSpool(dir.file("s.log"));
    REQUIRE(spool->append(numbered(0, 6)).ok());
    REQUIRE(spool->ack(spool->read(2).value().end).ok());
  }
  // Replace the log by a different file (another inode) without touching the offset file: what
  // compaction leaves behind when the process dies between its rename and the offset rewrite.
  {
    std::ofstream out(dir.file("s.log.new"));
    for (const auto &l : numbered(10, 13)) out << l << "\n";
  }
  REQUIRE(::rename(dir.file("s.log.new").c_str(), dir.file("s.log").c_str()) == 0);
  auto spool = openSpool(dir.file("s.log"));
  CHECK(spool->read(100).value().lines == numbered(10, 13));
}

TEST_CASE("spool: lines past the bound of undelivered bytes are dropped and counted") {
  ScratchDir dir;
  // Each line is 8 bytes + newline; room for 3.
  auto spool = openSpool(dir.file("s.log"), 30);
  auto r = spool->append(numbered(0, 5));
  REQUIRE(r.ok());
  CHECK(r.value() == 2);
  CHECK(spool->read(100).value().lines == numbered(0, 3));
  // Delivery frees room again.
  REQUIRE(spool->ack(spool->read(2).value().end).ok());
  auto r2 = spool->append(numbered(5, 7));
  CHECK(r2.value() == 0);
  CHECK(spool->read(100).value().lines ==
        std::vector<std::string>{"{\"id\":2}", "{\"id\":5}", "{\"id\":6}"});
}

}  // namespace
}  // namespace aiw
