#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace aiw {

namespace {
std::atomic<LogFormat> g_format{LogFormat::Human};
std::atomic<LogLevel> g_level{LogLevel::Info};

const char* levelName(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
  }
  return "info";
}

bool needsQuoting(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}
}  // namespace

char* writeJsonEscape(char* out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char* named = nullptr;
  switch (c) {
    case '"': named = "\\\""; break;
    case '\\': named = "\\\\"; break;
    case '\n': named = "\\n"; break;
    case '\r': named = "\\r"; break;
    case '\t': named = "\\t"; break;
    default: {
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
      std::memcpy(out, esc, sizeof esc);
      return out + sizeof esc;
    }
  }
  out[0] = named[0];
  out[1] = named[1];
  return out + 2;
}

void appendJsonEscaped(std::string& out, std::string_view s) {
  // Runs of characters that need no escape are appended whole: this encodes tool results and
  // error bodies, where a call per character was most of the time.
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (!jsonNeedsEscape(c)) continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    char esc[kJsonEscapeMax];
    out.append(esc, static_cast<size_t>(writeJsonEscape(esc, c) - esc));
  }
  out.append(s.data() + run, s.size() - run);
}

std::string utcTimestampNow() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

namespace log {

void setFormat(LogFormat format) { g_format.store(format, std::memory_order_relaxed); }
void setLevel(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }
bool enabled(LogLevel level) { return level >= g_level.load(std::memory_order_relaxed); }

void write(LogLevel level, std::string_view message, LogFields fields) {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(128);
  if (g_format.load(std::memory_order_relaxed) == LogFormat::Json) {
    line += "{\"ts\":\"";
    line += utcTimestampNow();
    line += "\",\"level\":\"";
    line += levelName(level);
    line += "\",\"msg\":\"";
    appendJsonEscaped(line, message);
    line += '"';
    for (const auto& [k, v] : fields) {
      line += ",\"";
      appendJsonEscaped(line, k);
      line += "\":\"";
      appendJsonEscaped(line, v);
      line += '"';
    }
    line += "}\n";
  } else {
    line += utcTimestampNow();
    line += ' ';
    line += levelName(level);
    line += ' ';
    line += message;
    for (const auto& [k, v] : fields) {
      line += ' ';
      line += k;
      line += '=';
      if (needsQuoting(v)) {
        line += '"';
        appendJsonEscaped(line, v);
        line += '"';
      } else {
        line += v;
      }
    }
    line += '\n';
  }
  // One write per line keeps lines from different threads whole.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace log
}  // namespace aiw
