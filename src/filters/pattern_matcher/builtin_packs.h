// The built-in detector packs, one function per pack (secrets_pack.cc, pii_pack.cc,
// injection_pack.cc); builtinPack() in detectors.cc is the public way in.
#pragma once

#include <vector>

#include "filters/pattern_matcher/detectors.h"

namespace aiw::packs {

std::vector<DetectorSpec> secrets();
std::vector<DetectorSpec> pii();
std::vector<DetectorSpec> promptInjection();

}  // namespace aiw::packs
