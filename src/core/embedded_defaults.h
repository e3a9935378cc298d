// The default configuration and filters.d compiled into the binary (generated at build time by
// cmake/embed_defaults.cmake from config/default.yaml and filters.d/*.yaml).
#pragma once

#include <string_view>
#include <vector>

namespace aiw::embedded {

struct EmbeddedFile {
  std::string_view name;  // file name, e.g. "20-domain_classifier.yaml"
  std::string_view text;
};

std::string_view defaultConfigYaml();
// In file-name order, like a filters.d directory.
const std::vector<EmbeddedFile>& defaultFilterFiles();

}  // namespace aiw::embedded
