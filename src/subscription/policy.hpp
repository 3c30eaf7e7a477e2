// What a subscriber does when a subscription ends or a SUBSCRIBE fails:
// the RFC 6665 reason table (§4.1.3), the response table (RFC 3261 §21,
// RFC 6665 §4.1.2.2), back-off with full jitter, and the refresh margin
// (rfc-checklist 9.6). Pure functions: no clock, no I/O, so every row of
// the tables has its own unit test and its own line in presenced(8).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace presenced::subscription {

// Retry-After is honoured but clamped (rfc-checklist 10.15).
inline constexpr uint32_t kMinRetryAfterS = 1;
inline constexpr uint32_t kMaxRetryAfterS = 24 * 3600;
// 423 without Min-Expires (Asterisk): the expiry is doubled up to this.
inline constexpr uint32_t kMaxSteppedExpiresS = 24 * 3600;
// A refresh never comes later than this before expiry: Timer F (32 s) plus slack (rfc-checklist 9.6).
inline constexpr uint32_t kMinRefreshMarginS = 37;
// Jitter on the refresh moment: +/- this many per cent of the margin.
inline constexpr uint32_t kRefreshJitterPercent = 5;
// deactivated / timeout / a refresh answered 481: a new subscription within
// [0, this) ms, so a server restart that ends thousands at once does not
// bring them back in one burst (the pacer bounds the rate on top).
inline constexpr uint64_t kResubscribeSpreadMs = 5'000;
// A NOTIFY whose Subscription-State expires moves the expiry by less than
// this share of it (and at least kKeepTimersMinMs) keeps the refresh and
// expiry timers as they are: servers repeat the same expires in every NOTIFY,
// and moving two timers per NOTIFY was a tenth of the NOTIFY path's cost
// (bench/store_bench). The refresh jitter is 5% anyway.
inline constexpr uint32_t kKeepTimersPercent = 1;
inline constexpr uint64_t kPercent = 100;
inline constexpr uint64_t kKeepTimersMinMs = 1'000;

// Exponential back-off with full jitter, per subscription (config keys
// presence.retry_min / presence.retry_max).
struct Backoff {
    uint64_t floor_ms = 10'000;
    uint64_t cap_ms = 900'000;
};

// Attempt n (1 = the first failure): uniform in [floor, min(cap, floor * 2^(n-1))]
// using `random` (any value) as the jitter source. Never below floor, never above cap.
uint64_t backoff_delay(const Backoff& backoff, int attempt, uint64_t random);

// Milliseconds from now until the refresh of a subscription that expires in
// expires_s seconds: expires - margin, margin = min(expires/2, max(37 s, 10%
// of expires)), the margin jittered by +/- 5% (3600 -> ~3240 s, 120 -> 83 s,
// 60 -> 30 s). 0 for expires_s == 0.
uint64_t refresh_delay_ms(uint32_t expires_s, uint64_t random);

// What to do next.
enum class Action {
    resubscribe,        // a brand-new subscription (new Call-ID and tag) after delay_ms (spread jitter)
    retry,              // a brand-new subscription after max(delay_ms, back-off) (retry-after honoured)
    park_rejected,      // stop; resume only on reload or forced subscribe (status "rejected")
    park_no_such_user,  // the same, status "no_such_user"
    park_unsupported,   // 489: the server lacks the event package for this kind (status "unsupported")
    retry_expires,      // 423: again at once with expires = new_expires (a new transaction, CSeq + 1)
    keep_dialog,        // a refresh failed softly: the dialog stays valid until its expiry; retry the
                        // refresh after back-off (and start over if it expires first)
};

struct Decision {
    Action action = Action::retry;
    uint64_t delay_ms = 0;     // minimum wait (retry-after, clamped), or the spread jitter for resubscribe
    uint32_t new_expires = 0;  // retry_expires only
    std::string why;           // for logs and `presencectl user`: "reason=rejected", "423 without Min-Expires: 7200"
};

// The reason table for a NOTIFY with Subscription-State: terminated
// (RFC 6665 §4.1.3; rfc-checklist 10.6-10.15). reason is the raw token
// ("" when absent), compared case-insensitively; retry_after as received.
//   deactivated, timeout      -> resubscribe (delay = spread jitter from random)
//   probation, giveup         -> retry (delay = retry-after, else 0 = back-off only)
//   rejected, badfilter       -> park_rejected
//   noresource                -> park_no_such_user
//   invariant                 -> park_rejected (retry-after ignored)
//   absent or unknown         -> retry (delay = retry-after or 0)
Decision on_terminated(std::string_view reason, std::optional<uint32_t> retry_after, uint64_t random);

// A final non-2xx response to a SUBSCRIBE other than 401/407 (which the
// digest session handles). refresh: it answered an in-dialog refresh.
// sent_expires: the Expires we asked for (for 423).
//   423 + Min-Expires > sent   -> retry_expires (Min-Expires)
//   423 without Min-Expires    -> retry_expires (2 x sent, capped); at the cap -> retry
//   489                        -> park_unsupported
//   refresh: 481 and the other codes of RFC 6665 §4.1.2.2 (404, 405, 410,
//     416, 480-485, 489, 501, 604) -> resubscribe; anything else -> keep_dialog
//   initial: 403, 603, 600, 606 -> park_rejected; 404, 604, 410, 484 -> park_no_such_user;
//     other 3xx/4xx/5xx/6xx -> retry (Retry-After honoured)
Decision on_response(int code, bool refresh, std::optional<uint32_t> retry_after, std::optional<uint32_t> min_expires,
                     uint32_t sent_expires, uint64_t random);

// No final response (Timer F) or the transport failed (RFC 3261 §8.1.3.1:
// 408 / 503): refresh -> keep_dialog, initial -> retry.
Decision on_no_response(bool refresh, bool timeout);

}  // namespace presenced::subscription
