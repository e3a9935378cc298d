#include "filters/chatty_bypass/chatty_bypass.h"

#include <yaml-cpp/yaml.h>

namespace aiw {
namespace {

class ChattyBypassFilter : public ConnectionFilter {
 public:
  // `factory` outlives the filter: the chain that created it keeps the factory alive.
  explicit ChattyBypassFilter(const ChattyBypassFactory& factory) : factory_(factory) {}

  Verdict onConnection(ConnectionInfo& conn, std::span<const uint8_t> /*peeked*/) override {
    if (conn.intercept) return Verdict::next();
    conn.bypassed = true;
    factory_.countBypass(conn.traffic_class);
    return Verdict::bypass();
  }

 private:
  const ChattyBypassFactory& factory_;
};

size_t indexOf(TrafficClass c) {
  switch (c) {
    case TrafficClass::Ai:
      return 1;
    case TrafficClass::Chatty:
      return 2;
    case TrafficClass::Unknown:
      break;
  }
  return 0;
}

}  // namespace

std::unique_ptr<ConnectionFilter> ChattyBypassFactory::createConnectionFilter() {
  return std::make_unique<ChattyBypassFilter>(*this);
}

void ChattyBypassFactory::countBypass(TrafficClass c) const {
  bypasses_[indexOf(c)].fetch_add(1, std::memory_order_relaxed);
}

ChattyBypassCounts ChattyBypassFactory::counts() const {
  ChattyBypassCounts out;
  out.unknown = bypasses_[indexOf(TrafficClass::Unknown)].load(std::memory_order_relaxed);
  out.ai = bypasses_[indexOf(TrafficClass::Ai)].load(std::memory_order_relaxed);
  out.chatty = bypasses_[indexOf(TrafficClass::Chatty)].load(std::memory_order_relaxed);
  return out;
}

std::vector<FilterStat> ChattyBypassFactory::stats() const {
  ChattyBypassCounts c = counts();
  return {{"chatty_bypass.bypassed_ai", c.ai},
          {"chatty_bypass.bypassed_chatty", c.chatty},
          {"chatty_bypass.bypassed_unknown", c.unknown}};
}

Result<std::shared_ptr<FilterFactory>> buildChattyBypass(FilterBuildContext& ctx) {
  const YAML::Node& cfg = ctx.config();
  if (!ctx.expectMap(cfg)) return ctx.fail();
  if (cfg.IsMap() && cfg.size() > 0) {
    // No keys are known: name them all, with a hint that the filter takes none.
    for (auto it = cfg.begin(); it != cfg.end(); ++it) {
      YAML::Node key = it->first;
      ctx.error(key, "unknown key '" + (key.IsScalar() ? key.Scalar() : std::string("?")) +
                         "' in chatty_bypass config (it takes no configuration)");
    }
    return ctx.fail();
  }
  return std::shared_ptr<FilterFactory>(std::make_shared<ChattyBypassFactory>());
}

}  // namespace aiw
