#include "http/http1_parser.h"

#include <llhttp.h>

#include <string>

#include "http/http1_framing.h"
#include "http/http1_line_scanner.h"
#include "http/message_utils.h"

namespace aiw {

namespace {

using Section = Http1LineScanner::Section;

// What an llhttp callback paused for. feed() acts on it once llhttp_execute has returned, so
// user callbacks never run with llhttp mid-step, and every byte before the pause has been
// measured and scanned before anyone sees the head.
enum class Pending : uint8_t { None, HeadComplete, LastChunk, MessageComplete };

const llhttp_settings_t* settings();

}  // namespace

// Everything the parser holds; out of the header so that llhttp.h stays out of it. The llhttp
// callbacks reach it through parser.data, which points at this object for its whole life (it
// is heap-allocated once per parser and never moves).
struct Http1ParserImpl {
  using Type = Http1Parser::Type;

  Http1ParserImpl(Type t, Http1ParserCallbacks& c, size_t max)
      : type(t),
        cb(c),
        max_header_bytes(max == 0 ? 1 : max),
        scanner(t == Type::Request, max_header_bytes) {
    llhttp_init(&parser, t == Type::Request ? HTTP_REQUEST : HTTP_RESPONSE, settings());
    parser.data = this;
    // Every lenient flag stays off (llhttp_init zeroes them; said here so nobody turns one on).
    parser.lenient_flags = 0;
  }

  llhttp_t parser;
  const Type type;
  Http1ParserCallbacks& cb;
  const size_t max_header_bytes;
  Http1LineScanner scanner;
  const char* scan_from = nullptr;  // first byte of the current llhttp run not yet scanned

  Http1ParserState state = Http1ParserState::Ready;
  Section section = Section::Head;  // where the next bytes belong
  Pending pending = Pending::None;
  size_t section_bytes = 0;  // bytes of the current head / trailer section so far
  bool message_started = false;
  bool head_delivered = false;
  bool version_seen = false;
  bool in_field = false;  // the last header span was a field name (not a value)
  // The parser's own copies: the caller may change or move the heads it is handed.
  bool keep_alive = true;
  BodyFraming framing = BodyFraming::None;
  uint64_t body_bytes = 0;
  // Set by resume(): the next feed() runs llhttp even on zero bytes, since it may owe an event
  // that needs no input (completion after a pause on the last body bytes).
  bool run_pending = false;
  bool busy = false;  // inside feed() / finish(): callbacks must not re-enter

  bool has_error = false;
  bool scanner_failed = false;
  Error error;
  uint16_t error_status = 0;

  RequestHead req;
  ResponseHead resp;
  Headers trailers;
  std::string version_text;
  // Bytes of the chunk extension name / value being parsed (llhttp 8.1 lets empty ones through).
  size_t chunk_ext_bytes = 0;

  Headers& currentHeaders() {
    if (section == Section::Trailers) return trailers;
    return type == Type::Request ? req.headers : resp.headers;
  }

  // ---- errors -----------------------------------------------------------------------------

  uint16_t statusFor(std::string_view code) const {
    if (type == Type::Response) return 502;  // what the proxy answers its client
    if (code == kHttp1HeaderTooLarge) return 431;
    if (code == kHttp1UnsupportedCoding) return 501;
    if (code == kHttp1UnsupportedVersion) return 505;
    return 400;
  }

  // Records the first error (from a callback, a check or the scanner); llhttp callbacks return
  // the -1 this gives to make llhttp stop.
  int setError(std::string_view code, std::string_view message) {
    if (!has_error) {
      has_error = true;
      std::string text(type == Type::Request ? "bad HTTP/1 request: " : "bad HTTP/1 response: ");
      text.append(message);
      error = makeError(std::string(code), std::move(text));
      error_status = statusFor(code);
    }
    return -1;
  }

  Error fail(std::string_view code, std::string_view message) {
    setError(code, message);
    state = Http1ParserState::Failed;
    return error;
  }

  Error fail(const Error& e) { return fail(e.code, e.message); }

  bool scan(const char* b, const char* e) {
    const char* problem = scanner.scan(b, e, section);
    if (problem == nullptr) return true;
    scanner_failed = true;
    setError(kHttp1Malformed, problem);
    return false;
  }

  Error failFromLlhttp(llhttp_errno_t err, const char* run_end) {
    // Scan up to where llhttp stopped: a line problem there came first in the byte stream and is
    // the one reported, so the answer does not depend on how the bytes were split into reads.
    const char* stop = llhttp_get_error_pos(&parser);
    if (!scanner_failed && stop != nullptr && stop >= scan_from && stop <= run_end) {
      const char* problem = scanner.scan(scan_from, stop, section);
      if (problem != nullptr) {
        has_error = false;
        return fail(kHttp1Malformed, problem);
      }
    }
    if (has_error) {  // raised by one of our callbacks
      state = Http1ParserState::Failed;
      return error;
    }
    const char* reason = llhttp_get_error_reason(&parser);
    std::string msg = reason != nullptr ? reason : llhttp_errno_name(err);
    // llhttp refuses "HTTP/1.2" itself, before on_version_complete: a well-formed version we do
    // not support (505), unlike "HTTP/1.1 " or "HTTP/1.x" (400).
    const std::string& v = version_text;
    if (err == HPE_INVALID_VERSION && v.size() == 3 && v[1] == '.' && v[0] >= '0' && v[0] <= '9' &&
        v[2] >= '0' && v[2] <= '9' && v != "1.0" && v != "1.1") {
      return fail(kHttp1UnsupportedVersion, "unsupported HTTP version " + v);
    }
    if (err == HPE_INVALID_TRANSFER_ENCODING) {
      msg = "invalid Transfer-Encoding (chunked must be the final coding, once): " + msg;
    } else if (err == HPE_INVALID_CHUNK_SIZE) {
      msg = "bad chunk framing: " + msg;
    }
    return fail(kHttp1Malformed, msg);
  }

  // ---- per-message state ------------------------------------------------------------------

  void beginMessage() {
    message_started = true;
    head_delivered = false;
    version_seen = false;
    in_field = false;
    keep_alive = true;
    framing = BodyFraming::None;
    body_bytes = 0;
    version_text.clear();
    chunk_ext_bytes = 0;
    trailers.clear();
    // Field by field rather than `= {}`: clear() keeps the strings' capacity between messages.
    if (type == Type::Request) {
      req.method.clear();
      req.target.clear();
      req.headers.clear();
      req.version_major = req.version_minor = 0;
      req.keep_alive = true;
      req.upgrade = false;
      req.framing = BodyFraming::None;
      req.content_length = 0;
      req.head_bytes = 0;
    } else {
      resp.status = 0;
      resp.reason.clear();
      resp.headers.clear();
      resp.version_major = resp.version_minor = 0;
      resp.keep_alive = true;
      resp.upgrade = false;
      resp.framing = BodyFraming::None;
      resp.content_length = 0;
      resp.head_bytes = 0;
    }
  }

  void resetAll() {
    llhttp_reset(&parser);
    scanner.reset();
    state = Http1ParserState::Ready;
    section = Section::Head;
    pending = Pending::None;
    section_bytes = 0;
    message_started = false;
    head_delivered = false;
    run_pending = false;
    has_error = false;
    scanner_failed = false;
    error = Error{};
    error_status = 0;
  }

  // ---- checks once a head is complete -----------------------------------------------------

  Result<void> finishRequestHead() {
    RequestHead& r = req;
    if (!version_seen) {
      return fail(kHttp1Malformed, "no HTTP version in the request line (HTTP/0.9)");
    }
    r.version_major = parser.http_major;
    r.version_minor = parser.http_minor;
    size_t hosts = 0;
    const std::string* host = nullptr;
    for (const auto& f : r.headers.fields()) {
      if (equalsIgnoreCase(f.name, "host")) {
        ++hosts;
        host = &f.value;
      }
    }
    if (hosts > 1) return fail(kHttp1Malformed, "more than one Host field");
    if (hosts == 0 && r.version_minor == 1) {
      return fail(kHttp1Malformed, "HTTP/1.1 request without Host");
    }
    if (host != nullptr) {
      auto h = parseHostHeader(*host);
      if (!h) return fail(kHttp1Malformed, "invalid Host: " + h.error().message);
      // RFC 9112 §3.2.2 lets a proxy replace a Host that names another authority than an
      // absolute-form target; this parser refuses it instead (SPEC §9: a conflicting Host is bad
      // input). Anything that reads Host rather than the target (a filter, a log, a lenient
      // server further on) would otherwise see another server than the one the request goes to.
      if (!hostMatchesAbsoluteTarget(r.target, *h)) {
        return fail(kHttp1Malformed, "Host does not match the authority of the request-target");
      }
    }
    auto declared = declaredFraming(r.headers, r.version_major, r.version_minor);
    if (!declared) return fail(declared.error());
    r.framing = declared->chunked      ? BodyFraming::Chunked
                : declared->has_length ? BodyFraming::ContentLength
                                       : BodyFraming::None;
    r.content_length = declared->length;
    if (r.isConnect() && r.hasBody()) return fail(kHttp1Malformed, "CONNECT request with a body");
    r.keep_alive = wantsKeepAlive(r.headers, r.version_major, r.version_minor);
    r.upgrade = parser.upgrade != 0;  // CONNECT, or Upgrade with Connection: upgrade
    r.head_bytes = section_bytes;
    keep_alive = r.keep_alive;
    framing = r.framing;
    return {};
  }

  // True unless `target` is an absolute-form URL whose authority differs from `host` (a Host
  // without a port means the scheme's default port). Other targets are judged elsewhere.
  static bool hostMatchesAbsoluteTarget(std::string_view target, const Authority& host) {
    if (target.empty() || target[0] == '/' || target.find("://") == std::string_view::npos) {
      return true;
    }
    auto url = parseAbsoluteUrl(target);
    if (!url) return true;  // not a URL the proxy can route: refused by the listener
    uint16_t port = host.port != 0 ? host.port : (url->scheme == "https" ? 443 : 80);
    return host.host == url->authority.host && port == url->authority.port;
  }

  Result<void> finishResponseHead() {
    ResponseHead& r = resp;
    r.version_major = parser.http_major;
    r.version_minor = parser.http_minor;
    r.status = parser.status_code;
    if (r.status < 100 || r.status > 599) {
      return fail(kHttp1Malformed, "invalid status code " + std::to_string(r.status));
    }
    // reason-phrase = *( HTAB / SP / VCHAR / obs-text ) (RFC 9112 §4). llhttp 8.1 lets the other
    // controls through, and the reason is passed on to the client.
    for (unsigned char c : r.reason) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return fail(kHttp1Malformed, "control character in the reason phrase");
      }
    }
    auto declared = declaredFraming(r.headers, r.version_major, r.version_minor);
    if (!declared) return fail(declared.error());
    if (r.isInformational() || r.status == 204 || r.status == 304) {
      r.framing = BodyFraming::None;  // never a body, whatever the fields announce
    } else if (declared->chunked) {
      r.framing = BodyFraming::Chunked;
    } else if (declared->has_length) {
      r.framing = BodyFraming::ContentLength;
      r.content_length = declared->length;
    } else {
      r.framing = BodyFraming::UntilClose;
    }
    r.upgrade = r.status == 101;
    r.keep_alive = r.framing != BodyFraming::UntilClose &&
                   wantsKeepAlive(r.headers, r.version_major, r.version_minor);
    r.head_bytes = section_bytes;
    keep_alive = r.keep_alive;
    framing = r.framing;
    return {};
  }

  // llhttp delimits the body; the head we hand out says how it is delimited. The two must agree,
  // or filters (and the writer) would see another message than the one parsed.
  Result<void> checkAgreesWithLlhttp() {
    bool ll_chunked = (parser.flags & F_CHUNKED) != 0;
    bool ll_length = (parser.flags & F_CONTENT_LENGTH) != 0;
    if (framing == BodyFraming::Chunked && !ll_chunked && !ll_length &&
        (parser.flags & F_TRANSFER_ENCODING) != 0) {
      // llhttp 8.1 takes only SP as whitespace after "chunked": "chunked<HTAB>" is an unknown
      // coding to it, though HTAB is OWS too (RFC 9110 §5.6.3). declaredFraming has checked that
      // the Transfer-Encoding is exactly one "chunked" with OWS around it, so llhttp is told.
      parser.flags |= F_CHUNKED;
      ll_chunked = true;
    }
    uint64_t length = type == Type::Request ? req.content_length : resp.content_length;
    bool agree = false;
    switch (framing) {
      case BodyFraming::Chunked:
        agree = ll_chunked && !ll_length;
        break;
      case BodyFraming::ContentLength:
        agree = !ll_chunked && ll_length && parser.content_length == length;
        break;
      case BodyFraming::None:
        // 1xx/204/304 may announce a length: the body is skipped (F_SKIPBODY) all the same.
        agree = !ll_chunked && (!ll_length || type == Type::Response);
        break;
      case BodyFraming::UntilClose:
        agree = !ll_chunked && !ll_length && (parser.flags & F_TRANSFER_ENCODING) == 0;
        break;
    }
    if (!agree) return fail(kHttp1Malformed, "ambiguous message framing");
    return {};
  }

  Result<void> checkTrailers() {
    for (const auto& f : trailers.fields()) {
      if (equalsIgnoreCase(f.name, "content-length") ||
          equalsIgnoreCase(f.name, "transfer-encoding") || equalsIgnoreCase(f.name, "host")) {
        return fail(kHttp1Malformed, "forbidden field in trailers: " + f.name);
      }
    }
    return {};
  }

  // ---- events, run by feed() after llhttp_execute returned a pause ------------------------

  // Returns false when parsing must not go on (error, Stop).
  bool onHeadComplete() {
    auto ok = type == Type::Request ? finishRequestHead() : finishResponseHead();
    if (!ok || !checkAgreesWithLlhttp()) return false;
    section = Section::Body;
    section_bytes = 0;
    head_delivered = true;
    HeadAction action = type == Type::Request ? cb.onRequestHead(req) : cb.onResponseHead(resp);
    if (action == HeadAction::Stop) {
      state = Http1ParserState::Stopped;
      return false;
    }
    // SkipBody only means something for responses (to HEAD): on a request, skipping a body the
    // client did send would parse that body as the next request.
    bool no_body =
        type == Type::Response && (action == HeadAction::SkipBody || resp.isInformational() ||
                                   resp.status == 204 || resp.status == 304);
    if (no_body) {
      // What on_headers_complete returning 1 does; it paused instead (so the head could be
      // measured and scanned first), so the flag is set by hand.
      parser.flags |= F_SKIPBODY;
      if (framing == BodyFraming::UntilClose) {
        // A HEAD response without a length does not end the connection after all.
        keep_alive = wantsKeepAlive(resp.headers, resp.version_major, resp.version_minor);
        resp.keep_alive = keep_alive;
      }
      framing = BodyFraming::None;
    }
    llhttp_resume(&parser);
    return true;
  }

  // `upgrade`: llhttp stopped with HPE_PAUSED_UPGRADE right after this message.
  bool onMessageComplete(bool upgrade) {
    if (!checkTrailers()) return false;
    bool informational = type == Type::Response && resp.isInformational();
    message_started = false;
    section = Section::Head;
    section_bytes = 0;
    scanner.reset();
    FlowAction action = cb.onMessageComplete(trailers);
    if (upgrade) {
      state = Http1ParserState::Stopped;
    } else if (!keep_alive && !informational) {
      state = Http1ParserState::Closed;
    } else if (action == FlowAction::Pause) {
      state = Http1ParserState::Paused;
    } else {
      llhttp_resume(&parser);
      return true;
    }
    return false;
  }

  // ---- driving llhttp ---------------------------------------------------------------------

  Result<size_t> feed(const char* data, size_t len) {
    if (busy) return makeError("misuse", "Http1Parser::feed called from one of its callbacks");
    busy = true;
    auto r = feedLoop(data, len);
    busy = false;
    return r;
  }

  Result<size_t> feedLoop(const char* data, size_t len) {
    if (state == Http1ParserState::Failed) return error;
    if (state != Http1ParserState::Ready) return size_t{0};
    static const char kNothing = 0;
    if (data == nullptr) data = &kNothing;  // llhttp gets a real pointer even for len == 0
    size_t consumed = 0;
    // After a head, llhttp can decide "no body, message complete" without another byte: one
    // more run (on zero bytes if need be) delivers that completion now.
    bool run_again = run_pending;
    run_pending = false;
    while ((consumed < len || run_again) && state == Http1ParserState::Ready) {
      run_again = false;
      const char* start = data + consumed;
      size_t n = len - consumed;
      const Section run_section = section;
      bool sliced = false;
      if (run_section != Section::Body) {
        // Never hand llhttp more head bytes than the limit allows: a head is then bounded
        // exactly, whatever the read sizes, and nothing past the limit is ever stored.
        size_t room = max_header_bytes - section_bytes;
        if (n >= room) {
          n = room;
          sliced = true;
        }
      }
      scan_from = start;
      pending = Pending::None;
      llhttp_errno_t err = llhttp_execute(&parser, start, n);
      size_t used = n;
      if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        used = static_cast<size_t>(llhttp_get_error_pos(&parser) - start);
      } else if (err != HPE_OK) {
        return failFromLlhttp(err, start + n);
      }
      if (!scan(scan_from, start + used)) {
        state = Http1ParserState::Failed;
        return error;
      }
      if (run_section != Section::Body) section_bytes += used;
      consumed += used;

      if (err == HPE_OK) {
        if (sliced) {  // the whole room went by and the section did not end
          return fail(kHttp1HeaderTooLarge,
                      std::string(run_section == Section::Head ? "head" : "trailer section") +
                          " larger than " + std::to_string(max_header_bytes) + " bytes");
        }
        continue;
      }
      switch (pending) {
        case Pending::HeadComplete:
          run_again = onHeadComplete();
          break;
        case Pending::LastChunk:
          section = Section::Trailers;
          section_bytes = 0;
          llhttp_resume(&parser);
          break;
        case Pending::MessageComplete:
          onMessageComplete(err == HPE_PAUSED_UPGRADE);
          break;
        case Pending::None:  // onBody asked for a pause
          state = Http1ParserState::Paused;
          break;
      }
      if (state == Http1ParserState::Failed) return error;
    }
    return consumed;
  }

  Result<void> finish() {
    if (busy) return makeError("misuse", "Http1Parser::finish called from one of its callbacks");
    switch (state) {
      case Http1ParserState::Failed:
        return error;
      case Http1ParserState::Stopped:
      case Http1ParserState::Closed:
        return {};
      case Http1ParserState::Ready:
      case Http1ParserState::Paused:
        break;
    }
    if (!message_started) return {};
    if (head_delivered && framing == BodyFraming::UntilClose) {
      // llhttp_finish would do this, but it does nothing while llhttp is paused; the framing is
      // known here, so the message is completed here.
      message_started = false;
      section = Section::Head;
      state = Http1ParserState::Closed;
      busy = true;
      cb.onMessageComplete(trailers);
      busy = false;
      return {};
    }
    return fail(kHttp1Incomplete, head_delivered ? "connection closed before the body was complete"
                                                 : "connection closed in the middle of the head");
  }
};

namespace {

Http1ParserImpl* impl(llhttp_t* p) { return static_cast<Http1ParserImpl*>(p->data); }

int onMessageBegin(llhttp_t* p) noexcept {
  impl(p)->beginMessage();
  return 0;
}

int onMethod(llhttp_t* p, const char* at, size_t len) noexcept {
  impl(p)->req.method.append(at, len);
  return 0;
}

int onUrl(llhttp_t* p, const char* at, size_t len) noexcept {
  impl(p)->req.target.append(at, len);
  return 0;
}

int onUrlComplete(llhttp_t* p) noexcept {
  auto* s = impl(p);
  // llhttp (non-strict build) lets HTAB, obs-text and '#' through in the request-target.
  for (char c : s->req.target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return s->setError(kHttp1Malformed, "bad byte in request-target");
    if (c == '#') return s->setError(kHttp1Malformed, "fragment in request-target");
  }
  return 0;
}

int onStatus(llhttp_t* p, const char* at, size_t len) noexcept {
  impl(p)->resp.reason.append(at, len);
  return 0;
}

int onVersion(llhttp_t* p, const char* at, size_t len) noexcept {
  auto* s = impl(p);
  if (s->version_text.size() < 16) s->version_text.append(at, len);
  return 0;
}

int onVersionComplete(llhttp_t* p) noexcept {
  auto* s = impl(p);
  s->version_seen = true;
  if (p->http_major != 1 || p->http_minor > 1) {
    return s->setError(kHttp1UnsupportedVersion, "unsupported HTTP version " +
                                                     std::to_string(p->http_major) + "." +
                                                     std::to_string(p->http_minor));
  }
  return 0;
}

int onHeaderField(llhttp_t* p, const char* at, size_t len) noexcept {
  auto* s = impl(p);
  auto& fields = s->currentHeaders().fields();
  if (!s->in_field) {
    // Appending into the field in place: a name split over reads costs no extra copy.
    if (fields.capacity() == 0) fields.reserve(Headers::kTypicalFields);
    fields.emplace_back();
    s->in_field = true;
  }
  fields.back().name.append(at, len);
  return 0;
}

int onHeaderFieldComplete(llhttp_t* p) noexcept {
  auto* s = impl(p);
  s->in_field = false;
  auto& fields = s->currentHeaders().fields();
  // The non-strict llhttp build accepts spaces in names ("X A: b") and empty names.
  if (fields.empty() || !isValidFieldName(fields.back().name)) {
    return s->setError(kHttp1Malformed, "invalid header field name");
  }
  return 0;
}

int onHeaderValue(llhttp_t* p, const char* at, size_t len) noexcept {
  auto* s = impl(p);
  auto& fields = s->currentHeaders().fields();
  if (fields.empty()) return s->setError(kHttp1Malformed, "header value without a name");
  fields.back().value.append(at, len);
  return 0;
}

int onHeaderValueComplete(llhttp_t* p) noexcept {
  auto* s = impl(p);
  auto& fields = s->currentHeaders().fields();
  if (fields.empty()) return s->setError(kHttp1Malformed, "header value without a name");
  // llhttp skips leading whitespace but keeps trailing whitespace in the value. No character
  // check: llhttp refuses NUL, other controls and DEL in values in both of its builds (the unit
  // tests hold it to that), and this runs for every field of every message.
  std::string& v = fields.back().value;
  size_t end = v.size();
  while (end > 0 && (v[end - 1] == ' ' || v[end - 1] == '\t')) --end;
  v.resize(end);
  return 0;
}

// llhttp 8.1 checks the characters of chunk extensions (tokens, quoted strings) but lets an
// empty name (";=v") or an empty value (";n=") through; RFC 9112 §7.1.1 makes both a token (or a
// quoted string, whose quotes count here) of at least one character.
int onChunkExtensionPart(llhttp_t* p, const char* at, size_t len) noexcept {
  (void)at;
  impl(p)->chunk_ext_bytes += len;
  return 0;
}

int onChunkExtensionNameComplete(llhttp_t* p) noexcept {
  auto* s = impl(p);
  bool empty = s->chunk_ext_bytes == 0;
  s->chunk_ext_bytes = 0;
  return empty ? s->setError(kHttp1Malformed, "bad chunk framing: empty chunk extension name") : 0;
}

int onChunkExtensionValueComplete(llhttp_t* p) noexcept {
  auto* s = impl(p);
  bool empty = s->chunk_ext_bytes == 0;
  s->chunk_ext_bytes = 0;
  return empty ? s->setError(kHttp1Malformed, "bad chunk framing: empty chunk extension value") : 0;
}

int onHeadersComplete(llhttp_t* p) noexcept {
  impl(p)->pending = Pending::HeadComplete;
  return HPE_PAUSED;
}

int onBody(llhttp_t* p, const char* at, size_t len) noexcept {
  auto* s = impl(p);
  // The bytes since the previous body span are chunk framing: scan them first, so a malformed
  // chunk line is refused before any byte after it reaches the caller.
  if (!s->scan(s->scan_from, at)) return -1;
  if (const char* problem = s->scanner.beforeBody()) {
    s->scanner_failed = true;
    return s->setError(kHttp1Malformed, problem);
  }
  s->scan_from = at + len;
  if (len == 0) return 0;
  s->body_bytes += len;
  return s->cb.onBody(at, len) == FlowAction::Pause ? HPE_PAUSED : 0;
}

int onChunkHeader(llhttp_t* p) noexcept {
  if (p->content_length != 0) return 0;
  // The last chunk: what follows is the trailer section, bounded and scanned like a head.
  impl(p)->pending = Pending::LastChunk;
  return HPE_PAUSED;
}

int onMessageComplete(llhttp_t* p) noexcept {
  auto* s = impl(p);
  s->pending = Pending::MessageComplete;
  // Whether the connection goes on is decided by this parser (Closed state), not by llhttp: its
  // own rule ignores 1xx (an HTTP/1.0 "100 Continue" would end the connection) and, in the
  // non-strict build, it then swallows every later byte silently. When we go on, llhttp must too.
  bool informational = s->type == Http1Parser::Type::Response && s->resp.isInformational();
  if (s->keep_alive || informational) {
    p->flags = static_cast<uint16_t>((p->flags & ~F_CONNECTION_CLOSE) | F_CONNECTION_KEEP_ALIVE);
  }
  // After CONNECT or an upgrade, llhttp stops with HPE_PAUSED_UPGRADE right after this callback;
  // pausing here as well would hide that.
  return p->upgrade ? 0 : HPE_PAUSED;
}

const llhttp_settings_t* settings() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t st;
    llhttp_settings_init(&st);
    st.on_message_begin = onMessageBegin;
    st.on_method = onMethod;
    st.on_url = onUrl;
    st.on_url_complete = onUrlComplete;
    st.on_status = onStatus;
    st.on_version = onVersion;
    st.on_version_complete = onVersionComplete;
    st.on_header_field = onHeaderField;
    st.on_header_field_complete = onHeaderFieldComplete;
    st.on_header_value = onHeaderValue;
    st.on_header_value_complete = onHeaderValueComplete;
    st.on_headers_complete = onHeadersComplete;
    st.on_body = onBody;
    st.on_chunk_header = onChunkHeader;
    st.on_chunk_extension_name = onChunkExtensionPart;
    st.on_chunk_extension_value = onChunkExtensionPart;
    st.on_chunk_extension_name_complete = onChunkExtensionNameComplete;
    st.on_chunk_extension_value_complete = onChunkExtensionValueComplete;
    st.on_message_complete = onMessageComplete;
    return st;
  }();
  return &s;
}

}  // namespace

Http1Parser::Http1Parser(Type type, Http1ParserCallbacks& callbacks, size_t max_header_bytes)
    : impl_(std::make_unique<Http1ParserImpl>(type, callbacks, max_header_bytes)) {}

Http1Parser::~Http1Parser() = default;

Result<size_t> Http1Parser::feed(const char* data, size_t len) { return impl_->feed(data, len); }

Result<void> Http1Parser::finish() { return impl_->finish(); }

void Http1Parser::resume() {
  auto& s = *impl_;
  if (s.state != Http1ParserState::Paused && s.state != Http1ParserState::Stopped) return;
  // Each only acts when llhttp is in its own kind of pause.
  llhttp_resume(&s.parser);
  llhttp_resume_after_upgrade(&s.parser);
  s.state = Http1ParserState::Ready;
  s.run_pending = true;
}

void Http1Parser::reset() { impl_->resetAll(); }

Http1Parser::Type Http1Parser::type() const { return impl_->type; }
Http1ParserState Http1Parser::state() const { return impl_->state; }
bool Http1Parser::messageInProgress() const { return impl_->message_started; }
bool Http1Parser::inBody() const { return impl_->message_started && impl_->head_delivered; }
uint64_t Http1Parser::bodyBytes() const { return impl_->body_bytes; }
RequestHead& Http1Parser::requestHead() { return impl_->req; }
ResponseHead& Http1Parser::responseHead() { return impl_->resp; }
uint16_t Http1Parser::errorStatus() const { return impl_->error_status; }
const Error& Http1Parser::error() const { return impl_->error; }

}  // namespace aiw
