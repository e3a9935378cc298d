// parsePatternsJson (PUT /proxy/v1/patterns) on bodies of every length modulo 16. Found by the
// sanitized integration tests (`make test SANITIZE=1`, test_patterns): RapidJSON's SSE2 string
// scan reads whole aligned 16-byte blocks, up to 15 bytes past the NUL of the unpadded copy the
// parser made, which ASan stops as a heap-buffer-overflow. Only the sanitized build can see the
// read; every build checks that the bodies still parse the same.
#include <doctest/doctest.h>

#include <string>

#include "filters/domain_classifier/patterns_json.h"

TEST_CASE("patterns bodies of every length parse inside their buffer") {
  for (size_t pad = 0; pad < 48; ++pad) {
    // The body ends inside a string token's 16-byte block at every offset.
    std::string body =
        R"({"patterns":[],"chatty_domains":[],"default":"intercept","ai_domains":["a)" +
        std::string(pad, 'b') + R"(.example"]})";
    aiw::PatternsParse p = aiw::parsePatternsJson(body, aiw::DefaultAction::Bypass);
    CAPTURE(pad);
    REQUIRE_MESSAGE(p.errors.empty(), (p.errors.empty() ? std::string() : p.errors.front()));
    CHECK(p.has_default);
  }
  for (size_t pad = 0; pad < 32; ++pad) {
    // Unterminated strings: the scan runs to the end of the body.
    std::string body = R"({"ai_domains":[")" + std::string(pad, 'c');
    aiw::PatternsParse p = aiw::parsePatternsJson(body, aiw::DefaultAction::Bypass);
    CAPTURE(pad);
    CHECK_FALSE(p.errors.empty());
  }
}
