// Pacing of SUBSCRIBE transactions toward one server (interop.md §2 item
// 2): a token bucket on NEW subscriptions and a cap on SUBSCRIBE
// transactions in flight, so a start-up with 100,000 users, a reload or a
// server restart that ends thousands of subscriptions at once never floods
// the server. Refreshes and unsubscribes take no token (they are spread by
// their own jitter) but do take an in-flight slot, and go before queued
// new subscriptions.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include "ev/clock.hpp"

namespace presenced::subscription {

struct PacerSettings {
    double rate_per_s = 50;       // new SUBSCRIBEs per second (connector.subscribe_rate)
    uint32_t burst = 50;          // tokens the bucket holds (at least 1)
    uint32_t max_in_flight = 64;  // SUBSCRIBE transactions at once (connector.max_in_flight)
};

class Pacer;

// An in-flight slot: released when destroyed (or by release()). Move-only;
// safe to outlive the Pacer (then it does nothing).
class Slot {
public:
    Slot() = default;
    ~Slot() { release(); }
    Slot(Slot&& other) noexcept : state_(std::move(other.state_)) {}
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    void release();
    explicit operator bool() const { return !state_.expired(); }

private:
    friend class Pacer;
    struct Shared;
    explicit Slot(std::weak_ptr<Shared> state) : state_(std::move(state)) {}
    std::weak_ptr<Shared> state_;
};

class Pacer {
public:
    enum class Class { fresh, refresh };  // fresh takes a token; refresh (and unsubscribe) does not
    using Go = std::function<void(Slot)>;
    using Ticket = uint64_t;  // 0 is never a valid ticket

    Pacer(ev::Clock& clock, PacerSettings settings);
    ~Pacer();
    Pacer(const Pacer&) = delete;
    Pacer& operator=(const Pacer&) = delete;

    // Queues a request. go runs later from a clock timer, never inside
    // submit(), once a slot (and for fresh, a token) is free; FIFO within a
    // class, refresh before fresh. The bucket starts full.
    Ticket submit(Class cls, Go go);
    // Forgets a queued request whose go has not run (harmless otherwise).
    void cancel(Ticket ticket);
    // New limits apply from now on; slots already out stay valid.
    void set_settings(PacerSettings settings);

    size_t queued() const;
    uint32_t in_flight() const;
    const PacerSettings& settings() const { return settings_; }
    uint64_t started_fresh() const { return started_fresh_; }  // go calls for fresh requests so far

private:
    struct Waiting {
        Ticket ticket;
        Go go;
    };
    void schedule();  // arms the timer for the next moment something can start
    void run();       // starts what can start now
    void refill();

    uint64_t yield_until_ms_ = 0;  // no run() before this (kMaxStartsPerRun)
    ev::Clock& clock_;
    PacerSettings settings_;
    std::shared_ptr<Slot::Shared> shared_;
    std::deque<Waiting> fresh_, refresh_;
    double tokens_ = 0;
    uint64_t refilled_at_ms_ = 0;
    ev::TimerId timer_ = 0;
    Ticket next_ticket_ = 1;
    uint64_t started_fresh_ = 0;
};

}  // namespace presenced::subscription
