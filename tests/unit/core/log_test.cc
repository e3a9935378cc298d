// Logging helpers: JSON string escaping, the UTC timestamp format, and whole log lines (stderr
// captured into a file for the test).
#include "core/log.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace aiw {
namespace {

using namespace std::string_literals;

std::string escaped(std::string_view s) {
  std::string out;
  appendJsonEscaped(out, s);
  return out;
}

// Parses "\"" + escaped + "\"" as a JSON document and returns the string it holds.
std::optional<std::string> roundTrip(std::string_view s) {
  std::string doc = "\"" + escaped(s) + "\"";
  rapidjson::Document d;
  d.Parse(doc.c_str(), doc.size());
  if (d.HasParseError() || !d.IsString()) return std::nullopt;
  return std::string(d.GetString(), d.GetStringLength());
}

TEST_CASE("appendJsonEscaped escapes quotes, backslashes and control characters") {
  CHECK(escaped("plain text") == "plain text");
  CHECK(escaped("say \"hi\"") == "say \\\"hi\\\"");
  CHECK(escaped("C:\\dir") == "C:\\\\dir");
  CHECK(escaped("a\nb\rc\td") == "a\\nb\\rc\\td");
  CHECK(escaped("\x01\x1f") == "\\u0001\\u001f");
  CHECK(escaped("\b\f") == "\\u0008\\u000c");
  CHECK(escaped("nul:\0!"s) == "nul:\\u0000!");
  // Printable ASCII, DEL and UTF-8 pass through unchanged.
  CHECK(escaped("~\x7f") == "~\x7f");
  CHECK(escaped("caf\xc3\xa9 \xe2\x82\xac") == "caf\xc3\xa9 \xe2\x82\xac");
  CHECK(escaped("/") == "/");
}

TEST_CASE("appendJsonEscaped appends, and what it writes parses back to the input") {
  std::string out = "{\"k\":\"";
  appendJsonEscaped(out, "v\"");
  CHECK(out == "{\"k\":\"v\\\"");

  std::string every_ascii;
  for (int c = 0; c < 128; ++c) every_ascii.push_back(static_cast<char>(c));
  CHECK(roundTrip(every_ascii) == every_ascii);
  CHECK(roundTrip("line1\nline2 \"quoted\" \\ \xc3\xa9") == "line1\nline2 \"quoted\" \\ \xc3\xa9");
  CHECK(roundTrip("") == "");
}

// True for "YYYY-MM-DDTHH:MM:SS.mmmZ": digits where the pattern has 'd'. (No std::regex: GCC 12
// warns inside it under the sanitizer build's -Werror.)
bool isTimestampShape(std::string_view ts) {
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (ts.size() != kShape.size()) return false;
  for (size_t i = 0; i < ts.size(); ++i) {
    const bool digit = ts[i] >= '0' && ts[i] <= '9';
    if (kShape[i] == 'd' ? !digit : ts[i] != kShape[i]) return false;
  }
  return true;
}

// UTC broken-down time -> seconds since the epoch, independent of TZ.
time_t parseUtc(const std::string& ts) {
  std::tm tm{};
  REQUIRE(std::sscanf(ts.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return timegm(&tm);
}

// Sets TZ for the scope of a test (so "UTC" cannot be confused with local time).
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTz() {
    if (old_) {
      setenv("TZ", old_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }

 private:
  std::optional<std::string> old_;
};

TEST_CASE("the timestamp shape check itself refuses near misses") {
  CHECK(isTimestampShape("2026-11-21T10:00:00.123Z"));
  CHECK_FALSE(isTimestampShape("2026-11-21T10:00:00.123"));
  CHECK_FALSE(isTimestampShape("2026-11-21 10:00:00.123Z"));
  CHECK_FALSE(isTimestampShape("2026-11-21T10:00:00.12Z"));
  CHECK_FALSE(isTimestampShape("2026-11-21T10:00:00+123Z"));
}

TEST_CASE("utcTimestampNow is ISO 8601 UTC with milliseconds, whatever the local zone") {
  ScopedTz tz("IST-5:30");  // 5 h 30 ahead of UTC
  // The same clock as the logger's: std::time() reads a coarse clock that can still show the
  // previous second a few milliseconds after system_clock has moved on.
  using Clock = std::chrono::system_clock;
  const time_t before = Clock::to_time_t(Clock::now());
  const std::string ts = utcTimestampNow();
  const time_t after = Clock::to_time_t(Clock::now());
  CAPTURE(ts);
  CHECK(isTimestampShape(ts));
  const time_t t = parseUtc(ts);
  CHECK(t >= before);
  CHECK(t <= after);
  // Month 01-12, day 01-31, hour 00-23: fields in range (a local/UTC mix-up or an off-by-one
  // in the month would show here or above).
  int y, mo, d, h, mi, s, ms;
  REQUIRE(std::sscanf(ts.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &y, &mo, &d, &h, &mi, &s, &ms) == 7);
  CHECK(mo >= 1);
  CHECK(mo <= 12);
  CHECK(d >= 1);
  CHECK(d <= 31);
  CHECK(h <= 23);
  CHECK(ms >= 0);
  CHECK(ms <= 999);
}

// Captures what log::write puts on stderr during its lifetime.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    tmp_ = std::tmpfile();
    REQUIRE(tmp_ != nullptr);
    file_ = ::fileno(tmp_);
    saved_ = ::dup(STDERR_FILENO);
    REQUIRE(saved_ >= 0);
    REQUIRE(::dup2(file_, STDERR_FILENO) == STDERR_FILENO);
  }
  ~StderrCapture() {
    restore();
    std::fclose(tmp_);
  }
  std::string text() {
    restore();
    std::string out;
    char buf[4096];
    ::lseek(file_, 0, SEEK_SET);
    for (ssize_t n; (n = ::read(file_, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    return out;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::FILE* tmp_ = nullptr;
  int file_ = -1;
  int saved_ = -1;
};

// Puts the logger back to its defaults after a test changed them.
struct LoggerDefaults {
  ~LoggerDefaults() {
    log::setFormat(LogFormat::Human);
    log::setLevel(LogLevel::Info);
  }
};

TEST_CASE("a JSON log line is one JSON object with every field escaped") {
  LoggerDefaults defaults;
  log::setFormat(LogFormat::Json);
  StderrCapture cap;
  log::warn("upstream \"failed\"", {{"target", "api.example.com:443"}, {"why", "line1\nline2"}});
  std::string out = cap.text();
  REQUIRE(!out.empty());
  CHECK(out.back() == '\n');
  CHECK(out.find('\n') == out.size() - 1);  // exactly one line
  rapidjson::Document d;
  d.Parse(out.c_str(), out.size() - 1);
  REQUIRE_MESSAGE(!d.HasParseError(), out);
  CHECK(std::string(d["level"].GetString()) == "warn");
  CHECK(std::string(d["msg"].GetString()) == "upstream \"failed\"");
  CHECK(std::string(d["target"].GetString()) == "api.example.com:443");
  CHECK(std::string(d["why"].GetString()) == "line1\nline2");
  CHECK(isTimestampShape(d["ts"].GetString()));
}

TEST_CASE("a human log line quotes values with spaces or quotes and leaves plain ones bare") {
  LoggerDefaults defaults;
  log::setFormat(LogFormat::Human);
  StderrCapture cap;
  log::info("listening", {{"address", "127.0.0.1:8080"}, {"name", "my proxy"}, {"empty", ""}});
  std::string out = cap.text();
  CHECK(out.find(" info listening address=127.0.0.1:8080 name=\"my proxy\" empty=\"\"\n") !=
        std::string::npos);
}

TEST_CASE("lines below the level are not written") {
  LoggerDefaults defaults;
  log::setLevel(LogLevel::Warn);
  CHECK_FALSE(log::enabled(LogLevel::Info));
  CHECK(log::enabled(LogLevel::Error));
  StderrCapture cap;
  log::info("quiet");
  log::debug("quieter");
  log::error("loud");
  std::string out = cap.text();
  CHECK(out.find("quiet") == std::string::npos);
  CHECK(out.find("loud") != std::string::npos);
}

}  // namespace
}  // namespace aiw
