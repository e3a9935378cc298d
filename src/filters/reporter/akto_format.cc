#include "filters/reporter/akto_format.h"

#include <chrono>

#include "core/log.h"

namespace aiw {

namespace {

void appendField(std::string &out, std::string_view key, std::string_view value) {
  if (out.size() > 1) out += ',';
  out += '"';
  out += key;
  out += "\":\"";
  appendJsonEscaped(out, value);
  out += '"';
}

// The headers Akto needs to attribute the call: header values are not captured (they may hold
// credentials), so only the host, which the event carries anyway.
std::string headersJson(const ReportEvent &e) {
  std::string h = "{\"host\":\"";
  appendJsonEscaped(h, e.host);
  h += "\"}";
  return h;
}

}  // namespace

std::string_view httpReasonPhrase(uint16_t status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

std::string aktoClientIp(std::string_view client) {
  if (!client.empty() && client.front() == '[') {
    size_t close = client.find(']');
    if (close != std::string_view::npos) return std::string(client.substr(1, close - 1));
    return std::string(client);
  }
  size_t colon = client.rfind(':');
  // More than one colon without brackets: a bare IPv6 address, no port.
  if (colon == std::string_view::npos || client.find(':') != colon) return std::string(client);
  return std::string(client.substr(0, colon));
}

std::string aktoRecord(const ReportEvent &e, const AktoSettings &settings) {
  if (e.kind != EventKind::Exchange) return {};
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(e.ts.time_since_epoch()).count();
  std::string headers = headersJson(e);
  std::string o = "{";
  o.reserve(512);
  appendField(o, "path", e.path);
  appendField(o, "requestHeaders", headers);
  appendField(o, "responseHeaders", headers);
  appendField(o, "method", e.method);
  appendField(o, "requestPayload", e.request_body);  // "" unless capture_bodies (redacted)
  appendField(o, "responsePayload", e.response_body);
  appendField(o, "ip", aktoClientIp(e.client));
  appendField(o, "destIp", e.host);
  appendField(o, "time", std::to_string(secs));
  appendField(o, "statusCode", std::to_string(e.status));
  appendField(o, "status", httpReasonPhrase(e.status));
  appendField(o, "type", e.protocol.empty() ? std::string_view("HTTP/1.1") : e.protocol);
  appendField(o, "akto_account_id", settings.account_id);
  appendField(o, "akto_vxlan_id", settings.vxlan_id);
  appendField(o, "is_pending", "false");
  appendField(o, "source", "MIRRORING");
  o += '}';
  return o;
}

}  // namespace aiw
