#include "core/c_handles.h"

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>

namespace aiw {

void EventBaseDeleter::operator()(event_base* b) const noexcept { event_base_free(b); }
void EventDeleter::operator()(event* e) const noexcept { event_free(e); }
// fail_requests=1: pending lookups get their callbacks (with an error) so no owner dangles.
void EvdnsBaseDeleter::operator()(evdns_base* d) const noexcept { evdns_base_free(d, 1); }
void EvconnListenerDeleter::operator()(evconnlistener* l) const noexcept { evconnlistener_free(l); }
void BufferEventDeleter::operator()(bufferevent* b) const noexcept { bufferevent_free(b); }

}  // namespace aiw
