// The same bytes must get the same answer however the network splits them into reads: parse
// mutated messages whole, byte by byte and in uneven pieces, and compare everything observable.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "http/http1_parser.h"

namespace aiw {
namespace {

// Writes every event into one string, so two runs compare with ==.
struct EventLog : Http1ParserCallbacks {
  std::string log;
  HeadAction onRequestHead(RequestHead& h) override {
    log += "H[" + h.method + " " + h.target + " " + std::to_string(h.version_minor) + " ka" +
           std::to_string(h.keep_alive) + " up" + std::to_string(h.upgrade) + " f" +
           std::to_string(static_cast<int>(h.framing)) + ":" + std::to_string(h.content_length) +
           " hb" + std::to_string(h.head_bytes);
    for (const auto& f : h.headers.fields()) log += "|" + f.name + "=" + f.value;
    log += "]";
    return HeadAction::Continue;
  }
  HeadAction onResponseHead(ResponseHead& h) override {
    log += "R[" + std::to_string(h.status) + " " + h.reason + " ka" + std::to_string(h.keep_alive) +
           " f" + std::to_string(static_cast<int>(h.framing)) + ":" +
           std::to_string(h.content_length);
    for (const auto& f : h.headers.fields()) log += "|" + f.name + "=" + f.value;
    log += "]";
    return HeadAction::Continue;
  }
  bool in_body = false;
  FlowAction onBody(const char* d, size_t n) override {
    // Body spans follow the reads; only their concatenation is comparable.
    if (!in_body) log += "B:";
    in_body = true;
    log.append(d, n);
    return FlowAction::Continue;
  }
  FlowAction onMessageComplete(Headers& t) override {
    in_body = false;
    log += "C[";
    for (const auto& f : t.fields()) log += "|" + f.name + "=" + f.value;
    log += "]";
    return FlowAction::Continue;
  }
};

struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }
};

std::string run(Http1Parser::Type type, const std::string& in, size_t max_head,
                const std::vector<size_t>& cuts) {
  EventLog cb;
  Http1Parser p(type, cb, max_head);
  std::string pending;
  size_t total = 0;
  size_t prev = 0;
  std::string end = "ok";
  for (size_t i = 0; i <= cuts.size(); ++i) {
    size_t to = i < cuts.size() ? cuts[i] : in.size();
    pending.append(in, prev, to - prev);
    prev = to;
    auto r = p.feed(pending);
    if (!r) {
      end = "E" + std::to_string(p.errorStatus()) + " " + r.error().code + " " + r.error().message;
      break;
    }
    total += r.value();
    pending.erase(0, r.value());
    if (p.state() != Http1ParserState::Ready) break;
  }
  if (end == "ok") {
    auto f = p.finish();
    end = f ? "fin" : "F " + f.error().message;
  }
  // After an error the bytes consumed by earlier reads depend on the split; nothing else may.
  std::string consumed = end[0] == 'E' ? "" : " consumed=" + std::to_string(total);
  return cb.log + consumed + " state=" + std::to_string(static_cast<int>(p.state())) + " " + end;
}

std::vector<size_t> everyN(size_t len, size_t n) {
  std::vector<size_t> cuts;
  for (size_t i = n; i < len; i += n) cuts.push_back(i);
  return cuts;
}

std::string mutate(std::string s, Rng& rng) {
  static const char kAlphabet[] = {'\r', '\n', ' ',  '\t',   ':',    ',', ';', '"', '0', '5',
                                   'a',  'F',  '\0', '\x7f', '\x80', '#', '/', 'H', '-', '='};
  size_t edits = 1 + rng.below(3);
  for (size_t e = 0; e < edits && !s.empty(); ++e) {
    size_t at = rng.below(s.size());
    switch (rng.below(4)) {
      case 0:
        s.insert(s.begin() + static_cast<long>(at), kAlphabet[rng.below(sizeof(kAlphabet))]);
        break;
      case 1:
        s.erase(at, 1);
        break;
      case 2:
        s[at] = kAlphabet[rng.below(sizeof(kAlphabet))];
        break;
      default: {
        size_t len = 1 + rng.below(8);
        s.insert(at, s.substr(at, len));
        break;
      }
    }
  }
  return s;
}

TEST_CASE("gives the same events and errors however the bytes are split") {
  const std::vector<std::string> requests = {
      "GET /a?b=c HTTP/1.1\r\nHost: h.example\r\nAccept: */*\r\n\r\n",
      "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
      "GET /next HTTP/1.1\r\nHost: h\r\n\r\n",
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;x=y\r\nhello\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
      "CONNECT h.example:443 HTTP/1.1\r\nHost: h.example:443\r\n\r\n\x16\x03\x01",
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
  };
  const std::vector<std::string> responses = {
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 204 No Content\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\ndata\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close",
  };
  Rng rng{0x9e3779b97f4a7c15ULL};
  size_t disagreements = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    bool is_request = iter % 3 != 0;
    const auto& seeds = is_request ? requests : responses;
    std::string in = seeds[rng.below(seeds.size())];
    if (iter >= 40) in = mutate(in, rng);  // the first rounds check the seeds untouched
    auto type = is_request ? Http1Parser::Type::Request : Http1Parser::Type::Response;
    size_t max_head = (iter % 5 == 0) ? 40 : 65536;
    std::string whole = run(type, in, max_head, {});
    std::vector<std::vector<size_t>> splits = {everyN(in.size(), 1), everyN(in.size(), 2),
                                               everyN(in.size(), 3), everyN(in.size(), 7)};
    std::vector<size_t> random_cuts;
    for (size_t at = 0; at < in.size(); at += 1 + rng.below(11)) {
      if (at > 0) random_cuts.push_back(at);
    }
    splits.push_back(random_cuts);
    for (const auto& cuts : splits) {
      std::string split = run(type, in, max_head, cuts);
      if (split != whole) {
        ++disagreements;
        INFO("input: " << in);
        INFO("whole: " << whole);
        INFO("split: " << split);
        CHECK(split == whole);
      }
    }
  }
  CHECK(disagreements == 0);
}

// Found by the http1_request fuzz target: a chunk line over the limit with a bare LF after the
// limit was "LF without CR" when read whole but "chunk line too long" one byte at a time.
TEST_CASE("a chunk line over the limit that ends in a bare LF gets one verdict however split") {
  const size_t max_head = 64;
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t before_lf : {size_t{10}, size_t{63}, size_t{64}, size_t{65}, size_t{200}}) {
    const std::string in = head + "5;q=\"" + std::string(before_lf, 'a') + "\n";
    const std::string whole = run(Http1Parser::Type::Request, in, max_head, {});
    CAPTURE(before_lf);
    CHECK(whole.find(before_lf + 5 > max_head ? "chunk line too long" : "LF without CR") !=
          std::string::npos);
    for (size_t n : {size_t{1}, size_t{2}, size_t{7}}) {
      CHECK(run(Http1Parser::Type::Request, in, max_head, everyN(in.size(), n)) == whole);
    }
  }
}

}  // namespace
}  // namespace aiw
