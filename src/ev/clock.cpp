// The timer queue and the two clocks built on it.
#include "ev/clock.hpp"

#include <limits>

namespace presenced::ev {

TimerId TimerQueue::add(uint64_t due_ms, std::function<void()> fn) {
    const TimerId id = next_id_++;
    by_due_.emplace(Key{due_ms, id}, std::move(fn));
    by_id_.emplace(id, due_ms);
    return id;
}

void TimerQueue::cancel(TimerId id) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    by_due_.erase(Key{it->second, id});
    by_id_.erase(it);
}

size_t TimerQueue::fire_due(uint64_t now_ms) {
    size_t fired = 0;
    while (!by_due_.empty() && by_due_.begin()->first.first <= now_ms) {
        auto node = by_due_.extract(by_due_.begin());
        by_id_.erase(node.key().second);
        ++fired;
        node.mapped()();  // may add or cancel timers: the loop re-reads the map
    }
    return fired;
}

uint64_t TimerQueue::next_due() const {
    return by_due_.empty() ? std::numeric_limits<uint64_t>::max() : by_due_.begin()->first.first;
}

TimerId VirtualClock::start(uint64_t delay_ms, std::function<void()> fn) {
    return queue_.add(now_ + delay_ms, std::move(fn));
}

void VirtualClock::advance(uint64_t ms) {
    const uint64_t target = now_ + ms;
    // Step to each deadline in turn so callbacks see the time they were due at.
    while (queue_.next_due() <= target) {
        now_ = std::max(now_, queue_.next_due());
        queue_.fire_due(now_);
    }
    now_ = target;
}

LoopClock::LoopClock(uv_loop_t* loop) : loop_(loop) {
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
}

LoopClock::~LoopClock() { close(); }

void LoopClock::close() {
    if (closed_) return;
    closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

uint64_t LoopClock::now_ms() const { return uv_now(loop_); }

TimerId LoopClock::start(uint64_t delay_ms, std::function<void()> fn) {
    const TimerId id = queue_.add(now_ms() + delay_ms, std::move(fn));
    rearm();
    return id;
}

void LoopClock::cancel(TimerId id) {
    queue_.cancel(id);
    rearm();
}

void LoopClock::on_timer(uv_timer_t* timer) {
    auto* self = static_cast<LoopClock*>(timer->data);
    uv_update_time(self->loop_);
    self->queue_.fire_due(self->now_ms());
    self->rearm();
}

void LoopClock::rearm() {
    if (closed_) return;
    const uint64_t due = queue_.next_due();
    if (due == std::numeric_limits<uint64_t>::max()) {
        uv_timer_stop(&timer_);
        return;
    }
    const uint64_t now = now_ms();
    uv_timer_start(&timer_, on_timer, due > now ? due - now : 0, 0);
}

}  // namespace presenced::ev
