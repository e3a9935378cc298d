// GET /proxy.pac (SPEC §7): a proxy auto-config script that sends to the forward listener
// exactly the hosts the domain_classifier would intercept by name, and everything else DIRECT,
// so that apps configured with the PAC only pay for the proxy where it looks at something.
#pragma once

#include <string>
#include <string_view>

#include "filters/domain_classifier/domain_classifier.h"

namespace aiw {

// The script for `config` (nullptr: no classifier, everything DIRECT). `proxy` is the
// "host:port" written after PROXY. Mirrors DomainClassifier::classify: Proxy Patterns first,
// then the two lists, each tier most specific match first; hosts nothing names go DIRECT when
// the default is bypass, else to the proxy (which intercepts or refuses them: sending them
// around it would defeat `default: intercept|block`).
std::string buildProxyPac(const DomainClassifierConfig* config, std::string_view proxy);

}  // namespace aiw
