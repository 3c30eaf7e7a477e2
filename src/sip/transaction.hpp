// Non-INVITE transactions (RFC 3261 §17.1.2 client, §17.2.2 server) on an
// injectable Clock. The transaction layer sends bytes through a callback and
// never touches sockets, so the timers are tested on a VirtualClock.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ev/clock.hpp"
#include "sip/message.hpp"

namespace presenced::sip {

// RFC 3261 Table 4; configurable (T1 is also an RTT estimate).
struct TimerValues {
    uint64_t t1_ms = 500;
    uint64_t t2_ms = 4000;
    uint64_t t4_ms = 5000;
};

enum class ClientOutcome {
    response,         // a final response arrived (see the Message)
    timeout,          // Timer F fired with no final response: treat as 408 (§8.1.3.1)
    transport_error,  // the transport failed (ICMP, RST, connect failure): treat as 503 (§8.1.3.1)
};

// One outgoing request until its final response. UDP: Timer E retransmits
// at T1, 2T1, 4T1 ... capped at T2 (also in Proceeding), Timer F = 64*T1;
// Completed absorbs response retransmissions for Timer K = T4. Reliable
// transport: no retransmission, Timer F still runs, K = 0.
class ClientTransaction {
public:
    using Send = std::function<void(const std::string& bytes)>;
    using Done = std::function<void(ClientOutcome, const Message* response)>;

    ClientTransaction(ev::Clock& clock, TimerValues timers, bool reliable, std::string branch, std::string method,
                      std::string bytes, Send send, Done done);
    ~ClientTransaction();  // cancels its timers
    ClientTransaction(const ClientTransaction&) = delete;
    ClientTransaction& operator=(const ClientTransaction&) = delete;

    void start();  // sends the first copy and starts Timer E/F (once; later calls are ignored)
    // A response whose top-Via branch and CSeq method match (§17.1.3).
    // 1xx: Proceeding (no TU action for non-INVITE). Final: Completed, Done.
    // A response whose branch or CSeq method differs anyway is ignored, and
    // so is everything once a final response was handed over (Timer K).
    void on_response(const Message& response);
    // The transport reported a failure for this request (ignored once Done
    // was called).
    void on_transport_error();

    // Done is called exactly once. The owner may destroy the transaction
    // inside Done or the terminated handler: nothing touches the object after
    // those callbacks return if it is gone. Send must not destroy it; a
    // transport error reported from inside Send is delivered (Done) right
    // after Send returns.
    //
    // Additive: an optional handler called once when the transaction reaches
    // Terminated (after Done: right after it for a timeout, a transport error
    // or a final response over a reliable transport; when Timer K fires
    // otherwise), so the owner knows when to reap it. Not called when the
    // transaction is destroyed before that.
    void set_terminated_handler(std::function<void()> fn) { terminated_ = std::move(fn); }

    enum class State { calling, trying, proceeding, completed, terminated };
    State state() const { return state_; }
    const std::string& branch() const { return branch_; }
    const std::string& method() const { return method_; }
    uint32_t retransmissions() const { return retransmissions_; }

private:
    void arm_e(uint64_t interval);
    void on_timer_e();
    void on_timer_f();
    void on_timer_k();
    void cancel_timers();
    void transmit();  // send_(bytes_), deferring a transport error reported inside it
    // Enters Terminated from Trying/Proceeding (Timer F, transport error).
    void fail(ClientOutcome outcome);
    // Calls Done (once) and then, if the state is Terminated, the terminated
    // handler; returns at once if the owner destroyed us meanwhile.
    void finish(ClientOutcome outcome, const Message* response);

    ev::Clock& clock_;
    TimerValues timers_;
    bool reliable_;
    std::string branch_, method_, bytes_;
    Send send_;
    Done done_;
    std::function<void()> terminated_;
    // Points at a flag on the stack of a running finish(); the destructor
    // sets it so finish() knows the owner destroyed us inside a callback.
    bool* destroyed_ = nullptr;
    bool sending_ = false, error_pending_ = false;
    ClientOutcome pending_outcome_ = ClientOutcome::transport_error;
    State state_ = State::calling;
    ev::TimerId timer_e_ = 0, timer_f_ = 0, timer_k_ = 0;
    uint64_t e_interval_ = 0;
    uint32_t retransmissions_ = 0;
};

// Server transactions for incoming non-INVITE requests (NOTIFY, OPTIONS):
// a retransmission is answered again with the same response without
// reaching the TU twice (§17.2.2). Kept for Timer J = 64*T1 on UDP, 0 on
// reliable transports. Matching per §17.2.3: top-Via branch + sent-by +
// method for z9hG4bK branches, else the RFC 2543 rule (R-URI, tags,
// Call-ID, CSeq, top Via).
//
// Memory: an entry is the match key plus what the final response was made
// of (code, reason, extra headers: a few bytes for a 200), never the
// response bytes nor a parsed message. The response is built again from the
// retransmitted request, which is byte for byte the first one, so it is the
// same response. A NOTIFY stream at 50,000/s keeps 64*T1 worth of entries:
// storing ~450 response bytes each cost ~60 MB of RSS and a fragmented heap
// (issue 6 profile). Every entry lives exactly 64*T1 from its last state
// change, so entries sit in a list in expiry order and one clock timer
// serves the whole table (no timer per NOTIFY).
//
// The table is bounded (max_entries): when it is full a new request is still
// reported fresh but not stored, so its retransmissions reach the TU again
// (which must be idempotent anyway, rfc-checklist 5.7) instead of memory
// growing under a flood. An entry the TU never answers is dropped after
// 64*T1 as well.
class ServerTransactions {
public:
    static constexpr size_t kDefaultMaxEntries = 100'000;

    // What a final response is built from, kept to build it again.
    struct Answer {
        int code = 0;
        std::string reason;
        std::vector<Header> extra;
    };

    // max_entries is additive (defaults to kDefaultMaxEntries).
    ServerTransactions(ev::Clock& clock, TimerValues timers, size_t max_entries = kDefaultMaxEntries)
        : clock_(clock), timers_(timers), max_entries_(max_entries) {}
    ~ServerTransactions();
    ServerTransactions(const ServerTransactions&) = delete;
    ServerTransactions& operator=(const ServerTransactions&) = delete;

    enum class Seen { fresh, retransmission_answered, retransmission_pending };
    // Looks the request up. fresh: a new transaction was created and the TU
    // must answer it with respond(). retransmission_answered: `resend` was
    // called with the stored answer, to build and send it again.
    // retransmission_pending: absorbed.
    Seen receive(const Message& request, bool reliable, const std::function<void(const Answer&)>& resend);
    // Stores the final answer of a fresh request (and starts Timer J).
    // Reliable transports: the entry is removed at once (Timer J = 0). Only
    // the first answer of a transaction is kept; a request that has no
    // entry (table full, expired unanswered) stores nothing.
    void respond(const Message& request, const Answer& answer, bool reliable);
    size_t size() const { return table_.size(); }
    // Requests reported fresh but not stored because the table was full.
    uint64_t overflows() const { return overflows_; }
    // The match key (§17.2.3) of a request; exposed for logs and tests.
    static std::string key_of(const Message& request);

private:
    struct Entry {
        std::string key;
        uint64_t expires_ms = 0;  // Timer J once answered; the unanswered expiry before
        bool answered = false;
        Answer answer;
    };
    using Order = std::list<Entry>;  // by expires_ms: every entry gets the same lifetime
    // Moves it to the back of the list with a new expiry; arms the timer if idle.
    void arm_expiry(Order::iterator it);
    void expire();
    uint64_t delay_until(uint64_t at_ms) const;

    ev::Clock& clock_;
    TimerValues timers_;
    size_t max_entries_;
    uint64_t overflows_ = 0;
    Order order_;
    std::unordered_map<std::string_view, Order::iterator> table_;  // views of the list's keys
    ev::TimerId timer_ = 0;
};

}  // namespace presenced::sip
