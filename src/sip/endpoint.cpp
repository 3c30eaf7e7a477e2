// The UA core: outgoing requests in client transactions, inbound requests
// through server transactions and a dispatch table, responses matched to
// their transactions (RFC 3261 §8, §17, §18).
#include "sip/endpoint.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "sip/stateless.hpp"
#include "util/log.hpp"
#include "util/random.hpp"
#include "util/text.hpp"

namespace presenced::sip {

using util::cat;

namespace {

constexpr size_t kBranchBits = 96;  // rfc-checklist 1.9: >= 64 random bits
constexpr const char* kAllow = "NOTIFY, OPTIONS";
constexpr const char* kAccept =
    "application/pidf+xml, application/dialog-info+xml, multipart/related, application/rlmi+xml";

bool is_known_method(std::string_view m) {
    for (const char* known : {"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "SUBSCRIBE", "NOTIFY", "PUBLISH", "MESSAGE",
                              "REFER", "INFO", "UPDATE", "PRACK", "OPTIONS"})
        if (m == known) return true;
    return false;
}

using util::to_lower;

// The event package of an Event header value: the token before any ';'.
std::string event_package(std::string_view value) {
    const auto semi = value.find(';');
    std::string_view token = value.substr(0, semi);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    return to_lower(token);
}

}  // namespace

struct Endpoint::Pending {
    std::unique_ptr<ClientTransaction> transaction;
    Target target;
    std::function<void()> on_retransmit;
    uint32_t sends = 0;  // the first is the request, the others retransmissions (Timer E)
};

Endpoint::Endpoint(uv_loop_t* loop, ev::Clock& clock, EndpointOptions options)
    : clock_(clock),
      options_(std::move(options)),
      transport_(loop, options_.transport),
      server_(clock, options_.timers),
      to_tag_(util::random_hex(64)) {
    init_library();
    transport_.on_message([this](const Inbound& in) { on_inbound(in); });
    transport_.on_connection_event([this](const ConnectionEvent& e) { on_connection_event(e); });
}

Endpoint::~Endpoint() { close(); }

util::Status Endpoint::listen(const Address& local) { return transport_.listen(local); }

void Endpoint::close() {
    if (closed_) return;
    closed_ = true;
    pending_.clear();
    transport_.close();
}

std::string Endpoint::local_ip_toward(const Address& target) const {
    const Address& bound = transport_.local();
    const bool wildcard = bound.ip() == "0.0.0.0" || bound.ip() == "::";
    if (!wildcard) return bound.ip();
    const int fd = ::socket(target.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return bound.ip();
    std::string ip = bound.ip();
    // connect() on UDP only asks the routing table; nothing is sent.
    if (::connect(fd, target.sockaddr_ptr(), target.length()) == 0) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
            ip = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)).ip();
    }
    ::close(fd);
    return ip;
}

void Endpoint::send_request(RequestSpec spec, const Target& requested, Done done, std::function<void()> on_retransmit) {
    Target target = requested;
    spec.branch = "z9hG4bK" + util::random_hex(kBranchBits);
    if (spec.user_agent.empty()) spec.user_agent = options_.user_agent;
    spec.via_host = local_ip_toward(target.address);
    spec.via_port = port();
    spec.via_transport = target.kind == TransportKind::tcp ? "TCP" : "UDP";
    auto bytes = build_request(spec);
    if (bytes && target.kind == TransportKind::udp && bytes->size() > kUdpSizeLimit) {
        if (target.tcp_allowed) {
            // RFC 3261 §18.1.1: too large for UDP; the Via names the transport used.
            target.kind = TransportKind::tcp;
            spec.via_transport = "TCP";
            bytes = build_request(spec);
        } else {
            log::info("sip: ", spec.method, " to ", target.address.str(), " is ", bytes->size(),
                      " bytes, over the UDP limit, and TCP is not allowed for it: sent over UDP");
        }
    }
    if (!bytes) {
        log::error("sip: cannot build ", spec.method, ": ", bytes.error().message);
        clock_.start(0, [done = std::move(done)] { done(ClientOutcome::transport_error, nullptr); });
        return;
    }
    const std::string branch = spec.branch;
    auto pending = std::make_unique<Pending>();
    pending->target = target;
    pending->on_retransmit = std::move(on_retransmit);
    auto send = [this, target, branch](const std::string& b) { send_bytes(target, b, branch); };
    auto finished = [this, branch, done = std::move(done)](ClientOutcome outcome, const Message* response) {
        // The transaction is destroyed on the next tick, not inside its own callback.
        if (auto node = pending_.extract(branch)) {
            auto* raw = node.mapped().release();
            clock_.start(0, [raw] { delete raw; });
        }
        done(outcome, response);
    };
    pending->transaction =
        std::make_unique<ClientTransaction>(clock_, options_.timers, target.kind == TransportKind::tcp, branch,
                                            spec.method, std::move(*bytes), send, finished);
    ClientTransaction* tx = pending->transaction.get();
    pending_.emplace(branch, std::move(pending));
    ++counters_.requests_sent;
    // Started on the next tick so done can never run inside send_request.
    clock_.start(0, [this, branch, tx] {
        if (pending_.count(branch)) tx->start();
    });
}

void Endpoint::send_bytes(const Target& target, const std::string& bytes, const std::string& branch) {
    if (auto it = pending_.find(branch); it != pending_.end() && it->second->sends++ > 0) {
        ++counters_.retransmissions;
        if (it->second->on_retransmit) it->second->on_retransmit();
    }
    if (target.kind == TransportKind::tcp) {
        transport_.send_tcp(target.address, bytes);
        return;
    }
    if (auto sent = transport_.send_udp(target.address, bytes); !sent) {
        log::debug("sip: UDP send to ", target.address.str(), " failed: ", sent.error().message);
        clock_.start(0, [this, branch] {
            if (auto p = pending_.find(branch); p != pending_.end()) p->second->transaction->on_transport_error();
        });
    }
}

void Endpoint::on_connection_event(const ConnectionEvent& event) {
    if (event.error == 0) return;
    // §8.1.3.1: every request waiting on a failed connection gets a transport error.
    std::vector<std::string> failed;
    for (const auto& [branch, p] : pending_)
        if (p->target.kind == TransportKind::tcp && p->target.address == event.peer) failed.push_back(branch);
    for (const auto& branch : failed)
        if (auto it = pending_.find(branch); it != pending_.end()) it->second->transaction->on_transport_error();
}

bool Endpoint::trusted(const Address& source) const {
    for (const auto& t : trusted_)
        if (t.same_ip(source)) return true;
    return false;
}

void Endpoint::on_inbound(const Inbound& in) {
    // rfc-checklist 16.3: spoofed requests over UDP come from anywhere; only
    // configured servers may talk to us. Checked before parsing, so a
    // spoofed flood costs no parse, and dropped silently (no reflection).
    // Responses are exempt: they only match transactions we started.
    if (options_.source_check && in.kind == TransportKind::udp && in.bytes.rfind("SIP/", 0) != 0 &&
        !trusted(in.source)) {
        ++counters_.untrusted_dropped;
        log::debug("sip: request from untrusted source ", in.source.str(), " dropped");
        return;
    }
    auto parsed = Message::parse(in.bytes);
    if (!parsed) {
        ++counters_.unparsable;
        const std::string& code = parsed.error().code;
        log::debug("sip: unparsable message from ", in.source.str(), ": ", parsed.error().message);
        // Answer when a response is possible (rfc-checklist 6.8, 6.9); drop otherwise.
        const int status = code == "bad_version" ? 505 : 400;
        if (code == "bad_status") return;
        if (auto response =
                stateless_response(in.bytes, status, status == 505 ? "Version Not Supported" : "Bad Request")) {
            if (in.kind == TransportKind::udp)
                (void)transport_.send_udp(in.source, *response);
            else
                transport_.send_on(in.connection, *response);
        }
        return;
    }
    const Message& message = *parsed;
    if (message.is_response())
        on_response(message);
    else
        on_request(message, in);
}

void Endpoint::on_response(const Message& response) {
    ++counters_.responses_received;
    // §8.1.3.3: a response with more than one Via is not for us.
    if (response.via_count() != 1) {
        ++counters_.stray_responses;
        return;
    }
    auto it = pending_.find(response.top_via().branch);
    if (it == pending_.end() || it->second->transaction->method() != response.cseq_method()) {
        ++counters_.stray_responses;  // §17.1.3: no transaction; late finals land here too (rfc-checklist 4.9)
        return;
    }
    const int code = response.status_code();
    if (code >= 100 && code < 700) ++counters_.responses_by_class[code / 100];
    it->second->transaction->on_response(response);
}

void Endpoint::answer(const Message& request, const Inbound& from, int code, std::string_view reason,
                      const std::vector<Header>& extra, bool store) {
    std::vector<Header> headers = extra;
    headers.emplace_back("Server", options_.user_agent);
    const Via via = request.top_via();
    // RFC 3261 §18.2.1 and RFC 3581 §4: tell the sender where its request came from.
    const std::string received = via.host != from.source.ip() ? from.source.ip() : std::string();
    std::optional<uint16_t> rport;
    if (via.rport_present) rport = from.source.port();
    const std::string to_tag = request.to().tag.empty() ? to_tag_ : std::string();
    const std::string bytes = request.make_response(code, reason, to_tag, headers, received, rport);
    if (from.kind == TransportKind::udp) {
        (void)transport_.send_udp(from.source, bytes);
    } else if (!transport_.send_on(from.connection, bytes)) {
        // §18.2.2: the connection is gone; open one to the source IP and the Via port.
        Address back = from.source;
        back.set_port(via.port.value_or(5060));
        transport_.send_tcp(back, bytes);
    }
    if (store) server_.respond(request, {code, std::string(reason), extra}, from.kind == TransportKind::tcp);
}

void Endpoint::on_request(const Message& request, const Inbound& from) {
    ++counters_.requests_received;
    const std::string method = request.method();
    if (method == "ACK") return;  // we never send a 2xx to INVITE; nothing to acknowledge

    const bool reliable = from.kind == TransportKind::tcp;
    // A retransmission of an answered request: the same request, so answer()
    // builds the same response again (see ServerTransactions).
    const auto seen = server_.receive(request, reliable, [&](const ServerTransactions::Answer& stored) {
        answer(request, from, stored.code, stored.reason, stored.extra, /*store=*/false);
    });
    if (seen != ServerTransactions::Seen::fresh) {
        ++counters_.request_retransmissions;  // §17.2.2: answered again or absorbed, never handed up twice
        return;
    }

    const std::string scheme = to_lower(request.request_uri_scheme());
    if (scheme != "sip" && scheme != "sips") {
        answer(request, from, 416, "Unsupported URI Scheme");
        return;
    }
    if (method == "CANCEL") {
        answer(request, from, 481, "Call/Transaction Does Not Exist");
        return;
    }
    if (!is_known_method(method)) {
        answer(request, from, 501, "Not Implemented", {{"Allow", kAllow}});
        return;
    }
    if (method != "NOTIFY" && method != "OPTIONS") {
        answer(request, from, 405, "Method Not Allowed", {{"Allow", kAllow}});
        return;
    }
    // §8.2.2.3: the only extension a request may require of us is
    // eventlist, on a NOTIFY of a resource list (RFC 4662 §4.4).
    std::string unsupported;
    for (const auto& tag : request.require())
        if (method != "NOTIFY" || util::to_lower(tag) != "eventlist")
            unsupported += (unsupported.empty() ? "" : ", ") + tag;
    if (!unsupported.empty()) {
        answer(request, from, 420, "Bad Extension", {{"Unsupported", unsupported}});
        return;
    }
    if (method == "OPTIONS") {
        // §11.2; PBX "qualify" probes expect a 200.
        answer(request, from, 200, "OK", {{"Allow", kAllow}, {"Accept", kAccept}, {"Supported", "eventlist"}});
        return;
    }
    // NOTIFY: RFC 6665 §8.2.1 — an event package we do not subscribe to is a 489.
    const auto event = request.header("event");
    const std::string package = event ? event_package(*event) : std::string();
    if (package != "presence" && package != "dialog") {
        answer(request, from, 489, "Bad Event");
        return;
    }
    if (notify_hook_) {
        if (auto claimed = notify_hook_(request, from)) {
            answer(request, from, claimed->code, claimed->reason, claimed->headers);
            // The answer is on the wire (or queued on the connection) before
            // the body is parsed or stored: a notifier that waits too long
            // for its 200 deletes the subscription (interop.md §2 item 10).
            if (claimed->after_sent) claimed->after_sent();
            return;
        }
    }
    // RFC 6665 §4.1.3 and rfc-checklist 16.1: no detail on what did not match.
    answer(request, from, 481, "Subscription Does Not Exist");
}

}  // namespace presenced::sip
