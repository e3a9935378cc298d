#include "http/http2_translate.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

#include "http/message_utils.h"

namespace aiw {

namespace {

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

bool isConnectionSpecificName(std::string_view lower) {
  return lower == "connection" || lower == "keep-alive" || lower == "proxy-connection" ||
         lower == "transfer-encoding" || lower == "upgrade" || lower == "host";
}

// One decimal Content-Length, the only form both versions accept unambiguously.
bool parseLength(std::string_view v, uint64_t& out) {
  if (v.empty()) return false;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && end == v.data() + v.size();
}

}  // namespace

Headers h2FieldsFromH1(const Headers& h1) {
  Headers copy = h1;
  return h2FieldsFromH1(std::move(copy));
}

Headers h2FieldsFromH1(Headers&& h1) {
  std::vector<std::string> named;  // fields a Connection option names are hop-by-hop too
  for (const auto& f : h1.fields()) {
    if (!equalsIgnoreCase(f.name, "connection")) continue;
    forEachListElement(f.value, [&](std::string_view e) {
      if (!equalsIgnoreCase(e, "content-length") && !equalsIgnoreCase(e, "te")) {
        named.push_back(lowered(e));
      }
    });
  }
  // Filtered in place: the fields kept move up over the ones dropped, and the list itself is
  // the result (a new list per message was an allocation per head, and cold memory to fill).
  auto& fields = h1.fields();
  size_t kept = 0;
  bool te_trailers = false;
  for (auto& f : fields) {
    for (char& c : f.name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    if (isConnectionSpecificName(f.name)) continue;
    if (std::find(named.begin(), named.end(), f.name) != named.end()) continue;
    if (f.name == "te") {
      // RFC 9113 §8.2.2: only "trailers" may cross into HTTP/2.
      forEachListElement(f.value, [&](std::string_view e) {
        if (equalsIgnoreCase(e.substr(0, e.find(';')), "trailers")) te_trailers = true;
      });
      continue;
    }
    if (&fields[kept] != &f) fields[kept] = std::move(f);
    ++kept;
  }
  fields.erase(fields.begin() + static_cast<std::ptrdiff_t>(kept), fields.end());
  if (te_trailers) h1.add("te", "trailers");
  return std::move(h1);
}

Result<Http2RequestHead> h2RequestFromH1(const RequestHead& h1, std::string_view scheme) {
  Http2RequestHead h2;
  h2.method = h1.method;
  const std::string* host = h1.headers.find("host");
  if (h1.isConnect()) {
    h2.authority = h1.target;
  } else if (h1.target == "*" || (!h1.target.empty() && h1.target.front() == '/')) {
    // origin-form, or asterisk-form (OPTIONS *), which HTTP/2 keeps as ":path *".
    h2.scheme.assign(scheme);
    h2.path = h1.target;
    if (host != nullptr) h2.authority = *host;
  } else {
    auto url = parseAbsoluteUrl(h1.target);
    if (!url) return makeError("bad_request", "request target: " + url.error().message);
    h2.scheme = url->scheme;
    h2.authority = url->hostHeader();
    h2.path = url->path;
  }
  if (h2.authority.empty() && (h1.isConnect() || h2.scheme == "https" || h2.scheme == "http")) {
    return makeError("bad_request", "the request names no authority (no Host)");
  }
  h2.headers = h2FieldsFromH1(h1.headers);
  if (h1.framing == BodyFraming::ContentLength) {
    h2.headers.set("content-length", std::to_string(h1.content_length));
  }
  return h2;
}

size_t joinCookieCrumbs(Headers& headers) {
  auto& fields = headers.fields();
  size_t first = fields.size();
  size_t merged = 0;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!equalsIgnoreCase(fields[i].name, "cookie")) continue;
    if (first == fields.size()) {
      first = i;
      continue;
    }
    fields[first].value += "; ";
    fields[first].value += fields[i].value;
    ++merged;
  }
  if (merged == 0) return 0;
  size_t index = 0;
  fields.erase(std::remove_if(fields.begin(), fields.end(),
                              [&](const HeaderField& f) {
                                bool drop = index > first && equalsIgnoreCase(f.name, "cookie");
                                ++index;
                                return drop;
                              }),
               fields.end());
  return merged;
}

Result<RequestHead> h1RequestFromH2(const Http2RequestHead& h2, bool body_follows) {
  Http2RequestHead copy = h2;
  return h1RequestFromH2(std::move(copy), body_follows);
}

Result<RequestHead> h1RequestFromH2(Http2RequestHead&& h2, bool body_follows) {
  RequestHead h1;
  h1.method = std::move(h2.method);
  h1.version_major = 1;
  h1.version_minor = 1;
  h1.target = h1.isConnect() ? h2.authority : std::move(h2.path);
  if (h1.target.empty()) return makeError("bad_request", "the request has no target");
  // RFC 9113 §8.3.1: an intermediary makes Host from :authority; a Host field only stands in
  // when there is no :authority.
  std::string host;
  if (!h2.authority.empty()) {
    host = std::move(h2.authority);
  } else if (const std::string* field = h2.headers.find("host")) {
    host = *field;
  } else {
    return makeError("bad_request", "the request names no authority");
  }
  h2.headers.remove("host");
  auto& fields = h2.headers.fields();
  fields.insert(fields.begin(), HeaderField{"host", std::move(host)});
  h1.headers = std::move(h2.headers);
  joinCookieCrumbs(h1.headers);
  const std::string* length = h1.headers.find("content-length");
  if (length != nullptr) {
    if (h1.headers.count("content-length") != 1 || !parseLength(*length, h1.content_length)) {
      return makeError("bad_request", "malformed content-length");
    }
    h1.framing = BodyFraming::ContentLength;
  } else if (body_follows && !h1.isConnect()) {
    h1.framing = BodyFraming::Chunked;
  }
  if (h1.headers.has("te")) h1.headers.add("connection", "te");  // TE is hop-by-hop in HTTP/1
  return h1;
}

Headers h2ResponseFieldsFromH1(const ResponseHead& h1) {
  ResponseHead copy = h1;
  return h2ResponseFieldsFromH1(std::move(copy));
}

Headers h2ResponseFieldsFromH1(ResponseHead&& h1) {
  Headers out = h2FieldsFromH1(std::move(h1.headers));
  out.remove("content-length");
  if (h1.framing == BodyFraming::ContentLength && h1.status >= 200 && h1.status != 204) {
    out.add("content-length", std::to_string(h1.content_length));
  }
  return out;
}

Result<ResponseHead> h1ResponseFromH2(uint16_t status, const Headers& h2, bool body_follows,
                                      bool request_was_head) {
  Headers copy = h2;
  return h1ResponseFromH2(status, std::move(copy), body_follows, request_was_head);
}

Result<ResponseHead> h1ResponseFromH2(uint16_t status, Headers&& h2, bool body_follows,
                                      bool request_was_head) {
  ResponseHead h1;
  h1.status = status;
  uint64_t n = 0;
  std::string length;
  if (const std::string* field = h2.find("content-length")) {
    if (h2.count("content-length") != 1 || !parseLength(*field, n)) {
      return makeError("bad_response", "malformed content-length");
    }
    length = *field;
  }
  const bool has_length = !length.empty();
  h1.headers = std::move(h2);
  if (has_length) h1.headers.remove("content-length");
  if (status < 200 || status == 204 || status == 304) {
    h1.framing = BodyFraming::None;
    if (status == 304 && has_length) h1.headers.add("content-length", length);
  } else if (has_length) {
    h1.framing = BodyFraming::ContentLength;
    h1.content_length = n;
  } else if (!body_follows || request_was_head) {
    h1.framing = request_was_head ? BodyFraming::None : BodyFraming::ContentLength;
    h1.content_length = 0;
  } else {
    h1.framing = BodyFraming::Chunked;
  }
  return h1;
}

}  // namespace aiw
