// Domain patterns: parsing and validation, single-pattern matching, specificity, and the matcher.
#include "filters/domain_classifier/domain_patterns.h"

#include <doctest/doctest.h>

#include <string>

namespace aiw {
namespace {

DomainPattern pattern(const std::string& text) {
  auto p = DomainPattern::parse(text);
  REQUIRE_MESSAGE(p.ok(), (p.ok() ? std::string() : p.error().message));
  return std::move(p).value();
}

std::string parseError(const std::string& text) {
  auto p = DomainPattern::parse(text);
  REQUIRE_MESSAGE(!p.ok(), ("'" + text + "' was accepted"));
  CHECK(p.error().code == "pattern");
  return p.error().message;
}

// The text of the pattern of `matcher` that matches `host` most specifically, or "-".
std::string bestFor(const DomainMatcher& matcher, std::string_view host) {
  auto m = matcher.match(host);
  return m ? m->pattern->text() : "-";
}

DomainMatcher matcherOf(std::initializer_list<const char*> patterns) {
  DomainMatcher m;
  uint32_t value = 0;
  for (const char* p : patterns) REQUIRE_FALSE(m.add(pattern(p), value++).has_value());
  return m;
}

TEST_CASE("patterns are normalized: lower-case, one trailing dot dropped, kind recognized") {
  DomainPattern exact = pattern("API.OpenAI.com.");
  CHECK(exact.kind() == DomainPattern::Kind::Exact);
  CHECK(exact.text() == "api.openai.com");
  CHECK(exact.labelCount() == 3);
  CHECK(exact.literalCount() == 3);

  DomainPattern suffix = pattern(".OpenAI.com");
  CHECK(suffix.kind() == DomainPattern::Kind::Suffix);
  CHECK(suffix.text() == ".openai.com");
  CHECK(suffix.labelCount() == 2);

  DomainPattern wild = pattern("bedrock-runtime.*.AmazonAWS.com");
  CHECK(wild.kind() == DomainPattern::Kind::Wildcard);
  CHECK(wild.text() == "bedrock-runtime.*.amazonaws.com");
  CHECK(wild.labelCount() == 4);
  CHECK(wild.literalCount() == 3);
  CHECK(wild.label(1) == "*");

  CHECK(pattern("localhost").kind() == DomainPattern::Kind::Exact);
  CHECK(pattern("_dmarc.example.com").text() == "_dmarc.example.com");
  CHECK(pattern("xn--bcher-kva.example").text() == "xn--bcher-kva.example");
  CHECK(pattern("example.*").kind() == DomainPattern::Kind::Wildcard);
  CHECK(pattern("10.0.0.7").kind() == DomainPattern::Kind::Exact);
}

TEST_CASE("malformed patterns are refused with a message naming the problem") {
  CHECK(parseError("") == "empty domain pattern");
  CHECK(parseError(".") == "domain pattern '.': names no domain");
  CHECK(parseError("..") == "domain pattern '..': names no domain");
  CHECK(parseError("a..b").find("empty label") != std::string::npos);
  CHECK(parseError("..openai.com").find("empty label") != std::string::npos);
  CHECK(parseError("openai.com..").find("empty label") != std::string::npos);
  CHECK(parseError("a*b.example.com") ==
        "domain pattern 'a*b.example.com': '*' must be a whole label (as in '*.example.com'), "
        "not part of 'a*b'");
  CHECK(parseError("*api.example.com").find("whole label") != std::string::npos);
  CHECK(parseError("**.example.com").find("whole label") != std::string::npos);
  CHECK(parseError(".*.example.com") ==
        "domain pattern '.*.example.com': a pattern with a leading '.' (a domain and all its "
        "subdomains) cannot contain '*'");
  CHECK(parseError("api.open ai.com") ==
        "domain pattern 'api.open ai.com': invalid character byte 0x20 (letters, digits, '-', '_' "
        "and '*' only)");
  CHECK(parseError("https://api.openai.com").find("invalid character ':'") != std::string::npos);
  CHECK(parseError("api.openai.com/v1").find("invalid character '/'") != std::string::npos);
  CHECK(parseError("api.openai.com:443").find("invalid character ':'") != std::string::npos);
  CHECK(parseError("caf\xc3\xa9.example").find("byte 0xc3") != std::string::npos);
  CHECK(parseError("-api.example.com").find("starts or ends with '-'") != std::string::npos);
  CHECK(parseError("api-.example.com").find("starts or ends with '-'") != std::string::npos);
  CHECK(parseError("*").find("only '*' labels") != std::string::npos);
  CHECK(parseError("*.*").find("only '*' labels") != std::string::npos);
  CHECK(parseError("example.123").find("last label is numeric") != std::string::npos);
  CHECK(parseError(".0.0.1").find("looks like an IP address") != std::string::npos);
  CHECK(parseError("10.0.*.1").find("looks like an IP address") != std::string::npos);
  CHECK(parseError("10.0.0.*").find("looks like an IP address") != std::string::npos);
  CHECK(parseError("10.0.0.256").find("looks like an IP address") != std::string::npos);
  CHECK(parseError("::1").find("invalid character ':'") != std::string::npos);
  CHECK(parseError(std::string(64, 'a') + ".com").find("longer than 63") != std::string::npos);
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "abc.";
  long_name += "com";  // 259 characters
  CHECK(parseError(long_name).find("longer than 253") != std::string::npos);
  CHECK(pattern(std::string(63, 'a') + ".com").labelCount() == 2);
}

TEST_CASE("a suffix pattern matches its domain and every name below it, nothing else") {
  DomainPattern p = pattern(".openai.com");
  CHECK(p.matches("openai.com"));
  CHECK(p.matches("api.openai.com"));
  CHECK(p.matches("a.b.c.openai.com"));
  CHECK(p.matches("API.OPENAI.COM."));
  CHECK_FALSE(p.matches("notopenai.com"));
  CHECK_FALSE(p.matches("openai.com.evil.net"));
  CHECK_FALSE(p.matches("com"));
  CHECK_FALSE(p.matches("openai.co"));
}

TEST_CASE("an exact pattern matches only that name, whatever its case or trailing dot") {
  DomainPattern p = pattern("api.openai.com");
  CHECK(p.matches("api.openai.com"));
  CHECK(p.matches("Api.OpenAI.Com."));
  CHECK_FALSE(p.matches("openai.com"));
  CHECK_FALSE(p.matches("x.api.openai.com"));
  CHECK_FALSE(p.matches("api.openai.com.."));
}

TEST_CASE("'*' matches exactly one label") {
  DomainPattern p = pattern("bedrock-runtime.*.amazonaws.com");
  CHECK(p.matches("bedrock-runtime.us-east-1.amazonaws.com"));
  CHECK(p.matches("BEDROCK-RUNTIME.eu-west-3.amazonaws.com."));
  CHECK_FALSE(p.matches("bedrock-runtime.amazonaws.com"));
  CHECK_FALSE(p.matches("bedrock-runtime.a.b.amazonaws.com"));
  CHECK_FALSE(p.matches("bedrock.us-east-1.amazonaws.com"));
  CHECK_FALSE(p.matches("x.bedrock-runtime.us-east-1.amazonaws.com"));
  DomainPattern leading = pattern("*.example.com");
  CHECK(leading.matches("a.example.com"));
  CHECK_FALSE(leading.matches("example.com"));
  CHECK_FALSE(leading.matches("a.b.example.com"));
}

TEST_CASE("hosts that are not DNS names match no pattern") {
  DomainPattern wild = pattern("*.example.com");
  CHECK_FALSE(wild.matches("a b.example.com"));
  CHECK_FALSE(wild.matches(".example.com"));
  CHECK_FALSE(wild.matches("a..example.com"));
  CHECK_FALSE(wild.matches(""));
  CHECK_FALSE(wild.matches("."));
  CHECK_FALSE(wild.matches(std::string(64, 'a') + ".example.com"));
  CHECK(wild.matches(std::string(63, 'a') + ".example.com"));
  std::string too_long(250, 'a');
  CHECK_FALSE(HostLabels(too_long + ".com").valid());  // 254 characters
  CHECK(HostLabels(too_long.substr(0, 63) + ".com").valid());
}

TEST_CASE("HostLabels splits a normalized name into labels and tails") {
  HostLabels h("API.OpenAI.Com.");
  REQUIRE(h.valid());
  CHECK(h.name() == "api.openai.com");
  CHECK(h.size() == 3);
  CHECK(h.label(0) == "api");
  CHECK(h.label(2) == "com");
  CHECK(h.suffixFrom(0) == "api.openai.com");
  CHECK(h.suffixFrom(1) == "openai.com");
  CHECK(h.suffixFrom(2) == "com");
  CHECK(h.suffixFrom(3) == "");
  HostLabels many("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h.i.j");
  CHECK(many.size() == 36);
  CHECK(many.label(35) == "j");
}

TEST_CASE("IP literals and same-name comparison") {
  CHECK(isIpLiteral("127.0.0.1"));
  CHECK(isIpLiteral("::1"));
  CHECK(isIpLiteral("[2001:db8::1]"));
  CHECK(isIpLiteral("2001:db8::1"));
  CHECK_FALSE(isIpLiteral("api.openai.com"));
  CHECK_FALSE(isIpLiteral("1.2.3"));
  CHECK_FALSE(isIpLiteral("01.2.3.4"));
  CHECK_FALSE(isIpLiteral(""));
  CHECK_FALSE(isIpLiteral("[]"));
  CHECK(sameHostName("api.openai.com", "API.OpenAI.com."));
  CHECK(sameHostName("a.", "a"));
  CHECK_FALSE(sameHostName("api.openai.com", "api.openai.com.evil"));
  CHECK_FALSE(sameHostName("a..", "a"));
}

TEST_CASE("specificity: more literal labels first, then exact > wildcard > suffix") {
  using P = DomainPattern;
  // The carve-out case: the suffix names four labels of the host, the wildcard three.
  CHECK(P::moreSpecific(pattern(".secure.corp.example.com"), pattern("*.corp.example.com")));
  CHECK_FALSE(P::moreSpecific(pattern("*.corp.example.com"), pattern(".secure.corp.example.com")));
  // Same literal count: kind decides.
  CHECK(P::moreSpecific(pattern("openai.com"), pattern(".openai.com")));
  CHECK(P::moreSpecific(pattern("bedrock-runtime.*.amazonaws.com"),
                        pattern(".us-east-1.amazonaws.com")));
  // A longer suffix beats a shorter one; an exact name beats everything that matches it.
  CHECK(P::moreSpecific(pattern(".api.openai.com"), pattern(".openai.com")));
  CHECK(P::moreSpecific(pattern("api.openai.com"), pattern(".api.openai.com")));
  // Two wildcards with as many literals: the literal nearer the top-level domain wins.
  CHECK(P::moreSpecific(pattern("*.b.example.com"), pattern("a.*.example.com")));
  CHECK_FALSE(P::moreSpecific(pattern("a.*.example.com"), pattern("*.b.example.com")));
  // A pattern is not more specific than itself.
  CHECK_FALSE(P::moreSpecific(pattern(".openai.com"), pattern(".OpenAI.com.")));
}

TEST_CASE("the matcher answers with the most specific matching pattern") {
  DomainMatcher m =
      matcherOf({".example.com", "*.corp.example.com", ".secure.corp.example.com",
                 "api.example.com", "*.b.example.com", "a.*.example.com", "example.*",
                 "bedrock-runtime.*.amazonaws.com", ".us-east-1.amazonaws.com", "10.0.0.7"});
  CHECK(m.size() == 10);
  CHECK(bestFor(m, "example.com") == ".example.com");
  CHECK(bestFor(m, "www.example.com") == ".example.com");
  CHECK(bestFor(m, "api.example.com") == "api.example.com");
  CHECK(bestFor(m, "x.api.example.com") == ".example.com");
  CHECK(bestFor(m, "hr.corp.example.com") == "*.corp.example.com");
  CHECK(bestFor(m, "secure.corp.example.com") == ".secure.corp.example.com");
  CHECK(bestFor(m, "x.secure.corp.example.com") == ".secure.corp.example.com");
  CHECK(bestFor(m, "a.b.example.com") == "*.b.example.com");
  CHECK(bestFor(m, "a.c.example.com") == "a.*.example.com");
  CHECK(bestFor(m, "example.org") == "example.*");
  CHECK(bestFor(m, "EXAMPLE.NET.") == "example.*");
  CHECK(bestFor(m, "bedrock-runtime.us-east-1.amazonaws.com") == "bedrock-runtime.*.amazonaws.com");
  CHECK(bestFor(m, "s3.us-east-1.amazonaws.com") == ".us-east-1.amazonaws.com");
  CHECK(bestFor(m, "10.0.0.7") == "10.0.0.7");
  CHECK(bestFor(m, "10.0.0.8") == "-");
  CHECK(bestFor(m, "example.co.uk") == "-");
  CHECK(bestFor(m, "amazonaws.com") == "-");
  CHECK(bestFor(m, "a..example.com") == "-");
  CHECK(bestFor(m, "") == "-");
  CHECK(bestFor(DomainMatcher(), "example.com") == "-");
}

TEST_CASE("adding a pattern twice reports the value already stored and changes nothing") {
  DomainMatcher m;
  CHECK_FALSE(m.add(pattern(".openai.com"), 1).has_value());
  CHECK(m.add(pattern(".OpenAI.com."), 2) == std::optional<uint32_t>(1));
  CHECK_FALSE(m.add(pattern("openai.com"), 3).has_value());  // exact: another pattern
  CHECK_FALSE(m.add(pattern("*.openai.com"), 4).has_value());
  CHECK(m.add(pattern("*.OPENAI.com"), 5) == std::optional<uint32_t>(4));
  CHECK(m.size() == 3);
  CHECK(m.match("api.openai.com")->value == 4);  // the wildcard names as many labels, and beats
  CHECK(m.match("x.y.openai.com")->value == 1);
  m.setValue(pattern(".openai.com"), 7);
  CHECK(m.match("x.y.openai.com")->value == 7);
}

}  // namespace
}  // namespace aiw
