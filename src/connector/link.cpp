// Connector health: resolve, probe, classify, back off. Each probe is an
// OPTIONS to the service account's URI (From = To = R-URI = uri), so a
// server that authenticates says whether the credentials work and one that
// knows its accounts says whether the account exists.
#include "connector/link.hpp"

#include <cstring>

#include "util/log.hpp"
#include "util/random.hpp"
#include "util/text.hpp"

namespace presenced::connector {

using util::cat;

namespace {

constexpr size_t kCallIdBits = 128;  // rfc-checklist 1.4
constexpr size_t kTagBits = 64;      // rfc-checklist 1.3

std::string code_cause(const sip::Message& r) {
    return cat(r.status_code(), " ", util::escape_control(r.reason_phrase()));
}

}  // namespace

Link::Link(uv_loop_t* loop, ev::Clock& clock, sip::Endpoint& endpoint, config::Connector config, ProbeSettings settings,
           Changed changed)
    : loop_(loop),
      clock_(clock),
      endpoint_(endpoint),
      config_(std::move(config)),
      settings_(std::move(settings)),
      changed_(std::move(changed)),
      health_(initial_health(config_, std::time(nullptr))) {}

Link::~Link() { stop(); }

void Link::start() {
    if (running_ || !config_.enabled || !config_.server_address) return;
    running_ = true;
    health_ = {Status::connection_error, std::time(nullptr), "connecting"};
    probe();
}

void Link::stop() {
    running_ = false;
    alive_ = std::make_shared<int>(0);
    if (probe_timer_) clock_.cancel(probe_timer_);
    if (keepalive_timer_) clock_.cancel(keepalive_timer_);
    probe_timer_ = keepalive_timer_ = 0;
    if (resolving_) {
        // The callback still runs (with UV_ECANCELED) and frees the request.
        uv_cancel(reinterpret_cast<uv_req_t*>(resolving_));
        resolving_->data = nullptr;
        resolving_ = nullptr;
    }
}

void Link::resolve() {
    const config::HostPort& hp = *config_.server_address;
    if (hp.kind != config::HostKind::fqdn) {
        address_ = sip::Address::from_ip(hp.host, hp.port);
        probe_now();
        return;
    }
    auto* req = new uv_getaddrinfo_t;
    req->data = this;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = config_.transport == config::Transport::tcp ? SOCK_STREAM : SOCK_DGRAM;
    resolving_ = req;
    const int rc = uv_getaddrinfo(loop_, req, on_resolved, hp.host.c_str(), nullptr, &hints);
    if (rc != 0) {
        resolving_ = nullptr;
        delete req;
        ++counters_.transport_errors;
        set(Status::connection_error, cat("DNS: ", uv_strerror(rc)));
        schedule_next();
    }
}

void Link::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
    auto* self = static_cast<Link*>(req->data);
    std::optional<sip::Address> found;
    if (status == 0 && res) found = sip::Address::from_sockaddr(res->ai_addr);
    uv_freeaddrinfo(res);
    delete req;
    if (!self) return;  // stopped meanwhile
    self->resolving_ = nullptr;
    if (!found) {
        ++self->counters_.transport_errors;
        self->set(Status::connection_error, cat("DNS: cannot resolve ", self->config_.server_address->host, ": ",
                                                status ? uv_strerror(status) : "no address"));
        self->schedule_next();
        return;
    }
    found->set_port(self->config_.server_address->port);
    self->address_ = found;
    self->probe_now();
}

sip::Target Link::target() const {
    sip::Target t;
    t.address = *address_;
    t.kind = config_.transport == config::Transport::tcp ? sip::TransportKind::tcp : sip::TransportKind::udp;
    t.tcp_allowed = false;  // a udp connector talks UDP only
    return t;
}

void Link::keepalive() {
    // The persistent TCP connection stays open between probes; the ping
    // keeps NAT bindings and the server's idle timer alive (RFC 5626 §3.5.1).
    keepalive_timer_ = 0;
    if (!running_ || !address_) return;
    endpoint_.ping_tcp(*address_);
    keepalive_timer_ = clock_.start(settings_.keepalive_ms, [this] { keepalive(); });
}

void Link::probe() {
    // Each cycle resolves a DNS name again: a failed lookup is retried and
    // a changed address is followed (the resolver caches by TTL).
    probe_timer_ = 0;
    if (!running_ || resolving_) return;
    resolve();
}

void Link::probe_now() {
    if (!running_ || !address_) return;
    if (config_.transport == config::Transport::tcp && settings_.keepalive_ms > 0 && keepalive_timer_ == 0)
        keepalive_timer_ = clock_.start(settings_.keepalive_ms, [this] { keepalive(); });
    call_id_ = util::random_hex(kCallIdBits);
    from_tag_ = util::random_hex(kTagBits);
    auth_ = std::make_unique<sip::digest::Session>(sip::digest::Credentials{config_.auth_id, config_.password});
    send_probe(1, {});
}

void Link::send_probe(uint32_t cseq, const std::vector<sip::Header>& auth) {
    sip::RequestSpec spec;
    spec.method = "OPTIONS";
    spec.request_uri = config_.uri;
    spec.from_uri = config_.uri;
    spec.from_tag = from_tag_;
    spec.to_uri = config_.uri;
    spec.call_id = call_id_;
    spec.cseq = cseq;
    const std::string host =
        settings_.contact_host.empty() ? endpoint_.local_ip_toward(*address_) : settings_.contact_host;
    const bool v6 = host.find(':') != std::string::npos && host.front() != '[';
    spec.contact = cat("<sip:presenced@", v6 ? "[" + host + "]" : host, ":", endpoint_.port(),
                       config_.transport == config::Transport::tcp ? ";transport=tcp" : "", ">");
    spec.headers = auth;
    spec.headers.emplace_back("Accept", "application/sdp");
    ++counters_.requests;
    std::weak_ptr<int> alive = alive_;
    endpoint_.send_request(
        std::move(spec), target(),
        [this, alive, cseq](sip::ClientOutcome outcome, const sip::Message* response) {
            if (alive.expired()) return;  // stopped or destroyed meanwhile
            on_probe_result(outcome, response, cseq);
        },
        [this, alive] {
            if (!alive.expired()) ++counters_.retransmissions;
        });
}

void Link::on_probe_result(sip::ClientOutcome outcome, const sip::Message* response, uint32_t cseq) {
    using sip::ClientOutcome;
    if (outcome == ClientOutcome::timeout) {
        ++counters_.timeouts;
        set(Status::connection_error, "timeout: no answer within Timer F");
        schedule_next();
        return;
    }
    if (outcome == ClientOutcome::transport_error) {
        ++counters_.transport_errors;
        set(Status::connection_error, "transport error (connection refused, reset or unreachable)");
        schedule_next();
        return;
    }
    const int code = response->status_code();
    ++counters_.responses[code / 100];
    if (code == 401 || code == 407) {
        const bool proxy = code == 407;
        using V = sip::digest::Session::Verdict;
        const V verdict =
            auth_->on_challenge(proxy ? response->proxy_authenticate() : response->www_authenticate(), proxy);
        if (verdict == V::retry) {
            // RFC 3261 §22.2: a new transaction with CSeq + 1 and the credentials.
            send_probe(cseq + 1, auth_->headers("OPTIONS", config_.uri));
            return;
        }
        const char* why =
            verdict == V::unsupported ? "no Digest challenge with a supported algorithm" : "credentials rejected";
        set(Status::forbidden,
            cat(code_cause(*response), ": ", why, " (realm \"", util::escape_control(auth_->last_realm()), "\")"));
    } else if (code == 403) {
        set(Status::forbidden, code_cause(*response));
    } else if (code == 404) {
        // The server does not know the service account: presence is still monitored (product.md).
        set(Status::credentials_not_found, code_cause(*response));
    } else if (code >= 500 && code < 600) {
        set(Status::connection_error, code_cause(*response));
    } else {
        // 2xx, or any other answer (405/501 to OPTIONS, 3xx): the server is
        // there and talks SIP to these credentials.
        set(Status::connected, code_cause(*response));
    }
    if (code < 400 || code == 404) auth_->on_success();
    schedule_next();
}

void Link::set(Status status, std::string cause) {
    const bool changed = status != health_.status || cause != health_.cause;
    if (status != health_.status) {
        // Logged once per transition, not per probe.
        const auto log_fn = is_positive(status) ? log::info<std::string> : log::warn<std::string>;
        log_fn(cat("connector ", config_.name, ": ", status_name(health_.status), " -> ", status_name(status), " (",
                   cause, ")"));
        health_.since = std::time(nullptr);
    }
    health_.status = status;
    health_.cause = std::move(cause);
    failures_ = is_positive(status) ? 0 : failures_ + 1;
    if (changed && changed_) changed_(*this);
}

uint64_t probe_delay(Status status, int failures, const ProbeSettings& settings, uint64_t random) {
    if (is_positive(status)) return settings.interval_ms;
    // Exponential back-off with jitter (rfc-checklist 16.12): the wait is
    // drawn between a floor and a ceiling that doubles per failure. A
    // rejected password starts at the probe interval and backs off to 10 of
    // them, so the server never locks the account; other failures start at
    // the retry interval and back off to the probe interval.
    const bool forbidden = status == Status::forbidden;
    const uint64_t cap = settings.interval_ms * (forbidden ? kForbiddenBackoffCap : 1);
    const uint64_t floor = std::min(forbidden ? settings.interval_ms : settings.retry_ms, cap);
    uint64_t ceiling = floor;
    for (int i = 1; i < failures && ceiling < cap; ++i) ceiling = std::min(ceiling * 2, cap);
    return floor + random % (ceiling - floor + 1);
}

void Link::schedule_next() {
    if (!running_) return;
    const uint64_t delay = probe_delay(health_.status, failures_, settings_, util::random_u64());
    probe_timer_ = clock_.start(delay, [this] { probe(); });
}

}  // namespace presenced::connector
