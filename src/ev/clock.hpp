// Time for every timer-driven state machine: one Clock interface with a
// real implementation on the libuv loop and a virtual one for tests, so
// transactions, subscriptions and auth are tested without sleeping.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>

namespace presenced::ev {

using TimerId = uint64_t;  // 0 is never a valid id

class Clock {
public:
    virtual ~Clock() = default;
    // Milliseconds on a monotonic scale (not the wall clock).
    virtual uint64_t now_ms() const = 0;
    // Calls fn once, delay_ms from now. fn may start and cancel timers.
    virtual TimerId start(uint64_t delay_ms, std::function<void()> fn) = 0;
    // Forgets a timer; harmless for one that fired or was cancelled.
    virtual void cancel(TimerId id) = 0;
};

// Deadline-ordered timers shared by both clocks. Timers due at the same
// moment fire in the order they were started.
class TimerQueue {
public:
    TimerId add(uint64_t due_ms, std::function<void()> fn);
    void cancel(TimerId id);
    // Fires every timer due at or before now_ms (including ones added by
    // the callbacks, if due). Returns how many fired.
    size_t fire_due(uint64_t now_ms);
    // The earliest deadline, or UINT64_MAX when empty.
    uint64_t next_due() const;
    size_t size() const { return by_id_.size(); }

private:
    using Key = std::pair<uint64_t, TimerId>;  // (due, id): id breaks ties in start order
    std::map<Key, std::function<void()>> by_due_;
    std::unordered_map<TimerId, uint64_t> by_id_;
    TimerId next_id_ = 1;
};

// Tests: time moves only when advance() says so.
class VirtualClock final : public Clock {
public:
    explicit VirtualClock(uint64_t start_ms = 1'000'000) : now_(start_ms) {}
    uint64_t now_ms() const override { return now_; }
    TimerId start(uint64_t delay_ms, std::function<void()> fn) override;
    void cancel(TimerId id) override { queue_.cancel(id); }
    // Moves time forward by ms, firing each timer at its own deadline.
    void advance(uint64_t ms);
    size_t pending() const { return queue_.size(); }

private:
    uint64_t now_;
    TimerQueue queue_;
};

// Production: one uv_timer armed for the earliest deadline.
class LoopClock final : public Clock {
public:
    explicit LoopClock(uv_loop_t* loop);
    ~LoopClock() override;
    LoopClock(const LoopClock&) = delete;
    LoopClock& operator=(const LoopClock&) = delete;
    uint64_t now_ms() const override;
    TimerId start(uint64_t delay_ms, std::function<void()> fn) override;
    void cancel(TimerId id) override;
    // Closes the uv_timer (call before the loop's last run).
    void close();

private:
    static void on_timer(uv_timer_t* timer);
    void rearm();

    uv_loop_t* loop_;
    uv_timer_t timer_{};
    TimerQueue queue_;
    bool closed_ = false;
};

}  // namespace presenced::ev
