// The SIP user agent core: one transport (UDP + TCP on one port), the
// client and server transaction tables, and the dispatch of inbound
// requests (RFC 3261 §8.2): OPTIONS answered here, NOTIFY handed to the
// subscription layer (481 until it claims one), everything else refused
// with the right code. Responses are matched to client transactions.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ev/clock.hpp"
#include "sip/message.hpp"
#include "sip/transaction.hpp"
#include "sip/transport.hpp"

namespace presenced::sip {

// Over UDP, a request larger than this goes over TCP when allowed
// (RFC 3261 §18.1.1: 200 bytes under a 1500-byte path MTU).
inline constexpr size_t kUdpSizeLimit = 1300;

struct EndpointOptions {
    TimerValues timers;
    TransportLimits transport;
    std::string user_agent = "presenced";
    bool source_check = true;  // UDP requests only from trusted sources
};

struct Target {
    Address address;
    TransportKind kind = TransportKind::udp;
    bool tcp_allowed = false;  // may switch a large UDP request to TCP
};

// A request a higher layer may claim (NOTIFY). Returning nullopt means "not
// mine" (the endpoint answers 481, RFC 6665 §4.1.3).
struct Answer {
    int code = 200;
    std::string reason = "OK";
    std::vector<Header> headers;
    // Runs right after the answer was sent, while the request is still
    // alive: the slow part of handling it (body parsing, the model).
    std::function<void()> after_sent;
};
using RequestHook = std::function<std::optional<Answer>(const Message& request, const Inbound& from)>;

class Endpoint {
public:
    Endpoint(uv_loop_t* loop, ev::Clock& clock, EndpointOptions options);
    ~Endpoint();
    Endpoint(const Endpoint&) = delete;
    Endpoint& operator=(const Endpoint&) = delete;

    util::Status listen(const Address& local);
    uint16_t port() const { return transport_.local().port(); }
    const Address& local() const { return transport_.local(); }

    // The local IP the kernel would use toward target (for Via and Contact
    // when listening on a wildcard address); no packet is sent.
    std::string local_ip_toward(const Address& target) const;

    using Done = std::function<void(ClientOutcome, const Message* response)>;
    // Sends spec in a new client transaction. The endpoint fills the Via
    // (transport, sent-by, a fresh branch), and the User-Agent when empty.
    // done is called exactly once, never from inside send_request.
    // on_retransmit, if given, runs at each Timer E resend (per-source counters).
    void send_request(RequestSpec spec, const Target& target, Done done, std::function<void()> on_retransmit = {});

    // RFC 5626 §3.5.1: a CRLFCRLF ping on the TCP connection to address, if open.
    void ping_tcp(const Address& address) { transport_.ping_tcp(address); }

    void set_notify_hook(RequestHook hook) { notify_hook_ = std::move(hook); }
    // IPs allowed to send us requests over UDP when source_check is on.
    void set_trusted_sources(std::vector<Address> sources) { trusted_ = std::move(sources); }

    // Closes every handle and ends pending transactions silently.
    void close();

    struct Counters {
        uint64_t requests_sent = 0, retransmissions = 0, responses_received = 0, stray_responses = 0;
        uint64_t requests_received = 0, request_retransmissions = 0, unparsable = 0, untrusted_dropped = 0;
        uint64_t responses_by_class[7] = {};  // index = code / 100
    };
    const Counters& counters() const { return counters_; }
    const Transport& transport() const { return transport_; }

private:
    struct Pending;
    void on_inbound(const Inbound& in);
    void on_response(const Message& response);
    void on_request(const Message& request, const Inbound& from);
    void answer(const Message& request, const Inbound& from, int code, std::string_view reason,
                const std::vector<Header>& extra = {}, bool store = true);
    void send_bytes(const Target& target, const std::string& bytes, const std::string& branch);
    void on_connection_event(const ConnectionEvent& event);
    bool trusted(const Address& source) const;

    ev::Clock& clock_;
    EndpointOptions options_;
    Transport transport_;
    ServerTransactions server_;
    std::unordered_map<std::string, std::unique_ptr<Pending>> pending_;  // by branch
    std::string to_tag_;  // our To tag on responses to out-of-dialog requests
    RequestHook notify_hook_;
    std::vector<Address> trusted_;
    Counters counters_;
    bool closed_ = false;
};

}  // namespace presenced::sip
