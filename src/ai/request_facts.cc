// parseRequest: one SAX pass over an in-situ copy of the body. Each value's path is matched
// against the API's table (request_paths.cc) incrementally: every frame keeps the rules still
// possible, so most values cost a bit test. Strings are decoded in place by RapidJSON (its SSE2
// paths on); only those that matter are copied out, and each is located in the body from its
// position in the copy, so redactions can later rewrite exactly those tokens.
#include "ai/request_facts.h"

// json_text.h first: it configures RapidJSON (SSE2) for the whole library.
#include "ai/json_text.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <limits>
#include <span>
#include <utility>

#include "ai/request_paths.h"

namespace aiw::ai {

namespace {

constexpr size_t kNoDepth = std::numeric_limits<size_t>::max();

// One JSON-RPC request of the body; a batch has several and reports its first tools/call.
struct RpcRequest {
  std::string method;
  std::string id;  // raw JSON, "" when absent (a notification)
  std::string tool;
  std::string arguments_json;
  bool has_arguments = false;
  std::string field_prefix;  // "" alone, "[2]." inside a batch
};

// A tool call being read: its members come in any order, so it is complete only when the
// object holding it ends.
struct PendingCall {
  bool open = false;
  bool has_arguments = false;
  size_t owner_depth = 0;
  ToolCall call;
};

class RequestExtractor : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, RequestExtractor> {
 public:
  // `insitu` is the copy being parsed in situ; the strings reported point into it.
  RequestExtractor(const ApiEndpoint& endpoint, std::string_view body, const char* insitu,
                   RequestFacts& facts)
      : endpoint_(endpoint),
        body_(body),
        insitu_(insitu),
        facts_(facts),
        rules_(&pathRulesFor(endpoint.kind, false)),
        capture_writer_(capture_buffer_) {
    frames_.reserve(16);
  }

  bool Null() {
    const PathRole role = beginValue(rapidjson::kNullType);
    if (capturing()) capture_writer_.Null();
    if (role == PathRole::RpcId) rpc_.id = "null";
    return true;
  }
  bool Bool(bool value) {
    const PathRole role = beginValue(value ? rapidjson::kTrueType : rapidjson::kFalseType);
    if (capturing()) capture_writer_.Bool(value);
    if (role == PathRole::Stream) facts_.stream = value;
    return true;
  }
  bool RawNumber(const char* str, rapidjson::SizeType len, bool) {
    const PathRole role = beginValue(rapidjson::kNumberType);
    // Kept as written: re-emitting a parsed double could change its digits.
    if (capturing()) capture_writer_.RawValue(str, len, rapidjson::kNumberType);
    if (role == PathRole::RpcId) rpc_.id.assign(str, len);
    return true;
  }
  // Only reached without kParseNumbersAsStringsFlag; values are not needed then.
  bool Default() {
    beginValue(rapidjson::kNumberType);
    return true;
  }
  bool String(const char* str, rapidjson::SizeType len, bool);
  bool Key(const char* str, rapidjson::SizeType len, bool) {
    PathFrame& frame = frames_[depth_ - 1];
    frame.key = std::string_view(str, len);
    const uint32_t parent = depth_ >= 2 ? frames_[depth_ - 2].candidates : allCandidates(*rules_);
    frame.candidates = parent == 0 ? 0 : narrowCandidates(*rules_, parent, depth_ - 1, false, frame.key);
    if (capturing()) capture_writer_.Key(str, len);
    return true;
  }
  bool StartObject() { return startContainer(false); }
  bool StartArray() { return startContainer(true); }
  bool EndObject(rapidjson::SizeType) { return endContainer(false); }
  bool EndArray(rapidjson::SizeType) { return endContainer(true); }

  // After a successful parse: checks the root and fills what depends on the whole body.
  Result<void> finish();

 private:
  std::span<const PathFrame> path() const { return {frames_.data(), depth_}; }
  bool capturing() const { return capture_depth_ != kNoDepth; }
  bool isMcp() const { return endpoint_.kind == ApiKind::McpJsonRpc; }
  bool isToolCall() const { return endpoint_.kind == ApiKind::SidecarToolCall; }
  Result<void> checkEnvelope() const;
  size_t rpcRequestDepth() const { return batch_ ? 1 : 0; }

  PathRole beginValue(rapidjson::Type type);
  bool startContainer(bool is_array);
  bool endContainer(bool is_array);
  void addText(const char* str, size_t len);
  // Offsets of the string token whose decoded value starts at `str` in the in-situ copy.
  size_t tokenBegin(const char* str) const { return static_cast<size_t>(str - insitu_) - 1; }
  size_t tokenEnd(const char* str, size_t len) const {
    return stringTokenEnd(body_, static_cast<size_t>(str - insitu_), len);
  }
  PendingCall& pendingCall();
  void finishCapture();
  void finishCall();
  void commitRpcRequest();

  const ApiEndpoint& endpoint_;
  std::string_view body_;
  const char* insitu_;  // the in-situ copy of body_ being parsed; outlives this handler
  RequestFacts& facts_;
  const CompiledPathRules* rules_;  // static tables: never dangles

  std::vector<PathFrame> frames_;  // grows to the deepest nesting, frames reused after
  size_t depth_ = 0;               // frames in use: the path length of the current value
  uint8_t matched_owner_depth_ = 0;
  rapidjson::Type root_type_ = rapidjson::kNullType;
  bool batch_ = false;

  size_t tree_depth_ = kNoDepth;  // path length of the subtree whose strings are all texts
  size_t capture_depth_ = kNoDepth;
  PathRole capture_role_ = PathRole::None;
  rapidjson::StringBuffer capture_buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> capture_writer_;

  // The JSON types of the sidecar envelope's members, as written (kNoType: absent).
  static constexpr int kNoType = -1;
  int args_type_ = kNoType;
  int session_type_ = kNoType;
  int call_type_ = kNoType;
  int metadata_type_ = kNoType;

  PendingCall pending_;
  RpcRequest rpc_;
  RpcRequest selected_rpc_;
  bool rpc_selected_ = false;
};

PathRole RequestExtractor::beginValue(rapidjson::Type type) {
  if (depth_ == 0) {
    root_type_ = type;
  } else if (PathFrame& parent = frames_[depth_ - 1]; parent.is_index) {
    parent.index = parent.elements++;
  }
  if (tree_depth_ != kNoDepth) return PathRole::Text;
  if (depth_ == 0) return PathRole::None;
  const uint32_t candidates = frames_[depth_ - 1].candidates;
  if (candidates == 0) return PathRole::None;
  const CompiledPathRule* rule = completedRule(*rules_, candidates, depth_);
  if (rule == nullptr) return PathRole::None;
  matched_owner_depth_ = rule->owner_depth;
  if (isToolCall()) {
    switch (rule->role) {
      case PathRole::RpcArguments:
        args_type_ = type;
        break;
      case PathRole::EnvelopeSession:
        session_type_ = type;
        break;
      case PathRole::EnvelopeCall:
        call_type_ = type;
        break;
      case PathRole::EnvelopeMetadata:
        metadata_type_ = type;
        break;
      default:
        break;
    }
  }
  return rule->role;
}

bool RequestExtractor::String(const char* str, rapidjson::SizeType len, bool) {
  const PathRole role = beginValue(rapidjson::kStringType);
  const std::string_view value(str, len);
  if (capturing()) capture_writer_.String(str, len);
  switch (role) {
    case PathRole::Model:
      facts_.model.assign(value);
      break;
    case PathRole::Text:
      addText(str, len);
      break;
    case PathRole::CallName:
      pendingCall().call.name.assign(value);
      break;
    case PathRole::CallArgsString: {
      addText(str, len);
      PendingCall& call = pendingCall();
      call.call.arguments_json.assign(value);
      call.has_arguments = true;
      break;
    }
    case PathRole::RpcMethod:
      rpc_.method.assign(value);
      break;
    case PathRole::RpcId: {
      const size_t begin = tokenBegin(str);
      rpc_.id.assign(body_.substr(begin, tokenEnd(str, len) - begin));
      break;
    }
    case PathRole::RpcToolName:
      rpc_.tool.assign(value);
      break;
    case PathRole::EnvelopeSession:
      facts_.envelope_session_id.assign(value);
      break;
    case PathRole::EnvelopeCall:
      facts_.envelope_call_id.assign(value);
      break;
    default:
      break;  // wrong-typed known fields (a string "stream") are skipped
  }
  return true;
}

bool RequestExtractor::startContainer(bool is_array) {
  const PathRole role = beginValue(is_array ? rapidjson::kArrayType : rapidjson::kObjectType);
  const bool captured_role = role == PathRole::CallArgsTree || role == PathRole::RpcArguments ||
                             role == PathRole::EnvelopeMetadata;
  if (!capturing() && captured_role) {
    capture_depth_ = depth_;
    capture_role_ = role;
    capture_buffer_.Clear();
    capture_writer_.Reset(capture_buffer_);
    if (role == PathRole::CallArgsTree) pendingCall();
  }
  if (capturing()) is_array ? capture_writer_.StartArray() : capture_writer_.StartObject();
  // Every string of a call's arguments is scanned; the envelope's metadata is not (it says who
  // calls, for the rules, and is no content).
  const bool scanned_tree = (captured_role && role != PathRole::EnvelopeMetadata) ||
                            role == PathRole::TreeTexts;
  if (tree_depth_ == kNoDepth && scanned_tree) {
    tree_depth_ = depth_;
  }
  if (isMcp()) {
    if (depth_ == 0 && is_array) {
      batch_ = true;
      rules_ = &pathRulesFor(endpoint_.kind, true);
    } else if (!is_array && depth_ == rpcRequestDepth()) {
      rpc_ = RpcRequest{};
      if (batch_) rpc_.field_prefix = "[" + std::to_string(frames_[0].index) + "].";
    }
  }
  const uint32_t parent = depth_ >= 1 ? frames_[depth_ - 1].candidates : allCandidates(*rules_);
  if (frames_.size() == depth_) frames_.emplace_back();
  PathFrame& frame = frames_[depth_];
  frame.is_index = is_array;
  frame.index = 0;
  frame.elements = 0;
  frame.key = {};
  // An array's frame matches "[]" segments; an object's is narrowed at each of its keys.
  frame.candidates = is_array && parent != 0 && depth_ < rules_->deepest
                         ? narrowCandidates(*rules_, parent, depth_, true, {})
                         : 0;
  ++depth_;
  return true;
}

bool RequestExtractor::endContainer(bool is_array) {
  --depth_;
  if (capturing()) {
    is_array ? capture_writer_.EndArray() : capture_writer_.EndObject();
    if (depth_ == capture_depth_) finishCapture();
  }
  if (depth_ == tree_depth_) tree_depth_ = kNoDepth;
  if (pending_.open && depth_ == pending_.owner_depth) finishCall();
  if (isMcp() && !is_array && depth_ == rpcRequestDepth()) commitRpcRequest();
  return true;
}

void RequestExtractor::addText(const char* str, size_t len) {
  TextField& field = facts_.texts.emplace_back();
  appendPath(field.field, path());
  field.text.assign(str, len);
  field.raw_begin = tokenBegin(str);
  field.raw_end = tokenEnd(str, len);  // just past the closing quote
}

PendingCall& RequestExtractor::pendingCall() {
  if (!pending_.open) {
    pending_ = PendingCall{};
    pending_.open = true;
    pending_.owner_depth = matched_owner_depth_;
    appendPath(pending_.call.field, path().first(std::min<size_t>(matched_owner_depth_, depth_)));
  }
  return pending_;
}

void RequestExtractor::finishCapture() {
  std::string json(capture_buffer_.GetString(), capture_buffer_.GetSize());
  if (capture_role_ == PathRole::CallArgsTree) {
    pending_.call.arguments_json = std::move(json);
    pending_.has_arguments = true;
  } else if (capture_role_ == PathRole::EnvelopeMetadata) {
    facts_.envelope_metadata_json = std::move(json);
  } else if (isToolCall()) {
    facts_.envelope_args_json = std::move(json);
  } else {
    rpc_.arguments_json = std::move(json);
    rpc_.has_arguments = true;
  }
  capture_depth_ = kNoDepth;
  capture_role_ = PathRole::None;
}

void RequestExtractor::finishCall() {
  // A name without arguments is not a call (a Responses item naming something else).
  if (pending_.has_arguments) facts_.tool_calls.push_back(std::move(pending_.call));
  pending_ = PendingCall{};
}

void RequestExtractor::commitRpcRequest() {
  const bool is_call = rpc_.method == "tools/call";
  if (is_call) {
    facts_.tool_calls.push_back(ToolCall{rpc_.tool, rpc_.has_arguments ? rpc_.arguments_json : "{}",
                                         rpc_.field_prefix + "params"});
  }
  if (!rpc_selected_ || (is_call && selected_rpc_.method != "tools/call")) {
    selected_rpc_ = std::move(rpc_);
    rpc_selected_ = true;
  }
  rpc_ = RpcRequest{};
}

Result<void> RequestExtractor::finish() {
  if (isMcp()) {
    if (root_type_ != rapidjson::kObjectType && root_type_ != rapidjson::kArrayType) {
      return makeError("bad_json", "a JSON-RPC body must be an object or an array");
    }
    facts_.mcp_arguments_json = "{}";
    if (rpc_selected_) {
      facts_.jsonrpc_method = std::move(selected_rpc_.method);
      facts_.jsonrpc_id = std::move(selected_rpc_.id);
      facts_.mcp_tool = std::move(selected_rpc_.tool);
      if (selected_rpc_.has_arguments) {
        facts_.mcp_arguments_json = std::move(selected_rpc_.arguments_json);
      }
    }
  } else if (endpoint_.kind != ApiKind::None && root_type_ != rapidjson::kObjectType) {
    return makeError("bad_json", "the request body must be a JSON object");
  }
  if (isToolCall()) {
    if (Result<void> checked = checkEnvelope(); !checked) return checked;
  }
  if (facts_.model.empty()) facts_.model = endpoint_.model_in_path;
  if (endpoint_.stream_in_path) facts_.stream = true;
  return {};
}

Result<void> RequestExtractor::checkEnvelope() const {
  auto wrong = [](std::string_view member, std::string_view expected) {
    return makeError("bad_envelope", "\"" + std::string(member) + "\" must be " +
                                         std::string(expected));
  };
  if (args_type_ == kNoType) {
    return makeError("bad_envelope", "the tool call has no \"args\": send {\"args\": {...}}");
  }
  if (args_type_ != rapidjson::kObjectType) return wrong("args", "a JSON object");
  auto absent = [](int type) { return type == kNoType || type == rapidjson::kNullType; };
  if (!absent(session_type_) && session_type_ != rapidjson::kStringType) {
    return wrong("session_id", "a string");
  }
  if (!absent(call_type_) && call_type_ != rapidjson::kStringType) {
    return wrong("call_id", "a string");
  }
  if (!absent(metadata_type_) && metadata_type_ != rapidjson::kObjectType) {
    return wrong("metadata", "a JSON object");
  }
  return {};
}

}  // namespace

Result<RequestFacts> parseRequest(const ApiEndpoint& endpoint, std::string_view body) {
  RequestFacts facts;
  facts.endpoint = endpoint;
  if (endpoint.kind == ApiKind::McpJsonRpc) facts.endpoint.provider = Provider::Mcp;
  // Parsed in situ: strings decode in place in this copy (no copy per string), and RapidJSON's
  // SIMD string scanning applies. The copy's offsets are the body's.
  InsituCopy copy(body);
  rapidjson::InsituStringStream stream(copy.data());
  RequestExtractor extractor(endpoint, body, copy.data(), facts);
  rapidjson::Reader reader;
  const rapidjson::ParseResult parsed =
      reader.Parse<kSaxParseFlags | rapidjson::kParseInsituFlag>(stream, extractor);
  if (parsed.IsError()) return badJsonError("the request body", parsed.Code(), parsed.Offset());
  if (Result<void> checked = extractor.finish(); !checked) return checked.error();
  return facts;
}

}  // namespace aiw::ai
