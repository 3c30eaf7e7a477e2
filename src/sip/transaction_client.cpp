// The non-INVITE client transaction (RFC 3261 §17.1.2): retransmits an
// outgoing request on Timer E over UDP, gives up on Timer F, and absorbs
// response retransmissions for Timer K once a final response arrived.
#include "sip/transaction.hpp"

#include <algorithm>
#include <utility>

namespace presenced::sip {

namespace {
// Timer F and Timer J are both 64*T1 (RFC 3261 Table 4).
constexpr uint64_t kTimerFFactor = 64;
}  // namespace

ClientTransaction::ClientTransaction(ev::Clock& clock, TimerValues timers, bool reliable, std::string branch,
                                     std::string method, std::string bytes, Send send, Done done)
    : clock_(clock),
      timers_(timers),
      reliable_(reliable),
      branch_(std::move(branch)),
      method_(std::move(method)),
      bytes_(std::move(bytes)),
      send_(std::move(send)),
      done_(std::move(done)) {}

ClientTransaction::~ClientTransaction() {
    cancel_timers();
    if (destroyed_ != nullptr) *destroyed_ = true;
}

void ClientTransaction::cancel_timers() {
    // Cancelling a timer that fired or never started is harmless (Clock).
    clock_.cancel(timer_e_);
    clock_.cancel(timer_f_);
    clock_.cancel(timer_k_);
    timer_e_ = timer_f_ = timer_k_ = 0;
}

void ClientTransaction::start() {
    if (state_ != State::calling) return;
    // §17.1.2.2: the transaction starts in Trying with Timer F = 64*T1 and,
    // on an unreliable transport only, Timer E = T1. F is armed first so
    // that it wins should both ever be due at the same moment.
    state_ = State::trying;
    timer_f_ = clock_.start(kTimerFFactor * timers_.t1_ms, [this] { on_timer_f(); });
    if (!reliable_) arm_e(timers_.t1_ms);
    transmit();
}

void ClientTransaction::transmit() {
    // A transport that fails synchronously reports it from inside Send; Done
    // is then deferred until Send has returned, so the owner never destroys
    // the transaction (and the bytes being sent) under the transport's feet.
    sending_ = true;
    send_(bytes_);
    sending_ = false;
    if (error_pending_) {
        error_pending_ = false;
        finish(pending_outcome_, nullptr);
    }
}

void ClientTransaction::arm_e(uint64_t interval) {
    e_interval_ = interval;
    timer_e_ = clock_.start(interval, [this] { on_timer_e(); });
}

void ClientTransaction::on_timer_e() {
    timer_e_ = 0;
    if (state_ != State::trying && state_ != State::proceeding) return;
    // §17.1.2.2: in Trying the interval doubles up to T2; in Proceeding the
    // request is resent every T2.
    const uint64_t next = state_ == State::proceeding ? timers_.t2_ms : std::min(2 * e_interval_, timers_.t2_ms);
    arm_e(next);
    ++retransmissions_;
    transmit();
}

void ClientTransaction::on_timer_f() {
    timer_f_ = 0;
    if (state_ != State::trying && state_ != State::proceeding) return;
    // §17.1.2.2: Timer F in Trying or Proceeding -> Terminated; the TU
    // treats it as a 408 (§8.1.3.1). Nothing is sent.
    fail(ClientOutcome::timeout);
}

void ClientTransaction::on_transport_error() {
    if (state_ != State::trying && state_ != State::proceeding) return;
    // §17.1.4 / §8.1.3.1: a transport failure terminates the transaction and
    // the TU treats it as a 503.
    fail(ClientOutcome::transport_error);
}

void ClientTransaction::fail(ClientOutcome outcome) {
    state_ = State::terminated;
    cancel_timers();
    if (sending_) {
        error_pending_ = true;  // see transmit()
        pending_outcome_ = outcome;
        return;
    }
    finish(outcome, nullptr);
}

void ClientTransaction::on_response(const Message& response) {
    if (state_ != State::trying && state_ != State::proceeding) return;  // Completed absorbs (§17.1.2.2)
    if (!response.is_response()) return;
    // §17.1.3: the caller matched it; a mismatch here is a routing bug, and
    // handing a foreign response to the TU would be worse than dropping it.
    if (response.top_via().branch != branch_ || response.cseq_method() != method_) return;
    const int code = response.status_code();
    if (code < 100 || code > 699) return;
    if (code < 200) {
        // §17.1.2.2: a provisional moves Trying to Proceeding; Timer E keeps
        // running (every T2 from its next firing). No TU action for non-INVITE.
        state_ = State::proceeding;
        return;
    }
    // §17.1.2.2: a final response -> Completed, hand it to the TU, stop E
    // and F, and keep absorbing retransmissions for Timer K = T4 (UDP) or
    // terminate at once (K = 0, reliable).
    cancel_timers();
    if (reliable_) {
        state_ = State::terminated;
    } else {
        state_ = State::completed;
        timer_k_ = clock_.start(timers_.t4_ms, [this] { on_timer_k(); });
    }
    finish(ClientOutcome::response, &response);
}

void ClientTransaction::on_timer_k() {
    timer_k_ = 0;
    if (state_ != State::completed) return;
    // §17.1.2.2: Timer K in Completed -> Terminated.
    state_ = State::terminated;
    finish(ClientOutcome::response, nullptr);  // Done was already called: only the terminated handler runs
}

void ClientTransaction::finish(ClientOutcome outcome, const Message* response) {
    // Callbacks may re-enter (and finish() nest): each level keeps the
    // outer flag and passes a destruction on to it.
    bool destroyed = false;
    bool* const outer = destroyed_;
    destroyed_ = &destroyed;
    const auto gone = [&] {
        if (!destroyed) return false;
        if (outer != nullptr) *outer = true;
        return true;
    };
    if (done_) {
        // Moved out first: Done runs once, and it may destroy *this (and the
        // std::function member with it) while it runs.
        Done done = std::move(done_);
        done_ = nullptr;
        done(outcome, response);
        if (gone()) return;
    }
    if (state_ == State::terminated && terminated_) {
        auto terminated = std::move(terminated_);
        terminated_ = nullptr;
        terminated();
        if (gone()) return;
    }
    destroyed_ = outer;
}

}  // namespace presenced::sip
