// Non-INVITE server transactions (RFC 3261 §17.2.2): a table of requests we
// were handed, keyed per §17.2.3, that absorbs retransmissions before the
// answer and replays the stored answer, byte for byte, after it.
#include "sip/transaction.hpp"

#include <cctype>
#include <string_view>

namespace presenced::sip {

namespace {

// Timer J = 64*T1 (RFC 3261 Table 4). An unanswered entry expires after the
// same time: by then the client transaction has given up (Timer F).
constexpr uint64_t kTimerJFactor = 64;
constexpr std::string_view kMagicCookie = "z9hG4bK";  // RFC 3261 §8.1.1.7
// Separates key fields: a parsed header value never holds a line feed.
constexpr char kSep = '\n';

void append_lower(std::string& out, std::string_view s) {
    for (const char c : s) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
}

}  // namespace

std::string ServerTransactions::key_of(const Message& request) {
    const Via via = request.top_via();
    std::string key;
    if (via.branch.size() > kMagicCookie.size() && via.branch.compare(0, kMagicCookie.size(), kMagicCookie) == 0) {
        // §17.2.3: branch + sent-by + method (ACK/CANCEL never reach here:
        // they belong to INVITE transactions, which we do not serve).
        // Host names compare case-insensitively; the branch does not.
        key.reserve(via.branch.size() + via.host.size() + request.method().size() + 12);
        key += '3';
        key += kSep;
        key += via.branch;
        key += kSep;
        append_lower(key, via.host);
        key += ':';
        if (via.port) key += std::to_string(*via.port);
        key += kSep;
        key += request.method();
        return key;
    }
    // §17.2.3 (the RFC 2543 rule): Request-URI, To tag, From tag, Call-ID,
    // CSeq (number and method) and the whole top Via must all be equal.
    const auto vias = request.via_lines();
    key += '2';
    for (const std::string& part :
         {request.request_uri(), request.to().tag, request.from().tag, request.call_id(),
          std::to_string(request.cseq_number()), request.cseq_method(), vias.empty() ? std::string() : vias.front()}) {
        key += kSep;
        key += part;
    }
    return key;
}

ServerTransactions::~ServerTransactions() {
    if (timer_) clock_.cancel(timer_);
}

uint64_t ServerTransactions::delay_until(uint64_t at_ms) const {
    const uint64_t now = clock_.now_ms();
    return at_ms > now ? at_ms - now : 0;  // a late loop: due now
}

void ServerTransactions::arm_expiry(Order::iterator it) {
    it->expires_ms = clock_.now_ms() + kTimerJFactor * timers_.t1_ms;
    order_.splice(order_.end(), order_, it);  // the latest expiry: the back keeps the list sorted
    if (!timer_) timer_ = clock_.start(delay_until(order_.front().expires_ms), [this] { expire(); });
}

void ServerTransactions::expire() {
    timer_ = 0;
    const uint64_t now = clock_.now_ms();
    while (!order_.empty() && order_.front().expires_ms <= now) {
        table_.erase(order_.front().key);  // §17.2.2: Timer J -> Terminated (or the unanswered entry's end)
        order_.pop_front();
    }
    if (!order_.empty()) timer_ = clock_.start(delay_until(order_.front().expires_ms), [this] { expire(); });
}

ServerTransactions::Seen ServerTransactions::receive(const Message& request, bool reliable,
                                                     const std::function<void(const Answer&)>& resend) {
    (void)reliable;  // the entry lives until respond() on any transport
    std::string key = key_of(request);
    if (auto found = table_.find(key); found != table_.end()) {
        // §17.2.2: Trying absorbs a retransmission (we never send
        // provisionals to non-INVITE, rfc-checklist 5.3); Completed resends
        // the final response.
        const Entry& e = *found->second;
        if (!e.answered) return Seen::retransmission_pending;
        if (resend) resend(e.answer);
        return Seen::retransmission_answered;
    }
    if (table_.size() >= max_entries_) {
        // Full: the TU answers it, nothing is stored (see the header).
        ++overflows_;
        return Seen::fresh;
    }
    // §17.2.2: a new server transaction in Trying. Expires unanswered after
    // 64*T1 so a TU that drops a request cannot leak the entry.
    order_.push_back(Entry{std::move(key), 0, false, {}});
    auto it = std::prev(order_.end());
    table_.emplace(it->key, it);
    arm_expiry(it);
    return Seen::fresh;
}

void ServerTransactions::respond(const Message& request, const Answer& answer, bool reliable) {
    auto found = table_.find(key_of(request));
    if (found == table_.end()) return;  // not stored (table full, expired unanswered)
    auto it = found->second;
    if (it->answered) return;  // answered already: the first answer stands
    if (reliable) {
        // §17.2.2: Timer J = 0 on reliable transports, Terminated at once.
        table_.erase(found);
        order_.erase(it);  // the timer, if it was for this entry, finds the next one due
        if (order_.empty() && timer_) {
            clock_.cancel(timer_);
            timer_ = 0;
        }
        return;
    }
    // §17.2.2: the final response moves Trying to Completed; Timer J = 64*T1.
    it->answered = true;
    it->answer = answer;
    arm_expiry(it);
}

}  // namespace presenced::sip
