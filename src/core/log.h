// Logging: one line per event on stderr, human-readable by default or JSON (--log-format json).
// Thread-safe: each line is formatted off-lock and written with a single write(2).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace aiw {

enum class LogLevel { Debug, Info, Warn, Error };
enum class LogFormat { Human, Json };

using LogFields = std::initializer_list<std::pair<std::string_view, std::string_view>>;

namespace log {

void setFormat(LogFormat format);
void setLevel(LogLevel level);
bool enabled(LogLevel level);
void write(LogLevel level, std::string_view message, LogFields fields = {});

inline void debug(std::string_view m, LogFields f = {}) {
  if (enabled(LogLevel::Debug)) write(LogLevel::Debug, m, f);
}
inline void info(std::string_view m, LogFields f = {}) { write(LogLevel::Info, m, f); }
inline void warn(std::string_view m, LogFields f = {}) { write(LogLevel::Warn, m, f); }
inline void error(std::string_view m, LogFields f = {}) { write(LogLevel::Error, m, f); }

}  // namespace log

// "2026-11-21T10:00:00.123Z" for the current wall-clock time.
std::string utcTimestampNow();
// Appends `s` to `out` as JSON string contents (without quotes), escaping as RFC 8259 requires.
void appendJsonEscaped(std::string& out, std::string_view s);

// The two halves of that escaping, for writers that fill a buffer of their own (the reporter's
// encoder): bytes a JSON string cannot hold as they are — controls, the quote, the backslash;
// everything else, UTF-8 included, is copied.
inline bool jsonNeedsEscape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }
// The escape of such a byte, written at `out`; returns the end (at most kJsonEscapeMax bytes).
constexpr size_t kJsonEscapeMax = 6;  // "\u001f"
char* writeJsonEscape(char* out, unsigned char c);

}  // namespace aiw
