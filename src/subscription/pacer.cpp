// SUBSCRIBE pacing toward one server (interop.md §2 item 2): a token bucket
// on new subscriptions and a cap on transactions in flight. Everything that
// starts a request runs from a clock timer, so callers may submit, cancel
// and release from inside their own callbacks.
#include "subscription/pacer.hpp"

#include <algorithm>
#include <cmath>

namespace presenced::subscription {

namespace {

constexpr double kMsPerS = 1'000;
// Floating-point slack: a bucket refilled in many small steps may hold
// 0.999999999 of a token when exactly one is due; that counts as one, and
// a wait of 20.000000001 ms is armed as 20 ms, not 21.
constexpr double kTokenEpsilon = 1e-9;
constexpr double kWaitSlackMs = 1e-6;
// The longest single wait armed for a token (tiny rates); the timer is
// simply armed again when it fires early.
constexpr double kMaxTokenWaitMs = 3'600'000;
// Requests started in one timer callback at most; then the pacer yields for
// kYieldMs so the loop reads what the server answered. Without it, pacing
// set high (10,000/s and 10,000 in flight) sends thousands of SUBSCRIBEs in
// one loop turn and the answers (a 200 and a ~1.2 KB NOTIFY each) overflow
// the UDP receive buffer before the loop reads them: lost NOTIFYs,
// retransmissions (issue 6: 15,000 at 10,000 users). libuv 1.44 runs a
// 0 ms timer started in a timer callback in the same pass, hence 1 ms.
constexpr uint32_t kMaxStartsPerRun = 16;
constexpr uint64_t kYieldMs = 1;

}  // namespace

// What a pacer shares with its slots: the in-flight count and the hook a
// release calls. Slots hold it weakly, so one that outlives its pacer finds
// it gone and does nothing. `cancelled` counts tombstones in the queues
// (see Pacer::cancel).
struct Slot::Shared {
    uint32_t in_flight = 0;
    size_t cancelled = 0;
    std::function<void()> released;
};

Slot& Slot::operator=(Slot&& other) noexcept {
    if (this != &other) {
        release();
        state_ = std::move(other.state_);
    }
    return *this;
}

void Slot::release() {
    auto state = state_.lock();
    state_.reset();  // before the hook: a slot is released once, whatever the hook does
    if (state && state->released) state->released();
}

Pacer::Pacer(ev::Clock& clock, PacerSettings settings)
    : clock_(clock), settings_(settings), shared_(std::make_shared<Slot::Shared>()) {
    tokens_ = std::max<uint32_t>(settings_.burst, 1);  // the bucket starts full
    refilled_at_ms_ = clock_.now_ms();
    // Callers release slots inside their own callbacks (a response handler):
    // the next request starts from a fresh 0 ms timer, never inside release().
    shared_->released = [this] {
        --shared_->in_flight;
        schedule();
    };
}

Pacer::~Pacer() {
    // Slots still out expire with shared_ and become no-ops; the timer must
    // not fire into a destroyed pacer.
    shared_.reset();
    if (timer_) clock_.cancel(timer_);
}

Pacer::Ticket Pacer::submit(Class cls, Go go) {
    const Ticket ticket = next_ticket_++;
    (cls == Class::refresh ? refresh_ : fresh_).push_back(Waiting{ticket, std::move(go)});
    schedule();  // only arms a timer: go never runs inside submit()
    return ticket;
}

// Tickets grow monotonically and each queue is FIFO, so both queues are
// sorted by ticket: a binary search finds the entry in O(log n). Erasing
// from the middle of a deque of 100,000 would be O(n) per cancel (and
// O(n^2) for a reload that cancels them all), so the entry becomes a
// tombstone (empty go) instead, dropped when it reaches either end.
void Pacer::cancel(Ticket ticket) {
    for (auto* queue : {&refresh_, &fresh_}) {
        auto it = std::lower_bound(queue->begin(), queue->end(), ticket,
                                   [](const Waiting& w, Ticket t) { return w.ticket < t; });
        if (it == queue->end() || it->ticket != ticket || !it->go) continue;
        it->go = nullptr;
        ++shared_->cancelled;
        while (!queue->empty() && !queue->front().go) {
            queue->pop_front();
            --shared_->cancelled;
        }
        while (!queue->empty() && !queue->back().go) {
            queue->pop_back();
            --shared_->cancelled;
        }
        schedule();  // the head may have changed class or vanished
        return;
    }
}

void Pacer::set_settings(PacerSettings settings) {
    refill();  // tokens earned so far at the old rate
    settings_ = settings;
    tokens_ = std::min<double>(tokens_, std::max<uint32_t>(settings_.burst, 1));
    schedule();
}

size_t Pacer::queued() const { return fresh_.size() + refresh_.size() - shared_->cancelled; }

uint32_t Pacer::in_flight() const { return shared_->in_flight; }

void Pacer::refill() {
    const uint64_t now = clock_.now_ms();
    if (now > refilled_at_ms_ && settings_.rate_per_s > 0) {
        const double earned = static_cast<double>(now - refilled_at_ms_) * settings_.rate_per_s / kMsPerS;
        tokens_ = std::min<double>(tokens_ + earned, std::max<uint32_t>(settings_.burst, 1));
    }
    refilled_at_ms_ = now;
}

void Pacer::schedule() {
    if (timer_) clock_.cancel(timer_);
    timer_ = 0;
    // A cap of 0 would stall every request forever; it means 1.
    const uint32_t cap = std::max<uint32_t>(settings_.max_in_flight, 1);
    // Nothing to start, or every slot taken: the next release() schedules.
    if ((refresh_.empty() && fresh_.empty()) || shared_->in_flight >= cap) return;
    uint64_t delay_ms = 0;
    if (refresh_.empty()) {
        refill();
        if (tokens_ + kTokenEpsilon < 1) {
            // A stopped bucket (rate 0) waits for set_settings().
            if (settings_.rate_per_s <= 0) return;
            const double wait = (1 - tokens_) * kMsPerS / settings_.rate_per_s;
            delay_ms = static_cast<uint64_t>(std::ceil(std::min(wait, kMaxTokenWaitMs) - kWaitSlackMs));
        }
    }
    // A slot released meanwhile must not cut a yield short.
    const uint64_t now = clock_.now_ms();
    if (yield_until_ms_ > now) delay_ms = std::max(delay_ms, yield_until_ms_ - now);
    timer_ = clock_.start(delay_ms, [this] { run(); });
}

void Pacer::run() {
    timer_ = 0;
    refill();
    const uint32_t cap = std::max<uint32_t>(settings_.max_in_flight, 1);
    // A go callback may destroy the pacer (a reload tearing a connector
    // down); it must then not be touched again.
    const std::weak_ptr<Slot::Shared> alive = shared_;
    uint32_t started = 0;
    while (shared_->in_flight < cap) {
        if (started == kMaxStartsPerRun) {
            yield_until_ms_ = clock_.now_ms() + kYieldMs;
            break;  // schedule() arms the timer no earlier than that
        }
        // Refreshes and unsubscribes first (they keep existing state
        // alive), then new subscriptions while tokens last.
        std::deque<Waiting>* queue = nullptr;
        if (!refresh_.empty()) {
            queue = &refresh_;
        } else if (!fresh_.empty() && tokens_ + kTokenEpsilon >= 1) {
            queue = &fresh_;
            tokens_ = std::max(tokens_ - 1, 0.0);
            ++started_fresh_;
        } else {
            break;
        }
        Go go = std::move(queue->front().go);
        queue->pop_front();
        // Tombstones never sit at either end (cancel() trims them), but one
        // may reach the front now.
        while (!queue->empty() && !queue->front().go) {
            queue->pop_front();
            --shared_->cancelled;
        }
        ++shared_->in_flight;
        ++started;
        go(Slot(shared_));
        if (alive.expired()) return;
    }
    schedule();
}

}  // namespace presenced::subscription
