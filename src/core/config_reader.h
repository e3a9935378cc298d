// Internals of the configuration loader (config_loader.h), shared by its .cc files: error
// collection and typed, line-aware reads of yaml-cpp nodes. Not for use outside src/core.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"

namespace aiw::config_detail {

// Every problem found in one load, across all the files it reads, so that `aiwarden check`
// lists them all at once.
class ConfigErrors {
 public:
  void add(const std::string& file, int line, std::string message);
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  // "FILE:LINE: message" lines, grouped by file (in the order files were read), then by line.
  Error toError() const;

 private:
  struct Entry {
    std::string file;
    int line;
    std::string message;
  };
  std::vector<Entry> entries_;
};

using KeyVisitor = std::function<void(const std::string& key, int key_line, const YAML::Node&)>;
using ItemVisitor = std::function<void(size_t index, int line, const YAML::Node&)>;

// Reads typed values out of one YAML document, reporting problems against its file. `path` is
// the dotted location of a value ("listeners[1].address"), prefixed to its messages. Every
// read* returns false (after reporting) when the value is unusable, leaving `out` untouched.
class NodeReader {
 public:
  NodeReader(std::string file, ConfigErrors& errors) : file_(std::move(file)), errors_(errors) {}

  const std::string& file() const { return file_; }
  void error(int line, const std::string& path, const std::string& message);

  // 1-based line of a node. yaml-cpp marks an empty (null) value at the next token, often
  // lines below its key, so null nodes and unmarked nodes report `fallback`.
  static int lineOf(const YAML::Node& node, int fallback);
  static std::string child(const std::string& path, std::string_view key);
  static std::string item(const std::string& path, size_t index);

  // Calls `visit` for each key of a map in document order. Reports a value that is not a map,
  // non-string and duplicate keys, and (when `allowed` is non-empty) keys not in `allowed`,
  // with a "did you mean" hint. An empty (null) value is an empty map.
  void forEachKey(const YAML::Node& map, int line, const std::string& path,
                  std::span<const std::string_view> allowed, const KeyVisitor& visit);
  // The same for a list; an empty (null) value is an empty list. Empty items are reported,
  // not visited.
  void forEachItem(const YAML::Node& seq, int line, const std::string& path,
                   const ItemVisitor& visit);

  bool readString(const YAML::Node& v, int line, const std::string& path, std::string& out);
  bool readBool(const YAML::Node& v, int line, const std::string& path, bool& out);
  bool readUnsigned(const YAML::Node& v, int line, const std::string& path, uint64_t min,
                    uint64_t max, uint64_t& out);
  template <typename T>
  bool readUnsigned(const YAML::Node& v, int line, const std::string& path, uint64_t min, T& out) {
    uint64_t value = 0;
    if (!readUnsigned(v, line, path, min, std::numeric_limits<T>::max(), value)) return false;
    out = static_cast<T>(value);
    return true;
  }
  bool readHostPort(const YAML::Node& v, int line, const std::string& path, HostPort& out);
  // An absolute http:// or https:// URL with a host.
  bool readUrl(const YAML::Node& v, int line, const std::string& path, std::string& out);

 private:
  std::string file_;
  ConfigErrors& errors_;
};

// The closest of `allowed` within edit distance 2 of `key`, or "" when none is.
std::string suggestKey(std::string_view key, std::span<const std::string_view> allowed);

// Empty when `url` is an acceptable upstream URL, else why not.
std::string checkUpstreamUrl(std::string_view url);

// A plain (unquoted, untagged) scalar, as opposed to a quoted string.
bool isPlainScalar(const YAML::Node& node);

// What the main document says about the filter chain; the loader resolves it once the whole
// document is read, because `filters` and `filters_dir` exclude each other.
struct ChainDecl {
  bool has_filters = false;
  YAML::Node filters;
  int filters_line = 0;
  bool has_filters_dir = false;
  bool filters_dir_ok = false;  // false: its value was not a string (already reported)
  std::string filters_dir;
  int filters_dir_line = 0;
};

// Fills `out` from the main document (everything but the chain, which goes to `chain`).
void parseConfigDocument(const YAML::Node& root, NodeReader& reader, Config& out, ChainDecl& chain);

// One chain entry: a whole filters.d file (path "") or one item of inline `filters:`.
// Appends it to `out` when it is usable.
void parseFilterSpec(const YAML::Node& node, int line, const std::string& path, NodeReader& reader,
                     std::vector<FilterSpec>& out);

}  // namespace aiw::config_detail
