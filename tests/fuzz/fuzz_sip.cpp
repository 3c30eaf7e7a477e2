// Fuzz target: the SIP receive path without sockets. The input's length
// picks UDP (even: the input is one datagram) or TCP (odd: the input is a
// stream fed in chunks through the framer), so plain messages are seeds. Every framed message is parsed; a parsed one
// has every accessor read, is answered (make_response) and goes through the
// server transaction table on a virtual clock; an unparsable one gets the
// stateless 400 path. Nothing may crash, leak or hang.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ev/clock.hpp"
#include "sip/framing.hpp"
#include "sip/message.hpp"
#include "sip/stateless.hpp"
#include "sip/transaction.hpp"
#include "subscription/subscription.hpp"

using namespace presenced;

namespace {

ev::VirtualClock& clock_instance() {
    static ev::VirtualClock clock;
    return clock;
}

void process(std::string_view bytes, bool reliable) {
    auto parsed = sip::Message::parse(bytes);
    if (!parsed) {
        if (auto r = sip::stateless_response(bytes, 400, "Bad Request")) {
            if (r->rfind("SIP/2.0 400 ", 0) != 0) std::abort();
        }
        return;
    }
    const sip::Message& m = *parsed;
    if (auto state = m.header("Subscription-State")) (void)subscription::parse_subscription_state(*state);
    (void)m.call_id();
    (void)m.from();
    (void)m.to();
    (void)m.cseq_number();
    (void)m.cseq_method();
    (void)m.via_lines();
    (void)m.contact_uri();
    (void)m.record_routes();
    (void)m.header("event");
    (void)m.header_values("o");
    (void)m.expires();
    (void)m.min_expires();
    (void)m.retry_after();
    (void)m.content_type();
    (void)m.body();
    (void)m.www_authenticate();
    (void)m.proxy_authenticate();
    (void)m.require();
    (void)m.max_forwards_or(70);
    if (m.via_count() > 0) (void)m.top_via();
    if (m.is_response()) {
        (void)m.status_code();
        (void)m.reason_phrase();
        return;
    }
    (void)m.method();
    (void)m.request_uri();
    (void)m.request_uri_scheme();
    static sip::ServerTransactions table(clock_instance(), sip::TimerValues{});
    const auto seen = table.receive(m, reliable, [&m](const sip::ServerTransactions::Answer& a) {
        // A retransmission: the same response built again from what it was made of.
        (void)m.make_response(a.code, a.reason, "fuzztag", a.extra, "192.0.2.1", uint16_t{5060});
    });
    if (seen == sip::ServerTransactions::Seen::fresh) {
        const std::string response = m.make_response(481, "Subscription Does Not Exist", "fuzztag",
                                                     {{"Server", "fuzz"}}, "192.0.2.1", uint16_t{5060});
        if (response.rfind("SIP/2.0 481 ", 0) != 0) std::abort();
        table.respond(m, {481, "Subscription Does Not Exist", {{"Server", "fuzz"}}}, reliable);
    }
    clock_instance().advance(1000);  // lets Timer J entries expire so the table stays bounded
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    (void)subscription::parse_subscription_state(rest);  // the input as a header value too
    if (size % 2 == 0) {
        process(rest, false);
        return 0;
    }
    sip::StreamFramer framer({4096, 65536});
    // Chunk sizes come from the input too, so every split is explored.
    size_t chunk = 1 + size % 97;
    while (!rest.empty() && framer.error() == sip::StreamFramer::Error::none) {
        const size_t n = std::min(chunk, rest.size());
        framer.feed(rest.substr(0, n));
        rest.remove_prefix(n);
        std::string message;
        while (framer.next(message)) process(message, true);
        (void)framer.take_pings();
        chunk = chunk * 7 % 61 + 1;
    }
    return 0;
}
