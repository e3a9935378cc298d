// applyParamOverrides: the body is re-written compactly in one SAX pass, the overridden members'
// values swapped on the way and the missing ones appended. No DOM: numbers are copied as written
// (RapidJSON 1.1's full-precision conversion misreads some, "0E62" among them) and nothing
// recurses, however deep the body.
// json_text.h first: it configures RapidJSON (SSE2) for the whole library.
#include "ai/json_text.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <utility>
#include <vector>

#include "ai/request_facts.h"

namespace aiw::ai {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// One top-level member of the overrides, its value as compact JSON.
struct OverrideMember {
  std::string name;
  std::string value_json;
  rapidjson::Type type = rapidjson::kNullType;
};

// Writes the overrides compactly and cuts each top-level member's value out of the output.
class OverridesReader : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, OverridesReader> {
 public:
  explicit OverridesReader(std::vector<OverrideMember>& members)
      : members_(members), writer_(buffer_) {}

  bool Null() { return begin(rapidjson::kNullType) && writer_.Null() && end(); }
  bool Bool(bool b) {
    return begin(b ? rapidjson::kTrueType : rapidjson::kFalseType) && writer_.Bool(b) && end();
  }
  bool RawNumber(const char* str, rapidjson::SizeType len, bool) {
    return begin(rapidjson::kNumberType) && writer_.RawValue(str, len, rapidjson::kNumberType) &&
           end();
  }
  bool String(const char* str, rapidjson::SizeType len, bool) {
    return begin(rapidjson::kStringType) && writer_.String(str, len) && end();
  }
  bool Key(const char* str, rapidjson::SizeType len, bool) {
    if (depth_ == 1) members_.push_back(OverrideMember{std::string(str, len), {}, {}});
    return writer_.Key(str, len);
  }
  bool StartObject() {
    if (!begin(rapidjson::kObjectType)) return false;
    ++depth_;
    return writer_.StartObject();
  }
  bool StartArray() {
    if (!begin(rapidjson::kArrayType)) return false;
    ++depth_;
    return writer_.StartArray();
  }
  bool EndObject(rapidjson::SizeType) {
    --depth_;
    return writer_.EndObject() && end();
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    return writer_.EndArray() && end();
  }

 private:
  // Returns false (ending the parse) when the root is not an object.
  bool begin(rapidjson::Type type) {
    if (depth_ == 0) return type == rapidjson::kObjectType;
    if (depth_ == 1) {
      members_.back().type = type;
      value_begin_ = buffer_.GetSize() + 1;  // the writer puts ':' before the value
    }
    return true;
  }
  bool end() {
    if (depth_ == 1) {
      members_.back().value_json.assign(buffer_.GetString() + value_begin_,
                                        buffer_.GetSize() - value_begin_);
    }
    return true;
  }

  std::vector<OverrideMember>& members_;
  rapidjson::StringBuffer buffer_;
  Writer writer_;
  size_t depth_ = 0;
  size_t value_begin_ = 0;
};

Result<std::vector<OverrideMember>> readOverrides(std::string_view json) {
  std::vector<OverrideMember> members;
  OverridesReader reader_handler(members);
  JsonViewStream stream(json);
  rapidjson::Reader reader;
  const rapidjson::ParseResult parsed = reader.Parse<kSaxParseFlags>(stream, reader_handler);
  if (parsed.Code() == rapidjson::kParseErrorTermination) {
    return makeError("bad_json", "the parameter overrides are not a JSON object");
  }
  if (parsed.IsError())
    return badJsonError("the parameter overrides", parsed.Code(), parsed.Offset());
  return members;
}

// One step of the path from the body's root to the object that takes the overrides.
struct PathStep {
  bool is_index = false;
  size_t index = 0;
  std::string_view key;
};

// Copies the body to a writer, compactly, and applies the overrides to the object at `target`.
// Objects on the way that lack the next member get it ({"params":{"arguments":{...}}}).
class OverrideWriter : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, OverrideWriter> {
 public:
  OverrideWriter(std::vector<PathStep> target, std::vector<OverrideMember>& overrides)
      : target_(std::move(target)),
        overrides_(overrides),
        used_(overrides.size(), false),
        writer_(buffer_) {}

  bool Null() { return skipped() || (begin(rapidjson::kNullType) && writer_.Null()); }
  bool Bool(bool b) {
    return skipped() ||
           (begin(b ? rapidjson::kTrueType : rapidjson::kFalseType) && writer_.Bool(b));
  }
  bool RawNumber(const char* str, rapidjson::SizeType len, bool) {
    return skipped() ||
           (begin(rapidjson::kNumberType) && writer_.RawValue(str, len, rapidjson::kNumberType));
  }
  bool String(const char* str, rapidjson::SizeType len, bool) {
    return skipped() || (begin(rapidjson::kStringType) && writer_.String(str, len));
  }
  bool Key(const char* str, rapidjson::SizeType len, bool);
  bool StartObject() { return start(rapidjson::kObjectType); }
  bool StartArray() { return start(rapidjson::kArrayType); }
  bool EndObject(rapidjson::SizeType) { return end(false); }
  bool EndArray(rapidjson::SizeType) { return end(true); }

  const std::string& problem() const { return problem_; }
  std::string output() const { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  static constexpr int kOffPath = -1;

  struct Frame {
    bool is_array = false;
    int level = kOffPath;     // steps of target_ this container's location matches
    size_t next_index = 0;    // arrays: index of the next element
    bool found_next = false;  // the member or element of the next step was seen
    std::string key;          // objects on the path: the current member's name
  };

  bool isTarget(const Frame& f) const { return f.level == static_cast<int>(target_.size()); }
  bool fail(std::string problem) {
    problem_ = std::move(problem);
    return false;
  }

  // Inside a replaced member's original value, everything is dropped.
  bool skipped() {
    if (skip_depth_ > 0) return true;
    if (!skip_next_value_) return false;
    skip_next_value_ = false;  // a scalar: dropped whole
    return true;
  }

  bool begin(rapidjson::Type type);
  bool start(rapidjson::Type type);
  bool end(bool is_array);
  void writeOverrides(bool only_unused);

  std::vector<PathStep> target_;
  std::vector<OverrideMember>& overrides_;
  std::vector<bool> used_;
  std::vector<Frame> frames_;
  int pending_level_ = kOffPath;  // level of the value begin() just accepted
  bool skip_next_value_ = false;
  size_t skip_depth_ = 0;
  std::string problem_;
  rapidjson::StringBuffer buffer_;
  Writer writer_;
};

bool OverrideWriter::Key(const char* str, rapidjson::SizeType len, bool) {
  if (skip_depth_ > 0) return true;
  Frame& frame = frames_.back();
  if (frame.level != kOffPath) frame.key.assign(str, len);
  if (!writer_.Key(str, len)) return false;
  if (!isTarget(frame)) return true;
  const std::string_view name(str, len);
  for (size_t i = 0; i < overrides_.size(); ++i) {
    if (overrides_[i].name != name) continue;
    // Every duplicate of the member is replaced, so no stale copy reaches the upstream.
    used_[i] = true;
    skip_next_value_ = true;
    const OverrideMember& o = overrides_[i];
    return writer_.RawValue(o.value_json.data(), o.value_json.size(), o.type);
  }
  return true;
}

// A value starts: works out whether it lies on the path to the target.
bool OverrideWriter::begin(rapidjson::Type type) {
  pending_level_ = kOffPath;
  const bool is_object = type == rapidjson::kObjectType;
  if (frames_.empty()) {
    const bool wants_array = !target_.empty() && target_[0].is_index;
    if (wants_array ? type != rapidjson::kArrayType : !is_object) {
      return fail(wants_array ? "the request body is not a JSON array"
                              : "the request body is not a JSON object");
    }
    pending_level_ = 0;
    return true;
  }
  Frame& parent = frames_.back();
  const size_t index = parent.is_array ? parent.next_index++ : 0;
  if (parent.level == kOffPath || isTarget(parent)) return true;
  const PathStep& step = target_[static_cast<size_t>(parent.level)];
  const bool on_path = parent.is_array ? step.is_index && step.index == index
                                       : !step.is_index && step.key == parent.key;
  if (!on_path) return true;
  parent.found_next = true;
  if (!is_object) return fail("the request's " + std::string(step.key) + " is not an object");
  pending_level_ = parent.level + 1;
  return true;
}

bool OverrideWriter::start(rapidjson::Type type) {
  const bool is_array = type == rapidjson::kArrayType;
  if (skip_depth_ > 0 || skip_next_value_) {
    skip_next_value_ = false;
    ++skip_depth_;
    return true;
  }
  if (!begin(type)) return false;
  Frame& frame = frames_.emplace_back();
  frame.is_array = is_array;
  frame.level = pending_level_;
  return is_array ? writer_.StartArray() : writer_.StartObject();
}

bool OverrideWriter::end(bool is_array) {
  if (skip_depth_ > 0) {
    --skip_depth_;
    return true;
  }
  const Frame& frame = frames_.back();
  if (isTarget(frame)) {
    writeOverrides(/*only_unused=*/true);
  } else if (frame.level != kOffPath && !frame.found_next) {
    const PathStep& step = target_[static_cast<size_t>(frame.level)];
    if (step.is_index) return fail("the batch has no request " + std::to_string(step.index));
    // Build the missing objects down to the target, the overrides as its only members.
    for (size_t i = static_cast<size_t>(frame.level); i < target_.size(); ++i) {
      writer_.Key(target_[i].key.data(), static_cast<rapidjson::SizeType>(target_[i].key.size()));
      writer_.StartObject();
    }
    writeOverrides(/*only_unused=*/false);
    for (size_t i = static_cast<size_t>(frame.level); i < target_.size(); ++i) writer_.EndObject();
  }
  frames_.pop_back();
  return is_array ? writer_.EndArray() : writer_.EndObject();
}

void OverrideWriter::writeOverrides(bool only_unused) {
  for (size_t i = 0; i < overrides_.size(); ++i) {
    if (only_unused && used_[i]) continue;
    const OverrideMember& o = overrides_[i];
    writer_.Key(o.name.data(), static_cast<rapidjson::SizeType>(o.name.size()));
    writer_.RawValue(o.value_json.data(), o.value_json.size(), o.type);
    used_[i] = true;
  }
}

// Where the overrides go: the request object, a sidecar tool call's "args", or for MCP
// tools/call its params.arguments (in a
// batch, of the request parseRequest reported: the first tools/call, whose ToolCall names it
// "[k].params").
std::vector<PathStep> overrideTarget(std::string_view body, const RequestFacts& facts) {
  std::vector<PathStep> path;
  if (facts.endpoint.kind == ApiKind::SidecarToolCall) {
    path.push_back(PathStep{false, 0, "args"});
    return path;
  }
  if (facts.endpoint.kind != ApiKind::McpJsonRpc || facts.jsonrpc_method != "tools/call") {
    return path;
  }
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && body[first] == '[') {
    PathStep element{true, 0, {}};
    for (const ToolCall& call : facts.tool_calls) {
      if (call.field.starts_with('[')) {
        std::from_chars(call.field.data() + 1, call.field.data() + call.field.size(),
                        element.index);
        break;
      }
    }
    path.push_back(element);
  }
  path.push_back(PathStep{false, 0, "params"});
  path.push_back(PathStep{false, 0, "arguments"});
  return path;
}

}  // namespace

Result<std::string> applyParamOverrides(std::string_view body, const RequestFacts& facts,
                                        std::string_view overrides_json) {
  Result<std::vector<OverrideMember>> overrides = readOverrides(overrides_json);
  if (!overrides) return overrides.error();
  OverrideWriter rewriter(overrideTarget(body, facts), *overrides);
  JsonViewStream stream(body);
  rapidjson::Reader reader;
  const rapidjson::ParseResult parsed = reader.Parse<kSaxParseFlags>(stream, rewriter);
  if (!rewriter.problem().empty()) return makeError("bad_json", rewriter.problem());
  if (parsed.IsError()) return badJsonError("the request body", parsed.Code(), parsed.Offset());
  return rewriter.output();
}

}  // namespace aiw::ai
