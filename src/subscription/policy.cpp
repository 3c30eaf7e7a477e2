// The subscriber's decision tables: what a terminated subscription or a
// failed SUBSCRIBE leads to (RFC 6665 §4.1.3, §4.1.2.2; RFC 3261 §21), the
// back-off between attempts and the moment of a refresh. Pure functions of
// their arguments; the randomness comes in as a number so tests can pin it.
#include "subscription/policy.hpp"

#include <algorithm>
#include <array>

#include "util/text.hpp"

namespace presenced::subscription {

namespace {

constexpr uint64_t kMsPerS = 1'000;
// The refresh margin is 10% of the expiry (rfc-checklist 9.6), and never
// more than half of it.
constexpr uint32_t kRefreshMarginDivisor = 10;
constexpr uint32_t kRefreshMarginMaxDivisor = 2;
// An unknown reason token comes from the network: it goes into `why`
// escaped and cut to this length, so a hostile NOTIFY cannot flood logs.
constexpr size_t kMaxReasonInWhy = 32;

// Response codes named by the tables (RFC 3261 §21, RFC 6665 §8.3).
constexpr int kBadEvent = 489;
constexpr int kIntervalTooBrief = 423;

// RFC 6665 §4.1.2.2: a refresh answered by one of these means the
// subscription is gone; anything else leaves it valid until it expires.
constexpr std::array kRefreshTerminatingCodes{404, 405, 410, 416, 480, 481, 482, 483, 484, 485, 489, 501, 604};
// rfc-checklist 7.8, 7.12: the server refuses us (403, 600, 603) or our
// Accept (606): retrying would only repeat the refusal.
constexpr std::array kRejectedCodes{403, 600, 603, 606};
// rfc-checklist 7.8, 7.12: the resource does not exist.
constexpr std::array kNoSuchUserCodes{404, 410, 484, 604};

template <size_t N>
bool contains(const std::array<int, N>& codes, int code) {
    return std::find(codes.begin(), codes.end(), code) != codes.end();
}

// Retry-After is honoured but clamped to 1 s .. 24 h (rfc-checklist 10.15),
// so neither 0 (a busy loop) nor a year (a silent outage) is taken literally.
uint64_t retry_after_ms(std::optional<uint32_t> retry_after) {
    if (!retry_after) return 0;
    return uint64_t{std::clamp(*retry_after, kMinRetryAfterS, kMaxRetryAfterS)} * kMsPerS;
}

// A new subscription somewhere in [0, kResubscribeSpreadMs): a server
// restart that ends thousands at once does not get them back in one burst.
uint64_t spread_ms(uint64_t random) { return random % kResubscribeSpreadMs; }

Decision decide(Action action, uint64_t delay_ms, std::string why) {
    Decision d;
    d.action = action;
    d.delay_ms = delay_ms;
    d.why = std::move(why);
    return d;
}

// 423 Interval Too Brief (RFC 3261 §21.4.17, RFC 6665 §4.2.1.1): ask again
// with Min-Expires when the server gave a usable one. Asterisk gives none
// (interop.md §2 item 4), and a server may give one that is not above what
// we sent: then step the expiry up by doubling, up to kMaxSteppedExpiresS.
// Once there (or when doubling cannot grow, sent == 0) a further 423 is a
// plain failure: a new subscription after back-off.
Decision on_interval_too_brief(std::optional<uint32_t> retry_after, std::optional<uint32_t> min_expires,
                               uint32_t sent_expires) {
    if (min_expires && *min_expires > sent_expires) {
        Decision d = decide(Action::retry_expires, 0, util::cat("423 Min-Expires ", *min_expires));
        d.new_expires = *min_expires;
        return d;
    }
    const uint64_t stepped = std::min(uint64_t{sent_expires} * 2, uint64_t{kMaxSteppedExpiresS});
    const char* what = min_expires ? "423 Min-Expires not above sent" : "423 without Min-Expires";
    if (stepped <= sent_expires)
        return decide(Action::retry, retry_after_ms(retry_after),
                      util::cat(what, ": cannot step up from ", sent_expires));
    Decision d = decide(Action::retry_expires, 0, util::cat(what, ": trying ", stepped));
    d.new_expires = static_cast<uint32_t>(stepped);
    return d;
}

}  // namespace

uint64_t backoff_delay(const Backoff& backoff, int attempt, uint64_t random) {
    // Full jitter over [floor, ceiling] with the ceiling doubling per
    // attempt (interop.md §2 item 2), so failures spread out instead of
    // hitting the server in lock step. A floor above the cap is a config
    // error; the cap wins.
    const uint64_t cap = backoff.cap_ms;
    const uint64_t floor = std::min(backoff.floor_ms, cap);
    const int attempts = std::max(attempt, 1);
    uint64_t ceiling = floor;
    // At most 64 doublings reach any cap, so a huge attempt count costs
    // nothing; a zero floor never grows (floor * 2^n == 0), so the loop
    // stops at once for it too.
    for (int i = 1; i < attempts && ceiling < cap && ceiling > 0; ++i) ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
    // span + 1 cannot wrap: span == UINT64_MAX needs floor 0 and a ceiling
    // above it, which the loop never produces.
    return floor + random % (ceiling - floor + 1);
}

uint64_t refresh_delay_ms(uint32_t expires_s, uint64_t random) {
    if (expires_s == 0) return 0;
    // rfc-checklist 9.6: refresh `margin` before expiry, margin = 10% of
    // the expiry but at least 37 s (Timer F plus slack, so the refresh can
    // time out and be retried before the subscription ends), and never
    // more than half of it. Computed in ms so short expiries keep precision.
    const uint64_t expires_ms = uint64_t{expires_s} * kMsPerS;
    const uint64_t margin =
        std::min(expires_ms / kRefreshMarginMaxDivisor,
                 std::max(uint64_t{kMinRefreshMarginS} * kMsPerS, expires_ms / kRefreshMarginDivisor));
    // +/- 5% of the margin, so subscriptions started together do not
    // refresh together forever.
    const uint64_t spread = margin * kRefreshJitterPercent / kPercent;
    const uint64_t jittered = margin - spread + random % (2 * spread + 1);
    return expires_ms > jittered ? expires_ms - jittered : 0;
}

Decision on_terminated(std::string_view reason, std::optional<uint32_t> retry_after, uint64_t random) {
    // RFC 6665 §4.1.3 reason table (rfc-checklist 10.6-10.15). Reason
    // tokens are case-insensitive; retry-after only counts for probation,
    // giveup and no or unknown reason (10.15).
    using util::iequals;
    const std::string why = util::cat("reason=", reason);
    // 10.6, 10.9: the notifier moved or we were late with the refresh; a
    // new subscription at once, spread so a restart does not burst.
    if (iequals(reason, "deactivated") || iequals(reason, "timeout"))
        return decide(Action::resubscribe, spread_ms(random), why);
    // 10.7, 10.10: try again later, not before retry-after.
    if (iequals(reason, "probation") || iequals(reason, "giveup"))
        return decide(Action::retry, retry_after_ms(retry_after), why);
    // 10.8, 10.13: authorisation changed or our (absent) filter was refused.
    if (iequals(reason, "rejected") || iequals(reason, "badfilter")) return decide(Action::park_rejected, 0, why);
    // 10.11: the resource is gone.
    if (iequals(reason, "noresource")) return decide(Action::park_no_such_user, 0, why);
    // 10.12: the state will never change, whatever retry-after says.
    if (iequals(reason, "invariant")) return decide(Action::park_rejected, 0, why);
    // 10.14: no reason, or one we do not know: may re-subscribe at any
    // time, not before retry-after.
    if (reason.empty()) return decide(Action::retry, retry_after_ms(retry_after), "no reason");
    const std::string token = util::escape_control(reason.substr(0, kMaxReasonInWhy));
    return decide(Action::retry, retry_after_ms(retry_after), util::cat("unknown reason=", token));
}

Decision on_response(int code, bool refresh, std::optional<uint32_t> retry_after, std::optional<uint32_t> min_expires,
                     uint32_t sent_expires, uint64_t random) {
    if (code == kIntervalTooBrief) return on_interval_too_brief(retry_after, min_expires, sent_expires);
    // rfc-checklist 7.7: the server lacks the event package; retrying the
    // same package there is pointless, refresh or not.
    if (code == kBadEvent) return decide(Action::park_unsupported, 0, "489: no such event package");
    if (refresh) {
        // RFC 6665 §4.1.2.2: these end the subscription; a brand-new one
        // (new Call-ID, new tag) resumes it (rfc-checklist 7.9). Many 481s at
        // once mean a server restart, hence the spread. Retry-After, when
        // sent, is still a minimum (RFC 3261 §20.33).
        if (contains(kRefreshTerminatingCodes, code)) {
            const uint64_t delay = std::max(spread_ms(random), retry_after_ms(retry_after));
            return decide(Action::resubscribe, delay, util::cat(code, " on refresh"));
        }
        // Anything else leaves the subscription valid until its expiry
        // (rfc-checklist 7.10): retry the refresh after back-off.
        return decide(Action::keep_dialog, retry_after_ms(retry_after), util::cat(code, " on refresh: dialog kept"));
    }
    if (contains(kRejectedCodes, code)) return decide(Action::park_rejected, 0, util::cat(code, ": rejected"));
    if (contains(kNoSuchUserCodes, code))
        return decide(Action::park_no_such_user, 0, util::cat(code, ": no such user"));
    // rfc-checklist 7.8, 7.11: other failures (3xx we do not follow, 480,
    // 486, 5xx...) retry after back-off, not before Retry-After.
    return decide(Action::retry, retry_after_ms(retry_after), util::cat(code, ": retry"));
}

Decision on_no_response(bool refresh, bool timeout) {
    // RFC 3261 §8.1.3.1: no answer counts as 408, a transport failure as
    // 503. Neither proves the subscription is gone, so a refresh keeps the
    // dialog until its expiry (rfc-checklist 7.10); an initial SUBSCRIBE
    // backs off (7.8).
    const char* what = timeout ? "no response (408)" : "transport failed (503)";
    if (refresh) return decide(Action::keep_dialog, 0, util::cat(what, " on refresh: dialog kept"));
    return decide(Action::retry, 0, what);
}

}  // namespace presenced::subscription
