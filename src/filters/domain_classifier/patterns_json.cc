#include "filters/domain_classifier/patterns_json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <yaml-cpp/yaml.h>

#include "core/log.h"
#include "filters/chain.h"

namespace aiw {

namespace {

constexpr const char* kFilterName = "domain_classifier";

void appendString(std::string& out, std::string_view s) {
  out += '"';
  appendJsonEscaped(out, s);
  out += '"';
}

const char* typeName(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "a boolean";
    case rapidjson::kObjectType: return "an object";
    case rapidjson::kArrayType: return "an array";
    case rapidjson::kStringType: return "a string";
    case rapidjson::kNumberType: return "a number";
  }
  return "a value";
}

std::string keyOf(const rapidjson::Value& name) {
  return std::string(name.GetString(), name.GetStringLength());
}

}  // namespace

const DomainClassifierFactory* findDomainClassifier(const FilterChain& chain) {
  for (const auto& entry : chain.entries()) {
    if (entry.name() != kFilterName) continue;
    if (auto* f = dynamic_cast<const DomainClassifierFactory*>(&entry.factory())) return f;
  }
  return nullptr;
}

const char* defaultActionName(DefaultAction action) {
  switch (action) {
    case DefaultAction::Intercept: return "intercept";
    case DefaultAction::Block: return "block";
    case DefaultAction::Bypass: break;
  }
  return "bypass";
}

std::string patternsToJson(const DomainClassifierConfig& config) {
  std::string out = "{\"patterns\":[";
  for (size_t i = 0; i < config.patterns.size(); ++i) {
    if (i) out += ',';
    out += "{\"pattern\":";
    appendString(out, config.patterns[i].pattern);
    out += config.patterns[i].proxy ? ",\"proxy\":true}" : ",\"proxy\":false}";
  }
  for (auto [key, list] : {std::pair{"ai_domains", &config.ai_domains},
                           std::pair{"chatty_domains", &config.chatty_domains}}) {
    out += "],\"";
    out += key;
    out += "\":[";
    for (size_t i = 0; i < list->size(); ++i) {
      if (i) out += ',';
      appendString(out, (*list)[i]);
    }
  }
  out += "],\"default\":";
  appendString(out, defaultActionName(config.default_action));
  out += '}';
  return out;
}

PatternsParse parsePatternsJson(std::string_view body, DefaultAction fallback_default) {
  PatternsParse out;
  out.config.default_action = fallback_default;
  auto& errors = out.errors;
  rapidjson::Document doc;
  // A NUL-terminated copy for StringStream, whose Tell() says where the document ended. Padded
  // with NULs: RapidJSON's SSE2 string scan (RAPIDJSON_SSE2) reads whole aligned 16-byte blocks,
  // up to 15 bytes past the terminating NUL, which ASan reports as a heap overflow.
  std::string text(body);
  text.append(16, '\0');
  rapidjson::StringStream stream(text.c_str());
  doc.ParseStream<rapidjson::kParseStopWhenDoneFlag>(stream);
  if (doc.HasParseError()) {
    errors.push_back(std::string("invalid JSON at offset ") +
                     std::to_string(doc.GetErrorOffset()) + ": " +
                     rapidjson::GetParseError_En(doc.GetParseError()));
    return out;
  }
  // kParseStopWhenDoneFlag lets trailing garbage through; anything but whitespace is an error.
  for (size_t i = stream.Tell(); i < body.size(); ++i) {
    if (body[i] != ' ' && body[i] != '\n' && body[i] != '\r' && body[i] != '\t') {
      errors.push_back("invalid JSON at offset " + std::to_string(i) +
                       ": unexpected data after the document");
      return out;
    }
  }
  if (!doc.IsObject()) {
    errors.push_back(std::string("the body must be a JSON object, not ") + typeName(doc));
    return out;
  }
  for (const auto& m : doc.GetObject()) {
    std::string k = keyOf(m.name);
    if (k != "patterns" && k != "ai_domains" && k != "chatty_domains" && k != "default") {
      errors.push_back("unknown key '" + k +
                       "' (expected patterns, ai_domains, chatty_domains, default)");
    }
  }

  // Each item kept for compile() remembers its index in the body, to report compile's errors
  // where the client wrote the entry even when earlier items were dropped for their types.
  std::vector<size_t> pattern_index, ai_index, chatty_index;
  auto array = [&](const char* key) -> const rapidjson::Value* {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd()) {
      errors.push_back(std::string(key) + ": required");
      return nullptr;
    }
    if (!it->value.IsArray()) {
      errors.push_back(std::string(key) + ": must be an array, not " + typeName(it->value));
      return nullptr;
    }
    return &it->value;
  };
  if (const auto* patterns = array("patterns")) {
    for (rapidjson::SizeType i = 0; i < patterns->Size(); ++i) {
      const auto& item = (*patterns)[i];
      std::string where = "patterns[" + std::to_string(i) + "]";
      if (!item.IsObject()) {
        errors.push_back(where + ": must be an object {pattern, proxy}, not " + typeName(item));
        continue;
      }
      bool good = true;
      for (const auto& m : item.GetObject()) {
        std::string k = keyOf(m.name);
        if (k != "pattern" && k != "proxy") {
          errors.push_back(where + ": unknown key '" + k + "' (expected pattern, proxy)");
          good = false;
        }
      }
      auto p = item.FindMember("pattern");
      if (p == item.MemberEnd()) {
        errors.push_back(where + ".pattern: required");
        good = false;
      } else if (!p->value.IsString()) {
        errors.push_back(where + ".pattern: must be a string, not " + typeName(p->value));
        good = false;
      }
      auto x = item.FindMember("proxy");
      if (x == item.MemberEnd()) {
        errors.push_back(where + ".proxy: required");
        good = false;
      } else if (!x->value.IsBool()) {
        errors.push_back(where + ".proxy: must be true or false, not " + typeName(x->value));
        good = false;
      }
      if (!good) continue;
      out.config.patterns.push_back(ProxyPattern{keyOf(p->value), x->value.GetBool()});
      pattern_index.push_back(i);
    }
  }
  for (auto [key, list, index] :
       {std::tuple{"ai_domains", &out.config.ai_domains, &ai_index},
        std::tuple{"chatty_domains", &out.config.chatty_domains, &chatty_index}}) {
    const auto* arr = array(key);
    if (arr == nullptr) continue;
    for (rapidjson::SizeType i = 0; i < arr->Size(); ++i) {
      if (!(*arr)[i].IsString()) {
        errors.push_back(std::string(key) + "[" + std::to_string(i) + "]: must be a string, not " +
                         typeName((*arr)[i]));
        continue;
      }
      list->push_back(keyOf((*arr)[i]));
      index->push_back(i);
    }
  }
  if (auto d = doc.FindMember("default"); d != doc.MemberEnd()) {
    std::string v = d->value.IsString() ? keyOf(d->value) : "";
    if (v == "bypass" || v == "intercept" || v == "block") {
      out.has_default = true;
      out.config.default_action = v == "intercept" ? DefaultAction::Intercept
                                  : v == "block"   ? DefaultAction::Block
                                                   : DefaultAction::Bypass;
    } else if (d->value.IsString()) {
      errors.push_back("default: '" + v + "' is not one of bypass, intercept, block");
    } else {
      errors.push_back(std::string("default: must be a string (bypass, intercept or block), not ") +
                       typeName(d->value));
    }
  }

  using Field = DomainClassifier::Field;
  auto compiled = DomainClassifier::compile(
      out.config, [&](Field field, size_t index, std::string_view message) {
        const char* name = field == Field::Patterns    ? "patterns"
                           : field == Field::AiDomains ? "ai_domains"
                                                       : "chatty_domains";
        const auto& map = field == Field::Patterns    ? pattern_index
                          : field == Field::AiDomains ? ai_index
                                                      : chatty_index;
        errors.push_back(std::string(name) + "[" + std::to_string(map[index]) + "]" +
                         (field == Field::Patterns ? ".pattern" : "") + ": " +
                         std::string(message));
      });
  (void)compiled;  // only its errors matter here: the snapshot build compiles it for real
  return out;
}

std::shared_ptr<const YAML::Node> patternsToYaml(const DomainClassifierConfig& config) {
  auto node = std::make_shared<YAML::Node>(YAML::NodeType::Map);
  YAML::Node patterns(YAML::NodeType::Sequence);
  for (const auto& p : config.patterns) {
    YAML::Node item(YAML::NodeType::Map);
    item["pattern"] = p.pattern;
    item["proxy"] = p.proxy;
    patterns.push_back(item);
  }
  (*node)["patterns"] = patterns;
  for (auto [key, list] : {std::pair{"ai_domains", &config.ai_domains},
                           std::pair{"chatty_domains", &config.chatty_domains}}) {
    YAML::Node seq(YAML::NodeType::Sequence);
    for (const auto& d : *list) seq.push_back(d);
    (*node)[key] = seq;
  }
  (*node)["default"] = defaultActionName(config.default_action);
  return node;
}

Result<void> overridePatterns(std::vector<FilterSpec>& specs, DomainClassifierConfig config,
                              bool keep_default) {
  for (auto& spec : specs) {
    if (spec.filter != kFilterName || !spec.enabled) continue;
    if (keep_default) {
      config.default_action = DefaultAction::Bypass;
      const YAML::Node& old = *spec.config;
      if (old.IsMap() && old["default"] && old["default"].IsScalar()) {
        const std::string v = old["default"].Scalar();
        if (v == "intercept") config.default_action = DefaultAction::Intercept;
        if (v == "block") config.default_action = DefaultAction::Block;
      }
    }
    spec.config = patternsToYaml(config);
    return {};
  }
  return makeError("no_domain_classifier", "the filter chain has no domain_classifier stage");
}

}  // namespace aiw
