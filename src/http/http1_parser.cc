#include "http/http1_parser.h"

#include <llhttp.h>

#include <string>

#include "http/message_utils.h"

namespace aiw {

namespace {

// Where the bytes being parsed belong. Heads and trailer sections are bounded by
// max_header_bytes and checked line by line; the body phase covers body bytes and chunk lines.
enum class Phase : uint8_t { Head, Body, Trailers };

// What an llhttp callback paused for; feed() acts on it once llhttp_execute has returned, so that
// user callbacks never run with llhttp mid-step and every byte before the pause is scanned.
enum class Pending : uint8_t { None, HeadComplete, LastChunk, MessageComplete };

constexpr const char* kCodeMalformed = "malformed";
constexpr const char* kCodeTooLarge = "header_too_large";
constexpr const char* kCodeTransferEncoding = "unsupported_transfer_encoding";
constexpr const char* kCodeVersion = "unsupported_version";
constexpr const char* kCodeIncomplete = "incomplete_message";

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Content-Length = 1*DIGIT, no sign, no list, fits in 63 bits.
bool parseContentLength(std::string_view v, uint64_t& out) {
  if (v.empty() || v.size() > 18) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  out = n;
  return true;
}

const llhttp_settings_t* settings();

}  // namespace

// Everything the parser holds; out of the header so that llhttp.h stays out of it. The llhttp
// callbacks reach it through parser.data, which points at this object for its whole life (it
// is heap-allocated once per parser and never moves).
struct Http1ParserImpl {
  using Type = Http1Parser::Type;

  Http1ParserImpl(Type t, Http1ParserCallbacks& c, size_t max)
      : type(t), cb(c), max_header_bytes(max) {
    if (max_header_bytes == 0) max_header_bytes = 1;
    llhttp_init(&parser, t == Type::Request ? HTTP_REQUEST : HTTP_RESPONSE, settings());
    parser.data = this;
    // Every lenient flag stays off (llhttp_init zeroes them; said here so nobody turns one on).
    parser.lenient_flags = 0;
  }

  llhttp_t parser;
  const Type type;
  Http1ParserCallbacks& cb;
  size_t max_header_bytes;

  Http1ParserState state = Http1ParserState::Ready;
  Phase phase = Phase::Head;
  Pending pending = Pending::None;
  bool message_started = false;
  bool head_delivered = false;
  bool version_seen = false;
  bool in_field = false;  // the last header span was a field name (not a value)
  bool keep_alive = true;
  BodyFraming framing = BodyFraming::None;
  size_t section_bytes = 0;  // bytes of the current head / trailer section so far
  uint64_t body_bytes = 0;

  // Line discipline scanner over every byte that is not body content (see scan()).
  const char* scan_from = nullptr;
  bool prev_cr = false;
  bool at_line_start = false;
  bool line_has_content = false;
  bool start_line_done = false;
  bool prev_space = false;
  size_t line_len = 0;

  // Set by resume(): the next feed() runs llhttp even on zero bytes, since it may owe an event
  // that needs no input (completion after a pause on the last body bytes).
  bool run_pending = false;

  bool scan_overrides = false;
  bool scanner_failed = false;
  bool has_pending_error = false;
  Error error;
  uint16_t error_status = 0;

  RequestHead req;
  ResponseHead resp;
  Headers trailers;
  std::string version_text;

  Headers& currentHeaders() {
    if (phase == Phase::Trailers) return trailers;
    return type == Type::Request ? req.headers : resp.headers;
  }

  uint16_t statusFor(const char* code) const {
    if (type == Type::Response) return 502;
    std::string_view c(code);
    if (c == kCodeTooLarge) return 431;
    if (c == kCodeTransferEncoding) return 501;
    if (c == kCodeVersion) return 505;
    return 400;
  }

  // Records an error raised inside an llhttp callback; feed() reports it.
  int setPendingError(const char* code, std::string message) {
    if (!has_pending_error) {
      has_pending_error = true;
      error = makeError(code, decorate(std::move(message)));
      error_status = statusFor(code);
    }
    return -1;
  }

  std::string decorate(std::string message) const {
    return (type == Type::Request ? "bad HTTP/1 request: " : "bad HTTP/1 response: ") + message;
  }

  Error fail(const char* code, std::string message) {
    setPendingError(code, std::move(message));
    state = Http1ParserState::Failed;
    return error;
  }

  Error failFromLlhttp(llhttp_errno_t err) {
    if (has_pending_error) {
      state = Http1ParserState::Failed;
      return error;
    }
    const char* reason = llhttp_get_error_reason(&parser);
    std::string msg = reason != nullptr ? reason : llhttp_errno_name(err);
    // llhttp refuses "HTTP/1.2" itself, before on_version_complete: that is a well-formed
    // version we do not support (505), unlike "HTTP/1.1 " or "HTTP/1.x" (400).
    if (err == HPE_INVALID_VERSION && version_text.size() == 3 && version_text[1] == '.' &&
        version_text[0] >= '0' && version_text[0] <= '9' && version_text[2] >= '0' &&
        version_text[2] <= '9' && version_text != "1.0" && version_text != "1.1") {
      return fail(kCodeVersion, "unsupported HTTP version " + version_text);
    }
    if (err == HPE_INVALID_TRANSFER_ENCODING) {
      msg = "invalid Transfer-Encoding (chunked must be the final coding, once): " + msg;
    } else if (err == HPE_INVALID_CHUNK_SIZE) {
      msg = "bad chunk framing: " + msg;
    }
    return fail(kCodeMalformed, std::move(msg));
  }

  void beginMessage() {
    message_started = true;
    head_delivered = false;
    version_seen = false;
    in_field = false;
    keep_alive = true;
    framing = BodyFraming::None;
    body_bytes = 0;
    version_text.clear();
    trailers.clear();
    if (type == Type::Request) {
      req.method.clear();  // clear() keeps capacity: no reallocation per request
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

  void resetScanner() {
    prev_cr = false;
    at_line_start = false;
    line_has_content = false;
    start_line_done = false;
    prev_space = false;
    line_len = 0;
  }

  void resetAll() {
    llhttp_reset(&parser);
    state = Http1ParserState::Ready;
    phase = Phase::Head;
    pending = Pending::None;
    run_pending = false;
    message_started = false;
    head_delivered = false;
    section_bytes = 0;
    has_pending_error = false;
    scan_overrides = false;
    scanner_failed = false;
    error = Error{};
    error_status = 0;
    resetScanner();
  }

  // llhttp 8.1 accepts a bare LF after the request/status line and as the empty line that ends a
  // head or trailer section, folds obs-fold continuation lines into the value, and — after a
  // chunk extension — takes any byte following a CR as its LF. This scan closes those gaps: every
  // CR is followed by LF, every LF is preceded by CR, no line after the start line begins with
  // whitespace, and the request line has single spaces. It runs over every byte that is not body
  // content, so its cost is bounded by the heads and chunk lines, not by the body.
  bool scanFail(const char* what) {
    // From the error path in feed(), the scan covers bytes before the point where llhttp (or a
    // callback) stopped: that problem came first in the byte stream and is the one reported, so
    // the answer does not depend on how the bytes were split into reads.
    if (scan_overrides) has_pending_error = false;
    setPendingError(kCodeMalformed, what);
    scanner_failed = true;
    return false;
  }

  bool scan(const char* b, const char* e) {
    for (const char* p = b; p < e; ++p) {
      char c = *p;
      if (prev_cr) {
        if (c != '\n') return scanFail("CR not followed by LF");
        prev_cr = false;
        at_line_start = true;
        if (line_has_content) start_line_done = true;
        line_has_content = false;
        line_len = 0;
        continue;
      }
      if (c == '\r') {
        prev_cr = true;
        continue;
      }
      if (c == '\n') return scanFail("LF without CR");
      if (at_line_start && start_line_done && phase != Phase::Body && (c == ' ' || c == '\t')) {
        return scanFail("obsolete line folding (obs-fold)");
      }
      at_line_start = false;
      line_has_content = true;
      if (!start_line_done && type == Type::Request) {
        if (c == ' ' && prev_space) {
          return scanFail("more than one space in the request line");
        }
        prev_space = c == ' ';
      }
      // Heads are bounded by slicing in feed(); this bounds chunk lines (extensions).
      if (++line_len > max_header_bytes && phase == Phase::Body) {
        return scanFail("chunk line too long");
      }
    }
    return true;
  }

  // ---- checks once the head is complete -------------------------------------------------

  Result<void> checkFraming(const Headers& h, uint8_t major, uint8_t minor, bool& chunked,
                            bool& has_length, uint64_t& length) {
    (void)minor;
    chunked = false;
    has_length = false;
    size_t cl_count = 0;
    const std::string* cl = nullptr;
    size_t te_count = 0;
    for (const auto& f : h.fields()) {
      if (equalsIgnoreCase(f.name, "content-length")) {
        ++cl_count;
        cl = &f.value;
      } else if (equalsIgnoreCase(f.name, "transfer-encoding")) {
        ++te_count;
      }
    }
    if (cl_count > 1) return fail(kCodeMalformed, "more than one Content-Length field");
    if (cl_count == 1 && te_count > 0) {
      return fail(kCodeMalformed, "both Content-Length and Transfer-Encoding");
    }
    if (cl_count == 1) {
      if (!parseContentLength(*cl, length)) return fail(kCodeMalformed, "invalid Content-Length");
      has_length = true;
      return {};
    }
    if (te_count == 0) return {};
    if (major == 1 && minor == 0) {
      return fail(kCodeMalformed, "Transfer-Encoding in an HTTP/1.0 message");
    }
    // The codings of every Transfer-Encoding line, in order. Only a single "chunked" is
    // implemented; RFC 9112 §6.3 makes "chunked not last" a 400 and §6.1 makes a coding we do
    // not implement a 501.
    size_t codings = 0;
    size_t chunked_count = 0;
    bool empty_element = false;
    bool last_is_chunked = false;
    for (const auto& f : h.fields()) {
      if (!equalsIgnoreCase(f.name, "transfer-encoding")) continue;
      if (trimOws(f.value).empty()) empty_element = true;
      size_t pos = 0;
      std::string_view v = f.value;
      while (pos <= v.size()) {
        size_t comma = v.find(',', pos);
        if (comma == std::string_view::npos) comma = v.size();
        std::string_view e = trimOws(v.substr(pos, comma - pos));
        if (e.empty()) {
          empty_element = true;
        } else {
          ++codings;
          last_is_chunked = equalsIgnoreCase(e, "chunked");
          if (last_is_chunked) ++chunked_count;
        }
        pos = comma + 1;
      }
    }
    if (empty_element) return fail(kCodeMalformed, "empty Transfer-Encoding element");
    if (!last_is_chunked) return fail(kCodeMalformed, "Transfer-Encoding does not end with chunked");
    if (chunked_count > 1) return fail(kCodeMalformed, "chunked applied more than once");
    if (codings > 1) {
      return fail(kCodeTransferEncoding,
                  "Transfer-Encoding other than chunked is not supported");
    }
    chunked = true;
    return {};
  }

  static void connectionSays(const Headers& h, bool& close, bool& keep_alive_token) {
    close = false;
    keep_alive_token = false;
    for (const auto& f : h.fields()) {
      if (!equalsIgnoreCase(f.name, "connection")) continue;
      forEachListElement(f.value, [&](std::string_view e) {
        if (equalsIgnoreCase(e, "close")) close = true;
        if (equalsIgnoreCase(e, "keep-alive")) keep_alive_token = true;
      });
    }
  }

  static bool wantsKeepAlive(const Headers& h, uint8_t major, uint8_t minor) {
    bool close;
    bool ka;
    connectionSays(h, close, ka);
    if (close) return false;
    if (major == 1 && minor >= 1) return true;
    return ka;
  }

  Result<void> finishRequestHead() {
    RequestHead& r = req;
    if (!version_seen) {
      return fail(kCodeMalformed, "no HTTP version in the request line (HTTP/0.9 is not supported)");
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
    if (hosts > 1) return fail(kCodeMalformed, "more than one Host field");
    if (hosts == 0 && r.version_minor == 1) return fail(kCodeMalformed, "HTTP/1.1 request without Host");
    if (host != nullptr) {
      auto h = parseHostHeader(*host);
      if (!h) return fail(kCodeMalformed, "invalid Host: " + h.error().message);
    }
    bool chunked;
    bool has_length;
    uint64_t length = 0;
    auto framed = checkFraming(r.headers, r.version_major, r.version_minor, chunked, has_length, length);
    if (!framed) return framed;
    r.framing = chunked      ? BodyFraming::Chunked
                : has_length ? BodyFraming::ContentLength
                             : BodyFraming::None;
    r.content_length = has_length ? length : 0;
    if (r.isConnect() && (chunked || (has_length && length > 0))) {
      return fail(kCodeMalformed, "CONNECT request with a body");
    }
    r.keep_alive = wantsKeepAlive(r.headers, r.version_major, r.version_minor);
    r.upgrade = parser.upgrade != 0;
    r.head_bytes = section_bytes;
    keep_alive = r.keep_alive;
    framing = r.framing;
    return {};
  }

  Result<void> finishResponseHead() {
    ResponseHead& r = resp;
    r.version_major = parser.http_major;
    r.version_minor = parser.http_minor;
    r.status = parser.status_code;
    if (r.status < 100 || r.status > 599) {
      return fail(kCodeMalformed, "invalid status code " + std::to_string(r.status));
    }
    bool chunked;
    bool has_length;
    uint64_t length = 0;
    auto framed = checkFraming(r.headers, r.version_major, r.version_minor, chunked, has_length, length);
    if (!framed) return framed;
    if (r.isInformational() || r.status == 204 || r.status == 304) {
      r.framing = BodyFraming::None;  // never a body, whatever the fields announce
    } else if (chunked) {
      r.framing = BodyFraming::Chunked;
    } else if (has_length) {
      r.framing = BodyFraming::ContentLength;
      r.content_length = length;
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

  Result<void> checkTrailers() {
    for (const auto& f : trailers.fields()) {
      if (equalsIgnoreCase(f.name, "content-length") ||
          equalsIgnoreCase(f.name, "transfer-encoding") || equalsIgnoreCase(f.name, "host")) {
        return fail(kCodeMalformed, "forbidden field in trailers: " + f.name);
      }
    }
    return {};
  }

  // The body is delimited by llhttp, the head we hand out says how it is delimited: the two must
  // agree, or a filter (or the writer) would see a different message than the one parsed.
  Result<void> checkAgreesWithLlhttp() {
    bool ll_chunked = (parser.flags & F_CHUNKED) != 0;
    bool ll_length = (parser.flags & F_CONTENT_LENGTH) != 0;
    bool agree = false;
    switch (framing) {
      case BodyFraming::Chunked:
        agree = ll_chunked && !ll_length;
        break;
      case BodyFraming::ContentLength:
        agree = !ll_chunked && ll_length &&
                parser.content_length ==
                    (type == Type::Request ? req.content_length : resp.content_length);
        break;
      case BodyFraming::None:
        // 1xx/204/304 may announce a length: the parser skips it (F_SKIPBODY).
        agree = !ll_chunked && (!ll_length || type == Type::Response);
        break;
      case BodyFraming::UntilClose:
        agree = !ll_chunked && !ll_length && (parser.flags & F_TRANSFER_ENCODING) == 0;
        break;
    }
    if (!agree) return fail(kCodeMalformed, "ambiguous message framing");
    return {};
  }

  // ---- events, run by feed() after llhttp_execute returned HPE_PAUSED ---------------------

  // Returns false when parsing must not go on (error, Stop).
  bool onHeadComplete() {
    auto ok = type == Type::Request ? finishRequestHead() : finishResponseHead();
    if (!ok) return false;
    if (!checkAgreesWithLlhttp()) return false;
    phase = Phase::Body;
    section_bytes = 0;
    head_delivered = true;
    HeadAction action =
        type == Type::Request ? cb.onRequestHead(req) : cb.onResponseHead(resp);
    if (action == HeadAction::Stop) {
      state = Http1ParserState::Stopped;
      return false;
    }
    bool no_body = action == HeadAction::SkipBody ||
                   (type == Type::Response &&
                    (resp.isInformational() || resp.status == 204 || resp.status == 304));
    if (no_body) {
      // What on_headers_complete returning 1 does; we paused instead so feed() could scan and
      // measure the head before anyone saw it, so the flag is set by hand.
      parser.flags |= F_SKIPBODY;
      if (type == Type::Response && framing == BodyFraming::UntilClose) {
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
    auto ok = checkTrailers();
    if (!ok) return false;
    bool informational = type == Type::Response && resp.isInformational();
    message_started = false;
    phase = Phase::Head;
    section_bytes = 0;
    resetScanner();
    FlowAction action = cb.onMessageComplete(trailers);
    if (upgrade) {
      state = Http1ParserState::Stopped;
      return false;
    }
    if (!keep_alive && !informational) {
      state = Http1ParserState::Closed;
      return false;
    }
    if (action == FlowAction::Pause) {
      state = Http1ParserState::Paused;
      return false;
    }
    llhttp_resume(&parser);
    return true;
  }

  Result<size_t> feed(const char* data, size_t len) {
    if (state == Http1ParserState::Failed) return error;
    if (state != Http1ParserState::Ready) return size_t{0};
    static const char kNothing = 0;
    if (data == nullptr) data = &kNothing;  // llhttp gets a real pointer even for len == 0
    size_t consumed = 0;
    // After a head, llhttp decides "no body, message complete" without needing another byte;
    // one more run (on zero bytes if need be) delivers that completion now.
    bool run_again = run_pending;
    run_pending = false;
    while ((consumed < len || run_again) && state == Http1ParserState::Ready) {
      run_again = false;
      const char* start = data + consumed;
      size_t n = len - consumed;
      const Phase run_phase = phase;
      bool sliced = false;
      if (run_phase != Phase::Body) {
        // Never hand llhttp more head bytes than the limit allows: the head is then bounded
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
      size_t used;
      if (err == HPE_OK) {
        used = n;
      } else if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        used = static_cast<size_t>(llhttp_get_error_pos(&parser) - start);
      } else {
        const char* stop = llhttp_get_error_pos(&parser);
        if (!scanner_failed && stop != nullptr && stop >= scan_from && stop <= start + n) {
          scan_overrides = true;
          scan(scan_from, stop);
        }
        return failFromLlhttp(err);
      }
      if (!scan(scan_from, start + used)) {
        state = Http1ParserState::Failed;
        return error;
      }
      if (run_phase != Phase::Body) section_bytes += used;
      consumed += used;

      if (err == HPE_OK) {
        if (sliced) {
          return fail(kCodeTooLarge,
                      std::string(run_phase == Phase::Head ? "head" : "trailer section") +
                          " larger than " + std::to_string(max_header_bytes) + " bytes");
        }
        continue;
      }
      switch (pending) {
        case Pending::HeadComplete:
          if (onHeadComplete()) {
            run_again = true;
          } else if (state == Http1ParserState::Failed) {
            return error;
          }
          break;
        case Pending::LastChunk:
          phase = Phase::Trailers;
          section_bytes = 0;
          llhttp_resume(&parser);
          break;
        case Pending::MessageComplete:
          if (!onMessageComplete(err == HPE_PAUSED_UPGRADE)) {
            if (state == Http1ParserState::Failed) return error;
          }
          break;
        case Pending::None:
          if (err == HPE_PAUSED_UPGRADE) {
            state = Http1ParserState::Stopped;
          } else {
            state = Http1ParserState::Paused;  // onBody asked for it
          }
          break;
      }
    }
    return consumed;
  }

  Result<void> finish() {
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
      // llhttp_finish would do this, but it does nothing while llhttp is paused, and the parser
      // already knows the framing: complete the message here.
      message_started = false;
      phase = Phase::Head;
      cb.onMessageComplete(trailers);
      state = Http1ParserState::Closed;
      return {};
    }
    if (!head_delivered) {
      return fail(kCodeIncomplete, "connection closed in the middle of the head");
    }
    return fail(kCodeIncomplete, "connection closed before the body was complete");
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
    if (u <= 0x20 || u >= 0x7f) {
      return s->setPendingError(kCodeMalformed, "invalid character in request-target");
    }
    if (c == '#') return s->setPendingError(kCodeMalformed, "fragment in request-target");
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
    return s->setPendingError(kCodeVersion, "unsupported HTTP version " +
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
  if (fields.empty()) return s->setPendingError(kCodeMalformed, "header value without a name");
  // The non-strict llhttp build accepts spaces in names ("Host : x") and empty names.
  if (!isValidFieldName(fields.back().name)) {
    return s->setPendingError(kCodeMalformed, "invalid header field name");
  }
  return 0;
}

int onHeaderValue(llhttp_t* p, const char* at, size_t len) noexcept {
  auto* s = impl(p);
  auto& fields = s->currentHeaders().fields();
  if (fields.empty()) return s->setPendingError(kCodeMalformed, "header value without a name");
  fields.back().value.append(at, len);
  return 0;
}

int onHeaderValueComplete(llhttp_t* p) noexcept {
  auto* s = impl(p);
  auto& fields = s->currentHeaders().fields();
  if (fields.empty()) return s->setPendingError(kCodeMalformed, "header value without a name");
  std::string& v = fields.back().value;
  // llhttp skips leading whitespace but keeps trailing whitespace in the value.
  size_t end = v.size();
  while (end > 0 && (v[end - 1] == ' ' || v[end - 1] == '\t')) --end;
  v.resize(end);
  if (!isValidFieldValue(v)) return s->setPendingError(kCodeMalformed, "invalid header value");
  return 0;
}

int onHeadersComplete(llhttp_t* p) noexcept {
  impl(p)->pending = Pending::HeadComplete;
  return HPE_PAUSED;
}

int onBody(llhttp_t* p, const char* at, size_t len) noexcept {
  auto* s = impl(p);
  // The bytes between the previous body span and this one are chunk framing: scan them first,
  // so a malformed chunk line is refused before any byte after it reaches the caller.
  if (!s->scan(s->scan_from, at)) return -1;
  if (s->prev_cr) return s->setPendingError(kCodeMalformed, "CR not followed by LF");
  s->at_line_start = false;
  s->line_len = 0;
  s->scan_from = at + len;
  if (len == 0) return 0;
  s->body_bytes += len;
  if (s->cb.onBody(at, len) == FlowAction::Pause) return HPE_PAUSED;
  return 0;
}

int onChunkHeader(llhttp_t* p) noexcept {
  if (p->content_length == 0) {
    // The last chunk: what follows is the trailer section, bounded and scanned like a head.
    impl(p)->pending = Pending::LastChunk;
    return HPE_PAUSED;
  }
  return 0;
}

int onMessageComplete(llhttp_t* p) noexcept {
  auto* s = impl(p);
  s->pending = Pending::MessageComplete;
  // Whether the connection goes on is decided here (Closed state), not by llhttp: its own rule
  // ignores 1xx (an HTTP/1.0 "100 Continue" would end the connection) and, in the non-strict
  // build, it then swallows every later byte silently. So when we go on, llhttp must too.
  bool informational = s->type == Http1Parser::Type::Response && s->resp.isInformational();
  if (s->keep_alive || informational) {
    p->flags = static_cast<uint16_t>((p->flags & ~F_CONNECTION_CLOSE) | F_CONNECTION_KEEP_ALIVE);
  }
  // After an upgrade / CONNECT, llhttp itself stops with HPE_PAUSED_UPGRADE right after this
  // callback; pausing here as well would hide that.
  if (p->upgrade) return 0;
  return HPE_PAUSED;
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
