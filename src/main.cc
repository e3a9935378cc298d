// aiwarden command line (SPEC.md §1): run / check / version.
#include <event2/event.h>
#include <llhttp.h>
#include <openssl/crypto.h>
#include <nghttp2/nghttp2ver.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "core/config_loader.h"
#include "core/log.h"
#include "filters/snapshot_builder.h"
#include "listeners/server.h"
#include "tls/certificate_authority.h"
#include "tls/interception_context.h"

namespace {

void printUsage(FILE* out) {
  std::fprintf(out,
               "usage:\n"
               "  aiwarden [run] [-c FILE] [--state-dir DIR] [--log-format human|json]"
               " [--print-config]\n"
               "  aiwarden check -c FILE\n"
               "  aiwarden ca path|pem [-c FILE] [--state-dir DIR]\n"
               "  aiwarden version\n"
               "\n"
               "With no -c, runs the embedded default configuration: a forward proxy on\n"
               "127.0.0.1:8080 and the admin API on 127.0.0.1:9901.\n");
}

struct Cli {
  std::string command = "run";
  aiw::ServerOptions server;
  bool print_config = false;
  std::string ca_what;  // `ca path` / `ca pem`
  std::string error;
};

Cli parseCli(int argc, char** argv) {
  Cli cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  size_t i = 0;
  if (i < args.size() && !args[i].empty() && args[i][0] != '-') cli.command = args[i++];
  if (cli.command == "ca") {
    if (i < args.size() && !args[i].empty() && args[i][0] != '-') {
      cli.ca_what = args[i++];
    } else {
      cli.error = "ca: expected 'path' or 'pem'";
    }
  }
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= args.size()) {
        cli.error = std::string(name) + " needs a value";
        return {};
      }
      return args[++i];
    };
    if (a == "-c" || a == "--config") {
      cli.server.config_path = value("-c");
    } else if (a == "--state-dir") {
      cli.server.state_dir_override = value("--state-dir");
    } else if (a == "--log-format") {
      std::string f = value("--log-format");
      if (f == "json") {
        aiw::log::setFormat(aiw::LogFormat::Json);
      } else if (f != "human" && cli.error.empty()) {
        cli.error = "--log-format must be human or json, not '" + f + "'";
      }
    } else if (a == "--print-config") {
      cli.print_config = true;
    } else if (a == "-h" || a == "--help") {
      cli.command = "help";
    } else if (cli.error.empty()) {
      cli.error = "unknown option '" + a + "'";
    }
    if (!cli.error.empty()) break;
  }
  return cli;
}

void printErrorLines(const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
}

int runCheck(const Cli& cli) {
  if (cli.server.config_path.empty()) {
    std::fprintf(stderr, "aiwarden check: -c FILE is required\n");
    return 2;
  }
  auto config = aiw::loadConfigFile(cli.server.config_path, aiw::validateFilterSpecs);
  if (!config.ok()) {
    printErrorLines(config.error().message);
    return 1;
  }
  // The chain is built (and every filter's config validated) exactly as start-up would, but no
  // socket is opened.
  auto snap = aiw::buildSnapshot(std::move(config.value()), 1);
  if (!snap.ok()) {
    printErrorLines(snap.error().message);
    return 1;
  }
  std::printf("configuration OK\n");
  return 0;
}

// `aiwarden ca path|pem`: the interception CA of the configuration (-c, else the embedded
// default) and state dir, created on first use like at start-up.
int runCa(const Cli& cli, const std::string& what) {
  if (what != "path" && what != "pem") {
    std::fprintf(stderr, "aiwarden ca: expected 'path' or 'pem', not '%s'\n", what.c_str());
    return 2;
  }
  auto config = aiw::loadConfigFor(cli.server);
  if (!config.ok()) {
    printErrorLines(config.error().message);
    return 1;
  }
  std::string state_dir =
      aiw::resolveStateDir(cli.server.state_dir_override, config.value().state_dir);
  aiw::CaPaths paths = aiw::caPaths(config.value(), state_dir);
  auto ca = aiw::CertificateAuthority::loadOrCreate(paths.cert, paths.key);
  if (!ca.ok()) {
    std::fprintf(stderr, "aiwarden ca: %s\n", ca.error().message.c_str());
    return 1;
  }
  if (what == "path") {
    std::printf("%s\n", ca.value()->certPath().c_str());
  } else {
    std::fputs(ca.value()->certPem().c_str(), stdout);
  }
  return 0;
}

int runVersion() {
  std::printf("aiwarden %s\n", AIW_VERSION);
  std::printf("  libevent %s\n", event_get_version());
  std::printf("  llhttp %d.%d.%d\n", LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR,
              LLHTTP_VERSION_PATCH);
  std::printf("  nghttp2 %s (headers)\n", NGHTTP2_VERSION);
  std::printf("  yaml-cpp %s\n", AIW_YAML_CPP_VERSION);
  std::printf("  BoringSSL (Debian android-libboringssl, %s)\n", OPENSSL_VERSION_TEXT);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Cli cli = parseCli(argc, argv);
  if (!cli.error.empty()) {
    std::fprintf(stderr, "aiwarden: %s\n", cli.error.c_str());
    printUsage(stderr);
    return 2;
  }
  if (cli.command == "help") {
    printUsage(stdout);
    return 0;
  }
  if (cli.command == "version") return runVersion();
  if (cli.command == "check") return runCheck(cli);
  if (cli.command == "ca") return runCa(cli, cli.ca_what);
  if (cli.command != "run") {
    std::fprintf(stderr, "aiwarden: unknown command '%s'\n", cli.command.c_str());
    printUsage(stderr);
    return 2;
  }

  auto config = aiw::loadConfigFor(cli.server);
  if (!config.ok()) {
    printErrorLines(config.error().message);
    return 1;
  }
  if (cli.print_config) {
    std::fputs(aiw::configToYaml(config.value(), true).c_str(), stdout);
    return 0;
  }
  return aiw::runServer(cli.server, std::move(config.value()));
}
