// One connector at run time: resolves its server (libuv getaddrinfo, never
// blocking the loop), probes it with OPTIONS addressed to the service
// account (answering digest challenges), and keeps its health status
// honest: what the server said, since when, with counters.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>

#include "connector/health.hpp"
#include "ev/clock.hpp"
#include "sip/digest.hpp"
#include "sip/endpoint.hpp"

namespace presenced::connector {

// Back-off of probes while the status is negative: from the retry
// interval, doubling, with full jitter, up to this many probe intervals
// (forbidden: a wrong password must not lock the account out).
inline constexpr int kForbiddenBackoffCap = 10;

struct ProbeSettings {
    uint64_t interval_ms = 30'000;
    uint64_t retry_ms = 5'000;
    std::string contact_host;        // "" = the local IP toward the server
    uint64_t keepalive_ms = 90'000;  // CRLF ping on the TCP connection; 0 = off
};

// How long to wait before the next probe, given the status and how many
// negative probes came in a row; random is any value (the jitter source).
// Never below the floor (the probe interval when forbidden, else the retry
// interval), never above the cap.
uint64_t probe_delay(Status status, int failures, const ProbeSettings& settings, uint64_t random);

class Link {
public:
    using Changed = std::function<void(const Link&)>;
    Link(uv_loop_t* loop, ev::Clock& clock, sip::Endpoint& endpoint, config::Connector config, ProbeSettings settings,
         Changed changed);
    ~Link();
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    void start();  // probe now, then periodically
    void stop();   // cancels timers and lookups; a pending probe's answer is ignored

    const config::Connector& config() const { return config_; }
    const Health& health() const { return health_; }
    const Counters& counters() const { return counters_; }
    std::optional<sip::Address> address() const { return address_; }
    // What the daemon shows for this connector.
    Connector snapshot() const { return Connector{config_, health_, counters_, {}, {}}; }

private:
    static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res);
    void resolve();
    void probe();      // a probe cycle: resolve (DNS names), then probe_now()
    void probe_now();  // sends the OPTIONS
    void send_probe(uint32_t cseq, const std::vector<sip::Header>& auth);
    void on_probe_result(sip::ClientOutcome outcome, const sip::Message* response, uint32_t cseq);
    void set(Status status, std::string cause);
    void schedule_next();
    void keepalive();
    sip::Target target() const;

    uv_loop_t* loop_;
    ev::Clock& clock_;
    sip::Endpoint& endpoint_;
    config::Connector config_;
    ProbeSettings settings_;
    Changed changed_;
    Health health_;
    Counters counters_;
    std::optional<sip::Address> address_;
    uv_getaddrinfo_t* resolving_ = nullptr;  // owned by libuv until its callback
    ev::TimerId probe_timer_ = 0;
    ev::TimerId keepalive_timer_ = 0;
    int failures_ = 0;  // consecutive negative probes, for back-off
    // Callbacks hold it weakly: an answer that arrives after stop() or after
    // this Link is gone (a reload) finds it expired and is ignored.
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
    // The probe in flight: one dialog-less OPTIONS and its digest rounds.
    std::string call_id_, from_tag_;
    std::unique_ptr<sip::digest::Session> auth_;
    bool running_ = false;
};

}  // namespace presenced::connector
