// libFuzzer target: the configuration loader (src/core/config_loader.cc, SPEC §3) on arbitrary
// text, as `aiwarden check -c FILE` and `run -c FILE` read it.
//
// Properties beyond "no crash, no leak, no undefined behaviour":
//  * loadConfigText never throws (yaml-cpp throws on bad YAML; the loader must turn every
//    exception into an error Result);
//  * a refusal is Error{"config"} whose message is one or more lines "FILE:LINE: message", FILE
//    the name the text was loaded under or a filters.d file it read, LINE >= 1, and for the text
//    itself LINE within its lines;
//  * an accepted configuration printed with configToYaml (what `run --print-config` writes) is
//    accepted again and prints the same (past the "# from" line); configToJson does not crash.
//
// The text is loaded as "fuzz.yaml" in a scratch directory that holds a copy of the embedded
// filters.d, so `filters_dir: filters.d` (the SPEC example) reads real files.
// AIW_FUZZ_VERBOSE=1 prints the error or the printed configuration.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "core/config_loader.h"
#include "core/embedded_defaults.h"

namespace {

namespace fs = std::filesystem;

constexpr const char* kSource = "fuzz.yaml";

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config_yaml_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

bool verbose() {
  static const bool v = std::getenv("AIW_FUZZ_VERBOSE") != nullptr;
  return v;
}

// The scratch directory: base_dir of every load, with filters.d/ as embedded.
const std::string& baseDir() {
  static const std::string dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "aiw-config-fuzz-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) fail("mkdtemp failed", tmpl);
    fs::create_directories(fs::path(tmpl) / "filters.d");
    for (const aiw::embedded::EmbeddedFile& f : aiw::embedded::defaultFilterFiles()) {
      std::ofstream out(fs::path(tmpl) / "filters.d" / std::string(f.name), std::ios::binary);
      out << f.text;
    }
    return tmpl;
  }();
  return dir;
}

int lineCount(std::string_view text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  if (!text.empty() && text.back() != '\n') ++lines;
  return lines < 1 ? 1 : lines;
}

// Every line of the message is "FILE:LINE: text" with a known FILE and a LINE in range.
void checkErrorLines(const std::string& message, std::string_view input) {
  if (message.empty()) fail("empty error message", "");
  const int max_line = lineCount(input);
  const std::string filters_prefix = (fs::path(baseDir()) / "filters.d").string() + "/";
  size_t pos = 0;
  while (pos <= message.size()) {
    size_t end = message.find('\n', pos);
    if (end == std::string::npos) end = message.size();
    std::string_view line(message.data() + pos, end - pos);
    std::string_view rest;
    bool own = false;
    if (line.starts_with(std::string(kSource) + ":")) {
      rest = line.substr(std::char_traits<char>::length(kSource) + 1);
      own = true;
    } else if (line.starts_with(filters_prefix) || line.starts_with("<embedded>/filters.d/")) {
      size_t colon = line.find(".yaml:");
      if (colon == std::string_view::npos) fail("error line names no file", message);
      rest = line.substr(colon + 6);
    } else {
      fail("error line is not FILE:LINE: message", std::string(line) + "\n--- in ---\n" + message);
    }
    size_t digits = 0;
    long number = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9' && digits < 9) {
      number = number * 10 + (rest[digits] - '0');
      ++digits;
    }
    if (digits == 0 || !rest.substr(digits).starts_with(": ")) {
      fail("error line has no LINE: ", std::string(line) + "\n--- in ---\n" + message);
    }
    if (number < 1 || (own && number > max_line)) {
      fail("error LINE out of range", std::string(line) + " (the text has " +
                                          std::to_string(max_line) + " lines)\n--- in ---\n" +
                                          message);
    }
    pos = end + 1;
  }
}

std::string pastFirstLine(const std::string& yaml) {
  size_t nl = yaml.find('\n');
  return nl == std::string::npos ? std::string() : yaml.substr(nl);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  aiw::Result<aiw::Config> loaded = aiw::makeError("unset", "");
  try {
    loaded = aiw::loadConfigText(text, kSource, baseDir());
  } catch (const std::exception& e) {
    fail("loadConfigText threw", e.what());
  } catch (...) {
    fail("loadConfigText threw a non-std exception", "");
  }
  if (!loaded.ok()) {
    if (verbose()) std::fprintf(stderr, "error:\n%s\n", loaded.error().message.c_str());
    if (loaded.error().code != "config") fail("error code is not config", loaded.error().code);
    checkErrorLines(loaded.error().message, text);
    return 0;
  }

  std::string printed;
  std::string json;
  aiw::Result<aiw::Config> again = aiw::makeError("unset", "");
  try {
    printed = aiw::configToYaml(*loaded, false);
    json = aiw::configToJson(*loaded);
    (void)aiw::configToYaml(*loaded, true);
    again = aiw::loadConfigText(printed, "printed.yaml", "");
  } catch (const std::exception& e) {
    fail("printing or reloading threw", e.what());
  }
  if (verbose()) std::fprintf(stderr, "printed:\n%s\n", printed.c_str());
  if (json.empty()) fail("empty configToJson", "");
  if (!again.ok()) {
    fail("the printed configuration is refused",
         again.error().message + "\n--- printed ---\n" + printed);
  }
  std::string reprinted = aiw::configToYaml(*again, false);
  if (pastFirstLine(reprinted) != pastFirstLine(printed)) {
    fail("printing the reloaded configuration differs",
         "--- first ---\n" + printed + "--- second ---\n" + reprinted);
  }
  return 0;
}
