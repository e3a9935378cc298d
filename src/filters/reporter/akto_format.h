// Akto's ingestion record (format: akto of the http sink): the mapping of one `exchange` event
// to the flat object Akto's mirroring ingestion expects, every value a string.
//
// Only exchange events map to a record: tunnel events carry no HTTP message and security events
// repeat an exchange, so both are skipped for akto sinks (aktoRecord returns "").
//
// Fields: path (with the query), method, type (the protocol, "HTTP/1.1" when unknown),
// requestHeaders / responseHeaders (JSON objects as strings; header values are never captured,
// so they hold `host`), requestPayload / responsePayload ("": bodies are not captured in this
// build), ip (the client's address without its port), destIp (the upstream host as the client
// named it: the resolved address is not recorded), time (epoch seconds), statusCode ("0" when no
// response was sent), status (the reason phrase of statusCode), akto_account_id, akto_vxlan_id,
// is_pending ("false"), source ("MIRRORING").
#pragma once

#include <string>
#include <string_view>

#include "filters/reporter/report_event.h"

namespace aiw {

struct AktoSettings {
  std::string account_id = "1000000";
  std::string vxlan_id = "0";
  bool operator==(const AktoSettings &) const = default;
};

// One JSON object without a newline, or "" for an event that is not an Akto record.
std::string aktoRecord(const ReportEvent &e, const AktoSettings &settings);

// "OK" for 200, "Not Found" for 404, ... ("" for codes without a standard phrase).
std::string_view httpReasonPhrase(uint16_t status);

// The address part of "ip:port" / "[v6]:port" (the input when it has no port).
std::string aktoClientIp(std::string_view client);

}  // namespace aiw
