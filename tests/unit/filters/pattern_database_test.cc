// The pattern database: compile errors (all of them), duplicate ids, the empty database, block
// scans (offsets, merging, ordering), stream scans (matches split across feeds at every
// position, the kept tail, end of data), scratch re-preparation, and the regex analysis that
// decides how expressions are compiled.
#include "filters/pattern_matcher/pattern_database.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "filters/pattern_matcher/digit_gate.h"
#include "filters/pattern_matcher/regex_shape.h"

namespace aiw {
namespace {

TEST_SUITE_BEGIN("pattern_database");

DetectorSpec spec(std::string id, std::string regex, Validator v = Validator::None,
                  bool caseless = false) {
  DetectorSpec d;
  d.id = std::move(id);
  d.category = "test";
  d.regex = std::move(regex);
  d.caseless = caseless;
  d.validator = v;
  return d;
}

std::shared_ptr<const PatternDatabase> compiled(std::vector<DetectorSpec> specs) {
  auto db = PatternDatabase::compile(std::move(specs));
  REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
  return *db;
}

std::vector<DetectorSpec> allPacks() {
  std::vector<DetectorSpec> specs;
  for (const std::string& name : builtinPackNames()) {
    auto pack = builtinPack(name);
    REQUIRE(pack.ok());
    for (DetectorSpec& d : *pack) specs.push_back(std::move(d));
  }
  return specs;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

using HitKey = std::tuple<std::string, uint64_t, uint64_t>;

std::vector<HitKey> keys(const PatternDatabase& db, const std::vector<PatternHit>& hits) {
  std::vector<HitKey> out;
  for (const PatternHit& h : hits) out.emplace_back(db.detectors()[h.detector].id, h.from, h.to);
  return out;
}

std::vector<HitKey> blockScan(const PatternDatabase& db, std::string_view text) {
  PatternScratch scratch;
  std::vector<PatternHit> hits;
  auto r = scratch.scanBlock(db, text, hits);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  return keys(db, hits);
}

// Feeds `parts` to a new stream in order, then finishes it; all hits, in reporting order.
std::vector<HitKey> streamScan(std::shared_ptr<const PatternDatabase> db, PatternScratch& scratch,
                               const std::vector<std::string_view>& parts) {
  PatternStream stream(db, scratch);
  std::vector<PatternHit> hits;
  for (std::string_view part : parts) {
    auto r = stream.feed(part, hits);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  }
  auto r = stream.finish(hits);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  return keys(*db, hits);
}

// --- compiling --------------------------------------------------------------------------------

TEST_CASE("every pattern Hyperscan refuses is listed, one line per detector") {
  auto db = PatternDatabase::compile({
      spec("good.one", "hello"),
      spec("bad.paren", "(unclosed"),
      spec("good.two", "(?i)world"),
      spec("bad.empty", "x*"),
      spec("bad.lookbehind", "(?<=a)b"),
      spec("bad.branch", "fine|(?<=x)y"),
      spec("good.three", "[0-9]{3}-[0-9]{4}"),
  });
  REQUIRE(!db.ok());
  CHECK(db.error().code == "bad_pattern");
  std::vector<std::string> got = lines(db.error().message);
  REQUIRE(got.size() == 4);
  CHECK(got[0].rfind("bad.paren: ", 0) == 0);
  CHECK(got[1] ==
        "bad.empty: the pattern matches the empty string (it would match at every "
        "position)");
  CHECK(got[2].rfind("bad.lookbehind: ", 0) == 0);
  CHECK(got[3].rfind("bad.branch: ", 0) == 0);
}

TEST_CASE("a pattern refused only when compiled for start offsets is listed too") {
  // Hyperscan takes this bounded e-mail shape, but not with start-of-match tracking.
  const std::string too_large = R"(\b[a-z0-9._%+-]{1,64}@[a-z][a-z0-9-]*\.[a-z]{2,24}\b)";
  auto db = PatternDatabase::compile({spec("good", "abc"), spec("som.heavy", too_large)});
  REQUIRE(!db.ok());
  CHECK(db.error().message.rfind("som.heavy: ", 0) == 0);
  CHECK(db.error().message.find('\n') == std::string::npos);
  CHECK(!PatternDatabase::checkRegex(too_large).ok());
}

TEST_CASE("duplicate and empty ids are refused") {
  auto db = PatternDatabase::compile(
      {spec("same", "abc"), spec("other", "def"), spec("same", "ghi"), spec("", "jkl")});
  REQUIRE(!db.ok());
  std::vector<std::string> got = lines(db.error().message);
  REQUIRE(got.size() == 2);
  CHECK(got[0] == "same: duplicate id (detector #0 has it too)");
  CHECK(got[1] == "(detector #3): the id is empty");
}

TEST_CASE("a pattern with a NUL byte is refused rather than silently cut") {
  auto db = PatternDatabase::compile({spec("nul", std::string("ab\0cd", 5))});
  REQUIRE(!db.ok());
  CHECK(db.error().message == "nul: the pattern contains a NUL byte");
}

TEST_CASE("checkRegex accepts what compile accepts and explains what it refuses") {
  CHECK(PatternDatabase::checkRegex("(?i)suspicious").ok());
  CHECK(PatternDatabase::checkRegex("Secret", true).ok());
  CHECK(PatternDatabase::checkRegex(R"(\bticket-[0-9]{3,6}\b)").ok());
  auto paren = PatternDatabase::checkRegex("(oops");
  REQUIRE(!paren.ok());
  CHECK(paren.error().code == "bad_pattern");
  CHECK(paren.error().message.find("parenthesis") != std::string::npos);
  auto empty = PatternDatabase::checkRegex("a?");
  REQUIRE(!empty.ok());
  CHECK(empty.error().message.find("empty string") != std::string::npos);
  CHECK(!PatternDatabase::checkRegex("").ok());
}

TEST_CASE("an empty database compiles and never matches, in either mode") {
  auto db = compiled({});
  CHECK(db->detectors().empty());
  CHECK(db->indexOf("anything") == -1);
  CHECK(blockScan(*db, "AKIAIOSFODNN7EXAMPLE").empty());
  PatternScratch scratch;
  PatternStream stream(db, scratch);
  std::vector<PatternHit> hits;
  CHECK(stream.feed("AKIAIOSFODNN7", hits).ok());
  CHECK(stream.feed("EXAMPLE", hits).ok());
  CHECK(stream.offset() == 20);
  CHECK(stream.finish(hits).ok());
  CHECK(hits.empty());
}

TEST_CASE("databases know their detectors and get distinct serials") {
  auto a = compiled({spec("x.one", "one"), spec("x.two", "two")});
  auto b = compiled({spec("x.one", "one")});
  CHECK(a->indexOf("x.two") == 1);
  CHECK(a->indexOf("x.three") == -1);
  CHECK(a->serial() != b->serial());
}

// --- block scans --------------------------------------------------------------------------------

TEST_CASE("block hits carry exact offsets, ordered by start") {
  auto db = compiled(allPacks());
  const std::string text =
      "mail bob@example.org or use key AKIAIOSFODNN7EXAMPLE; card 4111 1111 1111 1111.";
  std::vector<HitKey> hits = blockScan(*db, text);
  REQUIRE(hits.size() == 3);
  CHECK(hits[0] == HitKey{"pii.email", 5, 20});
  CHECK(hits[1] == HitKey{"secret.aws_access_key", 32, 52});
  CHECK(hits[2] == HitKey{"pii.payment_card", 59, 78});
  CHECK(text.substr(59, 19) == "4111 1111 1111 1111");
}

TEST_CASE("overlapping matches of one detector are merged and the same match is reported once") {
  auto db = compiled({
      spec("t.aba", "aba"), spec("t.twice", "xyz|xyz"),  // the same bytes, two expressions
      spec("t.long", R"(\bq[a-z]{2,10}\b)"),             // a match per end: one hit
  });
  std::vector<HitKey> hits = blockScan(*db, "ababa xyz qwerty");
  REQUIRE(hits.size() == 3);
  CHECK(hits[0] == HitKey{"t.aba", 0, 5});
  CHECK(hits[1] == HitKey{"t.twice", 6, 9});
  CHECK(hits[2] == HitKey{"t.long", 10, 16});
}

TEST_CASE("the start of a variable-width match respects word boundaries and anchors") {
  auto db = compiled({
      spec("t.word", R"(\b[a-z]+-[0-9]{2,4}\b)"),
      spec("t.anchored", R"(^[a-z]{1,8}:)"),
      spec("t.caseless", "ab+c", Validator::None, true),
  });
  CHECK(blockScan(*db, "xx build-123 yy") == std::vector<HitKey>{{"t.word", 3, 12}});
  CHECK(blockScan(*db, "head: tail:") == std::vector<HitKey>{{"t.anchored", 0, 5}});
  CHECK(blockScan(*db, "..ABBBc..") == std::vector<HitKey>{{"t.caseless", 2, 7}});
}

TEST_CASE("an unbounded match longer than the first confirm window gets its real start") {
  auto db = compiled(allPacks());
  const std::string local(700, 'a');
  const std::string text = "to: " + local + "@example.com, " + local + "." + local + "@example.org";
  const uint64_t second = 4 + local.size() + 14;
  CHECK(blockScan(*db, text) == std::vector<HitKey>{{"pii.email", 4, 4 + local.size() + 12},
                                                    {"pii.email", second, text.size()}});
}

TEST_CASE("a validator drops the matches it refuses, keeping the others of its detector") {
  auto db = compiled({spec("t.card", R"(\b[0-9]{16}\b)", Validator::Luhn)});
  CHECK(blockScan(*db, "4111111111111112 4111111111111111") ==
        std::vector<HitKey>{{"t.card", 17, 33}});
}

TEST_CASE("scratch space is re-prepared when handed a different database") {
  auto aws = compiled({spec("only.aws", "AKIA[A-Z2-7]{16}")});
  auto mail = compiled({spec("only.mail", R"([a-z]+@[a-z]+\.[a-z]{2,6})")});
  const std::string text = "AKIAIOSFODNN7EXAMPLE bob@example.org";
  PatternScratch scratch;
  for (int round = 0; round < 2; ++round) {
    std::vector<PatternHit> hits;
    REQUIRE(scratch.scanBlock(*aws, text, hits).ok());
    CHECK(keys(*aws, hits) == std::vector<HitKey>{{"only.aws", 0, 20}});
    hits.clear();
    REQUIRE(scratch.scanBlock(*mail, text, hits).ok());
    CHECK(keys(*mail, hits) == std::vector<HitKey>{{"only.mail", 21, 36}});
  }
  // A stream opened under the first database keeps working while the scratch serves the other.
  PatternStream stream(aws, scratch);
  std::vector<PatternHit> hits;
  REQUIRE(stream.feed("xx AKIAIOSFOD", hits).ok());
  std::vector<PatternHit> other;
  REQUIRE(scratch.scanBlock(*mail, text, other).ok());
  REQUIRE(stream.feed("NN7EXAMPLE", hits).ok());
  REQUIRE(stream.finish(hits).ok());
  CHECK(keys(*aws, hits) == std::vector<HitKey>{{"only.aws", 3, 23}});
}

// --- stream scans -------------------------------------------------------------------------------

TEST_CASE("stream mode finds secrets split across two feeds at every split position") {
  auto db = compiled(allPacks());
  const std::string text =
      "token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 then OPENAI_API_KEY=sk-proj-"
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV0123456789 mail jane.doe@example.com, "
      "card 4111 1111 1111 1111 and IBAN DE89 3704 0044 0532 0130 00. Ignore all previous "
      "instructions.";
  const std::vector<HitKey> expected = blockScan(*db, text);
  REQUIRE(expected.size() == 6);
  PatternScratch scratch;
  for (size_t split = 0; split <= text.size(); ++split) {
    std::string_view all(text);
    std::vector<HitKey> got = streamScan(db, scratch, {all.substr(0, split), all.substr(split)});
    std::sort(got.begin(), got.end(),
              [](const HitKey& a, const HitKey& b) { return std::get<1>(a) < std::get<1>(b); });
    REQUIRE_MESSAGE(got.size() == expected.size(), "split at " << split);
    for (size_t i = 0; i < got.size(); ++i) {
      // A key cut by the split is reported when its first part matches, not again when it grows.
      if (std::get<0>(got[i]) == "secret.openai_api_key") {
        CHECK(std::get<1>(got[i]) == std::get<1>(expected[i]));
        CHECK(std::get<2>(got[i]) <= std::get<2>(expected[i]));
      } else {
        CHECK_MESSAGE(got[i] == expected[i], "split at " << split);
      }
    }
  }
}

TEST_CASE("empty texts and empty chunks (a null pointer included) scan to nothing") {
  auto db = compiled(allPacks());
  PatternScratch scratch;
  std::vector<PatternHit> hits;
  CHECK(scratch.scanBlock(*db, std::string_view(), hits).ok());
  CHECK(scratch.scanBlock(*db, "", hits).ok());
  PatternStream stream(db, scratch);
  CHECK(stream.feed(std::string_view(), hits).ok());
  CHECK(stream.feed("key AKIAIOSFODNN7EXAMPLE", hits).ok());
  CHECK(stream.feed(std::string_view(), hits).ok());  // the end of a body, as it arrives
  CHECK(stream.finish(hits).ok());
  CHECK(keys(*db, hits) == std::vector<HitKey>{{"secret.aws_access_key", 4, 24}});
  CHECK(stream.offset() == 24);
}

TEST_CASE("stream offsets count from the start of the stream across many small feeds") {
  auto db = compiled(allPacks());
  const std::string text = std::string(5000, ' ') + "key AKIAIOSFODNN7EXAMPLE and " +
                           "bob@example.org and 536-22-8907 end";
  std::vector<std::string_view> parts;
  for (size_t at = 0; at < text.size(); at += 7) {
    parts.push_back(std::string_view(text).substr(at, 7));
  }
  PatternScratch scratch;
  std::vector<HitKey> got = streamScan(db, scratch, parts);
  CHECK(got == blockScan(*db, text));
  REQUIRE(got.size() == 3);
  CHECK(std::get<1>(got[0]) == 5004);
}

TEST_CASE("a stream does not report again a match that keeps growing over later feeds") {
  auto db = compiled({spec("t.tok", "tok-[a-z]{4,}")});
  PatternScratch scratch;
  PatternStream stream(db, scratch);
  std::vector<PatternHit> hits;
  REQUIRE(stream.feed("a tok-abcdef", hits).ok());
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].from == 2);
  CHECK(hits[0].to == 12);
  REQUIRE(stream.feed("ghij tok-zzzz", hits).ok());  // the same token longer, then a new one
  REQUIRE(stream.finish(hits).ok());
  REQUIRE(hits.size() == 2);
  CHECK(hits[1].from == 17);
  CHECK(hits[1].to == 25);
}

TEST_CASE("matches that only the end of data completes are reported by finish") {
  auto db = compiled({spec("t.eod", R"(done\z)"), spec("t.word", R"(\bend\b)")});
  PatternScratch scratch;
  PatternStream stream(db, scratch);
  std::vector<PatternHit> hits;
  REQUIRE(stream.feed("we are done", hits).ok());
  REQUIRE(stream.feed(" at the end", hits).ok());
  CHECK(hits.empty());  // "end" may still be followed by a letter
  REQUIRE(stream.finish(hits).ok());
  CHECK(keys(*db, hits) == std::vector<HitKey>{{"t.word", 19, 22}});
  CHECK(!stream.feed("more", hits).ok());

  PatternStream second(db, scratch);
  hits.clear();
  REQUIRE(second.feed("all done", hits).ok());
  REQUIRE(second.finish(hits).ok());
  CHECK(keys(*db, hits) == std::vector<HitKey>{{"t.eod", 4, 8}});
}

TEST_CASE("a match starting before the kept tail is dropped if validated, else kept") {
  // 16 digits that pass Luhn, spread over more than the tail keeps.
  const std::string number =
      "4" + std::string(PatternStream::kTailBytes + 500, ' ') + "111111111111111";
  const std::string text = "n: " + number + " end";
  auto db = compiled({
      spec("t.validated", R"(\d[\d ]{20,}\d)", Validator::Luhn),
      spec("t.plain", R"(\d[\d ]{20,}\d)"),
  });
  CHECK(blockScan(*db, text) == std::vector<HitKey>{{"t.validated", 3, 3 + number.size()},
                                                    {"t.plain", 3, 3 + number.size()}});
  // 100-byte feeds; the final run of digits (offsets 4600 to 4615) falls within one of them.
  std::vector<std::string_view> parts;
  for (size_t at = 0; at < text.size(); at += 100) {
    parts.push_back(std::string_view(text).substr(at, 100));
  }
  PatternScratch scratch;
  std::vector<HitKey> got = streamScan(db, scratch, parts);
  REQUIRE(got.size() == 1);
  CHECK(std::get<0>(got[0]) == "t.plain");
  // Its start is unknown: it is reported from the oldest byte still kept.
  CHECK(std::get<1>(got[0]) > 3);
  CHECK(std::get<1>(got[0]) + PatternStream::kTailBytes + 100 >= std::get<2>(got[0]));
  CHECK(std::get<2>(got[0]) == 3 + number.size());
}

TEST_CASE("a validated match within the kept tail is checked on its bytes across feeds") {
  auto db = compiled({spec("t.card", R"(\b[0-9]{4}(?: [0-9]{4}){3}\b)", Validator::Luhn)});
  PatternScratch scratch;
  CHECK(streamScan(db, scratch, {"pay 4111 11", "11 1111 1111 now"}) ==
        std::vector<HitKey>{{"t.card", 4, 23}});
  CHECK(streamScan(db, scratch, {"pay 4111 11", "11 1111 1112 now"}).empty());
}

TEST_CASE("streams find the digit-driven matches block mode finds, however the body is chunked") {
  // Streams scan the gated detectors over windows of the new bytes and the end of the old ones:
  // a number cut anywhere, even fed one byte at a time, is found once, with the context a whole
  // text gives it (a longer digit run is no number; a number at the very end is one).
  auto db = compiled(allPacks());
  const std::vector<std::string> items = {
      "4111 1111 1111 1111",  "4012888888881881",     "536-22-8907",
      "(415) 555-2671",       "+44 20 7946 0958",     "DE89 3704 0044 0532 0130 00",
      "2025-08-12T10:30:00Z", "12345678901234567890", "415-555-2671"};
  std::mt19937 rng(11);
  PatternScratch scratch;
  for (int round = 0; round < 400; ++round) {
    std::string text;
    const size_t pieces = 1 + rng() % 12;
    for (size_t p = 0; p < pieces; ++p) {
      switch (rng() % 4) {
        case 0:
          text += items[rng() % items.size()];
          break;
        case 1:
          text += std::to_string(rng() % 100000);
          break;
        case 2:
          text += std::string(1 + rng() % 3, " -.,("[rng() % 5]);
          break;
        default:
          text += std::string(1 + rng() % 90, 'x') + " ";
      }
    }
    const std::vector<HitKey> expected = blockScan(*db, text);
    std::vector<std::string_view> parts;
    const size_t most = round % 4 == 0 ? 1 : 1 + rng() % 120;
    for (size_t at = 0; at < text.size();) {
      const size_t n = std::min(text.size() - at, 1 + rng() % most);
      parts.push_back(std::string_view(text).substr(at, n));
      at += n;
    }
    // Streams report in the order matches end; block scans order by start.
    auto byOffsets = [](std::vector<HitKey> v) {
      std::sort(v.begin(), v.end(), [](const HitKey& a, const HitKey& b) {
        return std::tie(std::get<1>(a), std::get<2>(a), std::get<0>(a)) <
               std::tie(std::get<1>(b), std::get<2>(b), std::get<0>(b));
      });
      return v;
    };
    const std::vector<HitKey> got = byOffsets(streamScan(db, scratch, parts));
    const std::vector<HitKey> want = byOffsets(expected);
    REQUIRE_MESSAGE(got == want,
                    "round " << round << " text [" << text << "] in " << parts.size() << " parts");
  }
}

// --- the digit gate ----------------------------------------------------------------------------

// The largest cluster of digits (at most kGateGap other bytes from one to the next) in `span`.
size_t largestCluster(std::string_view span) {
  size_t best = 0, count = 0, since = 0;  // since: bytes after the last digit
  for (char c : span) {
    if (c >= '0' && c <= '9') {
      count = (count > 0 && since <= digit_gate::kGateGap) ? count + 1 : 1;
      best = std::max(best, count);
      since = 0;
    } else {
      ++since;
    }
  }
  return best;
}

TEST_CASE("the digit gate covers every short span holding a cluster of digits, with its context") {
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    std::string text(1 + rng() % 600, 'a');
    const unsigned density = 3 + rng() % 25;  // percent of digits: sparse to dense
    for (char& c : text) {
      unsigned roll = rng() % 100;
      if (roll < density)
        c = static_cast<char>('0' + rng() % 10);
      else if (roll < density + 15)
        c = " -.()"[rng() % 5];
    }
    const size_t width = 8 + rng() % 60;
    std::vector<digit_gate::Range> ranges, portable;
    digit_gate::denseRanges(text, width, ranges);
    // The vector path the CPU may take and the portable one give the same ranges.
    digit_gate::denseRangesPortable(text, width, portable);
    REQUIRE(ranges.size() == portable.size());
    for (size_t i = 0; i < ranges.size(); ++i) {
      CHECK(ranges[i].begin == portable[i].begin);
      CHECK(ranges[i].end == portable[i].end);
    }
    for (size_t i = 1; i < ranges.size(); ++i) CHECK(ranges[i - 1].end < ranges[i].begin);
    // Every span of at most `width` bytes with a cluster of kGateDigits lies inside one range,
    // one byte in from its start and two from its end, unless the range reaches the text's edge.
    size_t spans = 0;
    for (size_t from = 0; from < text.size(); ++from) {
      for (size_t to = from; to < text.size() && to - from < width; ++to) {
        if (largestCluster(std::string_view(text).substr(from, to - from + 1)) <
            digit_gate::kGateDigits) {
          continue;
        }
        ++spans;
        bool covered = false;
        for (const digit_gate::Range& r : ranges) {
          const bool left = from == 0 ? r.begin == 0 : r.begin + 1 <= from;
          const bool right = r.end == text.size() || to + 3 <= r.end;
          covered = covered || (left && right);
        }
        REQUIRE_MESSAGE(covered, "round " << round << " span " << from << ".." << to);
      }
    }
    if (spans == 0) CHECK(ranges.empty());
  }
}

TEST_CASE("the digit gate passes over digits that form no cluster") {
  // Numbers of prose and JSON: counts, years, ids of five digits, none six digits close together.
  const std::string text =
      R"(In 1853, about 643 of them came; "id": 79706, "count": 57, "rank": 3 of 12 (1 + 2).)";
  std::vector<digit_gate::Range> ranges;
  digit_gate::denseRanges(text, 64, ranges);
  CHECK(ranges.empty());
  // A date and a time are a cluster: "2025-08-12T10:30" has its digits at most one byte apart.
  digit_gate::denseRanges(text + R"( "at": "2025-08-12T10:30:00Z")", 64, ranges);
  CHECK(ranges.size() == 1);
}

TEST_CASE("digit-driven detectors find matches at every alignment and nothing at range edges") {
  auto db = compiled(allPacks());
  const std::string prose = "The quick brown fox jumps over the lazy dog while we wait. ";
  for (size_t shift = 0; shift < 40; ++shift) {
    const std::string text = prose + std::string(shift, 'x') + " card 4111111111111111, ssn " +
                             "536-22-8907 and (415) 555-2671. " + prose;
    const uint64_t card = prose.size() + shift + 6;
    const std::vector<HitKey> expected = {{"pii.payment_card", card, card + 16},
                                          {"pii.us_ssn", card + 22, card + 33},
                                          {"pii.phone", card + 38, card + 52}};
    CHECK_MESSAGE(blockScan(*db, text) == expected, "shift " << shift);
  }
  // A long run of digits is no card, SSN or phone number, wherever a scanned range begins.
  for (size_t shift = 0; shift < 40; ++shift) {
    const std::string text =
        prose + std::string(shift, 'x') + " " + std::string(90, '7') + "-22-8907 " + prose;
    CHECK_MESSAGE(blockScan(*db, text).empty(), "shift " << shift);
  }
}

// --- regex analysis
// -------------------------------------------------------------------------------

TEST_CASE("top-level alternatives are split only when that keeps the meaning") {
  using regex_shape::topLevelBranches;
  CHECK(topLevelBranches("abc|def") == std::vector<std::string>{"abc", "def"});
  CHECK(topLevelBranches("(?i)abc|d[|]f") == std::vector<std::string>{"(?i)abc", "(?i)d[|]f"});
  CHECK(topLevelBranches("(abc|def)") == std::vector<std::string>{"(abc|def)"});
  CHECK(topLevelBranches(R"(a\|b)") == std::vector<std::string>{R"(a\|b)"});
  CHECK(topLevelBranches("a(?i)b|c") == std::vector<std::string>{"a(?i)b|c"});
  CHECK(topLevelBranches("(?x)a | b") == std::vector<std::string>{"(?x)a | b"});
  CHECK(topLevelBranches("abc|") == std::vector<std::string>{"abc|"});
  CHECK(topLevelBranches(R"([]|]x|y)") == std::vector<std::string>{"[]|]x", "y"});
}

TEST_CASE("the required literal and first-byte analysis reads Hyperscan's syntax") {
  using regex_shape::mayStartWithLowercase;
  using regex_shape::requiredLiteralLength;
  CHECK(requiredLiteralLength("abc") == 3);
  CHECK(requiredLiteralLength("a?bcd") == 3);
  CHECK(requiredLiteralLength("ab+cd") == 2);
  CHECK(requiredLiteralLength(R"(\bfoo\b)") == 3);
  CHECK(requiredLiteralLength("(?:abcd|xy)z") == 2);
  CHECK(requiredLiteralLength(R"(hooks\.slack\.com)") == 15);
  CHECK(requiredLiteralLength("[a-z]+@[a-z]+") == 1);
  CHECK(requiredLiteralLength(R"((?<=a)bcd)") == 0);  // not modelled: nothing learned
  CHECK(!mayStartWithLowercase("[0-9]+x", false));
  CHECK(!mayStartWithLowercase(R"(\b[A-Z]{2}[0-9]{2})", false));
  CHECK(mayStartWithLowercase(R"(\b[A-Z]{2}[0-9]{2})", true));
  CHECK(mayStartWithLowercase("(?i)X", false));
  CHECK(mayStartWithLowercase("[a-z]", false));
  CHECK(mayStartWithLowercase("x?[0-9]", false));
  CHECK(mayStartWithLowercase(R"(\w)", false));
  CHECK(!mayStartWithLowercase(R"(\+[0-9]|\([0-9])", false));
}

TEST_CASE(
    "digit clusters: counted through repeats, joined across short gaps, least of alternatives") {
  using regex_shape::clusteredDigits;
  CHECK(clusteredDigits(R"(\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b)", 2) == 9);
  CHECK(clusteredDigits(R"(\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b)", 0) == 4);
  CHECK(clusteredDigits(R"(\d{4}(?: ?\d{4}){3})", 1) == 16);
  CHECK(clusteredDigits(R"(\d{4}(?: ?\d{4}){3})", 0) == 4);  // the spaces are optional, not absent
  CHECK(clusteredDigits(R"(\([2-9][0-9]{2}\) ?[2-9][0-9]{2}[.-][0-9]{4})", 2) == 10);
  CHECK(clusteredDigits(R"(\([2-9][0-9]{2}\) ?[2-9][0-9]{2}[.-][0-9]{4})", 1) == 7);
  // Grouped E.164: "+1 (4) 55 66" is the shortest, six digits two bytes apart at most.
  CHECK(clusteredDigits(
            R"(\+[1-9][0-9]{0,2}[ .-](?:\([0-9]{1,4}\)|[0-9]{1,4})(?:[ .-][0-9]{2,4}){2,4}\b)",
            2) == 6);
  // An IBAN's letters may be anywhere but in its two digit-only groups.
  CHECK(clusteredDigits(R"(\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){0,3}(?: ?[0-9]{4}){2}\b)", 2) == 8);
  CHECK(clusteredDigits("(?:12|3)[0-9a-f]{8}", 2) == 1);  // a class with letters may hold none
  CHECK(clusteredDigits("[0-9]?x[1-9]+", 2) == 1);
  CHECK(clusteredDigits("[0-9]{3}(?:x|yyy)[0-9]{3}", 2) == 3);  // the longer branch bounds the gap
  CHECK(clusteredDigits("[0-9]{3}(?:-+)[0-9]{3}", 9) == 3);     // an unbounded gap
  CHECK(clusteredDigits("(?:[0-9]-)+", 1) == 1);                // repeats join: 1-2-3-
  CHECK(clusteredDigits("(?:[0-9]-){6}", 1) == 6);
  CHECK(clusteredDigits("(?:[0-9]|abc)+", 2) == 0);  // may hold no digit at all
  CHECK(clusteredDigits("abc", 2) == 0);
  CHECK(clusteredDigits(R"((?<=a)[0-9]{8})", 2) == 0);  // not modelled: nothing learned
  CHECK(clusteredDigits("[0-9]{5000}", 2) == 0);        // too long to unroll
}

TEST_SUITE_END();

}  // namespace
}  // namespace aiw
