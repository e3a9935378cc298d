// matchH2Preface: how a sidecar tells h2c with prior knowledge from HTTP/1.1.
#include <doctest/doctest.h>

#include "listeners/h2_downstream.h"

namespace aiw {
namespace {

TEST_CASE("the HTTP/2 connection preface is recognised whole, in part, or not at all") {
  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  CHECK(matchH2Preface(preface) == PrefaceMatch::Yes);
  CHECK(matchH2Preface(preface + "\x00\x00\x12\x04") == PrefaceMatch::Yes);
  CHECK(matchH2Preface("") == PrefaceMatch::Partial);
  CHECK(matchH2Preface("PRI * HTTP/2") == PrefaceMatch::Partial);
  CHECK(matchH2Preface("POST /proxy/v1/tools/x HTTP/1.1\r\n") == PrefaceMatch::No);
  CHECK(matchH2Preface("PRI * HTTP/1.1\r\n") == PrefaceMatch::No);
  CHECK(matchH2Preface("GET / HTTP/1.1\r\n") == PrefaceMatch::No);
}

}  // namespace
}  // namespace aiw
