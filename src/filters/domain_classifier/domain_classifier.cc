#include "filters/domain_classifier/domain_classifier.h"

#include <yaml-cpp/yaml.h>

#include <tuple>

namespace aiw {
namespace {

using Field = DomainClassifier::Field;
using Source = Classification::Source;

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

const char* fieldName(Field field) {
  switch (field) {
    case Field::Patterns:
      return "patterns";
    case Field::AiDomains:
      return "ai_domains";
    case Field::ChattyDomains:
      return "chatty_domains";
  }
  return "?";
}

uint32_t classValue(TrafficClass c) { return static_cast<uint32_t>(c); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// DomainClassifier

std::shared_ptr<const DomainClassifier> DomainClassifier::compile(DomainClassifierConfig config,
                                                                  const ErrorSink& error) {
  auto out = std::make_shared<DomainClassifier>();
  bool good = true;
  auto parse = [&](Field field, size_t index, const std::string& text) -> Result<DomainPattern> {
    Result<DomainPattern> p = DomainPattern::parse(text);
    if (!p.ok()) {
      error(field, index, p.error().message);
      good = false;
    }
    return p;
  };

  for (size_t i = 0; i < config.patterns.size(); ++i) {
    const ProxyPattern& pp = config.patterns[i];
    auto p = parse(Field::Patterns, i, pp.pattern);
    if (!p.ok()) continue;
    std::string normalized = p->text();
    if (auto existing = out->proxy_patterns_.add(std::move(p).value(), pp.proxy ? 1 : 0)) {
      error(Field::Patterns, i,
            "domain pattern " + quote(pp.pattern) + " repeats " + quote(normalized) +
                ", already in 'patterns'" +
                (*existing != (pp.proxy ? 1u : 0u) ? " with the opposite 'proxy'" : ""));
      good = false;
    }
  }
  // ai_domains first, so that a pattern also in chatty_domains finds its ai entry and stays ai.
  for (auto [field, list, cls] :
       {std::tuple{Field::AiDomains, &config.ai_domains, TrafficClass::Ai},
        std::tuple{Field::ChattyDomains, &config.chatty_domains, TrafficClass::Chatty}}) {
    for (size_t i = 0; i < list->size(); ++i) {
      auto p = parse(field, i, (*list)[i]);
      if (!p.ok()) continue;
      std::string normalized = p->text();
      auto existing = out->domains_.add(std::move(p).value(), classValue(cls));
      if (existing && *existing == classValue(cls)) {
        error(field, i,
              "domain pattern " + quote((*list)[i]) + " repeats " + quote(normalized) +
                  ", already in " + quote(fieldName(field)));
        good = false;
      }
    }
  }
  if (!good) return nullptr;
  out->config_ = std::move(config);
  return out;
}

Result<std::shared_ptr<const DomainClassifier>> DomainClassifier::compile(
    DomainClassifierConfig config) {
  std::string errors;
  auto built =
      compile(std::move(config), [&errors](Field field, size_t index, std::string_view message) {
        if (!errors.empty()) errors += '\n';
        errors += std::string(fieldName(field)) + "[" + std::to_string(index) + "]" +
                  (field == Field::Patterns ? ".pattern" : "") + ": " + std::string(message);
      });
  if (built == nullptr) return makeError("config", errors);
  return built;
}

Classification DomainClassifier::classify(std::string_view host) const {
  HostLabels labels(host);
  Classification c;
  if (auto m = proxy_patterns_.match(labels)) {
    c.intercept = m->value != 0;
    c.traffic_class = c.intercept ? TrafficClass::Ai : TrafficClass::Unknown;
    c.source = Source::ProxyPattern;
    c.pattern = m->pattern->text();
    return c;
  }
  if (auto m = domains_.match(labels)) {
    c.traffic_class = static_cast<TrafficClass>(m->value);
    c.intercept = c.traffic_class == TrafficClass::Ai;
    c.source = c.intercept ? Source::AiDomains : Source::ChattyDomains;
    c.pattern = m->pattern->text();
    return c;
  }
  c.intercept = config_.default_action == DefaultAction::Intercept;
  return c;
}

// ---------------------------------------------------------------------------------------------
// The filter

class DomainClassifierFilter : public ConnectionFilter {
 public:
  // `factory` outlives the filter: the chain that created it keeps the factory alive.
  explicit DomainClassifierFilter(const DomainClassifierFactory& factory) : factory_(factory) {}

  Verdict onConnection(ConnectionInfo& conn, std::span<const uint8_t> /*peeked*/) override {
    const bool target_is_ip = isIpLiteral(conn.target_host);
    // RFC 6066 §3 forbids addresses in SNI; one that is there names nothing.
    const bool sni_is_name = !conn.sni.empty() && !isIpLiteral(conn.sni);
    if (sni_is_name && !target_is_ip && !conn.target_host.empty() &&
        !sameHostName(conn.target_host, conn.sni)) {
      bump(factory_.fronting_refused_);
      return Verdict::block(403, "domain fronting refused: CONNECT to " + quote(conn.target_host) +
                                     " carries TLS for " + quote(conn.sni));
    }
    std::string_view name = target_is_ip && sni_is_name ? conn.sni : conn.target_host;
    Classification c = factory_.classifier_->classify(name);
    conn.traffic_class = c.traffic_class;
    conn.intercept = c.intercept;
    bump(c.traffic_class == TrafficClass::Ai       ? factory_.ai_
         : c.traffic_class == TrafficClass::Chatty ? factory_.chatty_
                                                   : factory_.unknown_);

    if (c.source == Source::Default &&
        factory_.classifier_->config().default_action == DefaultAction::Block) {
      bump(factory_.default_blocked_);
      return Verdict::block(403, quote(name) +
                                     " is in no domain list of the classifier, whose "
                                     "default is block");
    }
    if (conn.intercept && !conn.tls_error.empty()) {
      bump(factory_.unparsed_hello_refused_);
      return Verdict::block(403, "the TLS ClientHello for " + quote(name) +
                                     ", which must be intercepted, could not be read (" +
                                     conn.tls_error + "); it is not tunnelled uninspected");
    }
    return Verdict::next();
  }

 private:
  static void bump(std::atomic<uint64_t>& counter) {
    counter.fetch_add(1, std::memory_order_relaxed);
  }

  const DomainClassifierFactory& factory_;
};

// The request phase: plain HTTP (absolute-form) requests have no CONNECT for the connection
// phase to classify, so each request's host is classified here, the same way. An exchange on an
// intercepted connection was classified with its connection and is left alone.
class DomainClassifierStreamFilter : public StreamFilter {
 public:
  explicit DomainClassifierStreamFilter(const DomainClassifierFactory& factory)
      : factory_(factory) {}

  Verdict onRequestHeaders(StreamInfo& s, Headers& /*h*/, bool /*end_stream*/) override {
    if (s.connection != nullptr && s.connection->is_connect) return Verdict::next();
    Classification c = factory_.classifier_->classify(s.host);
    // The sidecar inspects every call of its agent: the class is a fact for rules and events,
    // never a reason to look away or to refuse.
    if (s.connection != nullptr && s.connection->sidecar) {
      if (s.traffic_class == TrafficClass::Unknown) s.traffic_class = c.traffic_class;
      return Verdict::next();
    }
    s.traffic_class = c.traffic_class;
    s.inspect = c.intercept;
    if (c.source == Classification::Source::Default &&
        factory_.classifier_->config().default_action == DefaultAction::Block) {
      factory_.default_blocked_.fetch_add(1, std::memory_order_relaxed);
      return Verdict::block(403, quote(s.host) +
                                     " is in no domain list of the classifier, whose "
                                     "default is block");
    }
    return Verdict::next();
  }

 private:
  const DomainClassifierFactory& factory_;
};

std::unique_ptr<ConnectionFilter> DomainClassifierFactory::createConnectionFilter() {
  return std::make_unique<DomainClassifierFilter>(*this);
}

std::unique_ptr<StreamFilter> DomainClassifierFactory::createStreamFilter() {
  return std::make_unique<DomainClassifierStreamFilter>(*this);
}

DomainClassifierCounts DomainClassifierFactory::counts() const {
  DomainClassifierCounts c;
  c.ai = ai_.load(std::memory_order_relaxed);
  c.chatty = chatty_.load(std::memory_order_relaxed);
  c.unknown = unknown_.load(std::memory_order_relaxed);
  c.fronting_refused = fronting_refused_.load(std::memory_order_relaxed);
  c.default_blocked = default_blocked_.load(std::memory_order_relaxed);
  c.unparsed_hello_refused = unparsed_hello_refused_.load(std::memory_order_relaxed);
  return c;
}

std::vector<FilterStat> DomainClassifierFactory::stats() const {
  DomainClassifierCounts c = counts();
  return {{"domain_classifier.ai", c.ai},
          {"domain_classifier.chatty", c.chatty},
          {"domain_classifier.unknown", c.unknown},
          {"domain_classifier.fronting_refused", c.fronting_refused},
          {"domain_classifier.default_blocked", c.default_blocked},
          {"domain_classifier.unparsed_hello_refused", c.unparsed_hello_refused}};
}

// ---------------------------------------------------------------------------------------------
// The builder

Result<std::shared_ptr<FilterFactory>> buildDomainClassifier(FilterBuildContext& ctx) {
  using P = FilterBuildContext::Presence;
  const YAML::Node& cfg = ctx.config();
  if (!ctx.expectMap(cfg)) return ctx.fail();
  ctx.rejectUnknownKeys(cfg, {"patterns", "ai_domains", "chatty_domains", "default"});

  DomainClassifierConfig config;
  // The YAML node of every entry, by field and index, to locate compile()'s errors.
  std::vector<YAML::Node> pattern_nodes, ai_nodes, chatty_nodes;

  for (const YAML::Node& item : ctx.items(cfg, "patterns")) {
    if (!item.IsMap()) {
      ctx.error(item, "each item of 'patterns' must be a map {pattern, proxy}");
      continue;
    }
    ctx.rejectUnknownKeys(item, {"pattern", "proxy"}, "a 'patterns' item");
    ProxyPattern pp;
    bool good = ctx.read(item, "pattern", pp.pattern, P::Required);
    good = ctx.read(item, "proxy", pp.proxy, P::Required) && good;
    if (!good) continue;
    config.patterns.push_back(std::move(pp));
    YAML::Node pattern_node = ctx.child(item, "pattern");
    pattern_nodes.push_back(pattern_node);
  }
  for (auto [key, list, nodes] :
       {std::tuple{"ai_domains", &config.ai_domains, &ai_nodes},
        std::tuple{"chatty_domains", &config.chatty_domains, &chatty_nodes}}) {
    for (const YAML::Node& item : ctx.items(cfg, key)) {
      if (!item.IsScalar()) {
        ctx.error(item, std::string("items of '") + key + "' must be strings");
        continue;
      }
      list->push_back(item.Scalar());
      nodes->push_back(item);
    }
  }
  std::string default_action = "bypass";
  ctx.readEnum(cfg, "default", default_action, {"bypass", "intercept", "block"});
  config.default_action = default_action == "intercept" ? DefaultAction::Intercept
                          : default_action == "block"   ? DefaultAction::Block
                                                        : DefaultAction::Bypass;

  auto classifier = DomainClassifier::compile(
      std::move(config), [&](Field field, size_t index, std::string_view message) {
        const auto& nodes = field == Field::Patterns    ? pattern_nodes
                            : field == Field::AiDomains ? ai_nodes
                                                        : chatty_nodes;
        ctx.error(nodes[index], std::string(fieldName(field)) + ": " + std::string(message));
      });
  if (ctx.hasErrors() || classifier == nullptr) return ctx.fail();
  return std::shared_ptr<FilterFactory>(
      std::make_shared<DomainClassifierFactory>(std::move(classifier)));
}

}  // namespace aiw
