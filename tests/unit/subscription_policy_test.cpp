// Subscription policy tables (subscription/policy): one case per row of the
// RFC 6665 §4.1.3 reason table and the SUBSCRIBE response table, 423
// stepping, Retry-After clamping, the refresh margin and the back-off.
#include <catch2/catch.hpp>

#include <climits>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "subscription/policy.hpp"

using namespace presenced::subscription;

namespace {

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();
const std::optional<uint32_t> kNone;

// Deterministic spread of "random" inputs (splitmix64), so bounds are
// checked over many values without a seeded generator in the test.
std::vector<uint64_t> randoms(size_t n) {
    std::vector<uint64_t> out{0, 1, kMaxU64, kMaxU64 - 1};
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    while (out.size() < n) {
        x += 0x9e3779b97f4a7c15ULL;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        out.push_back(z ^ (z >> 31));
    }
    return out;
}

Decision initial(int code, std::optional<uint32_t> retry_after = std::nullopt) {
    return on_response(code, false, retry_after, std::nullopt, 3600, 0);
}

Decision refreshed(int code, std::optional<uint32_t> retry_after = std::nullopt, uint64_t random = 0) {
    return on_response(code, true, retry_after, std::nullopt, 3600, random);
}

}  // namespace

// --- RFC 6665 §4.1.3 reason table -------------------------------------------------------------------------------

TEST_CASE("reason deactivated and timeout resubscribe within the spread", "[policy][reason]") {
    for (const char* reason : {"deactivated", "DEACTIVATED", "Deactivated", "timeout", "TIMEOUT", "tImEoUt"}) {
        INFO(reason);
        const Decision d = on_terminated(reason, kNone, 12'345);
        CHECK(d.action == Action::resubscribe);
        CHECK(d.delay_ms == 12'345 % kResubscribeSpreadMs);
        CHECK(d.why == std::string("reason=") + reason);
        // retry-after means nothing for these (rfc-checklist 10.15): still the spread.
        CHECK(on_terminated(reason, 600, 4'999).delay_ms == 4'999);
    }
    for (uint64_t r : randoms(2'000)) CHECK(on_terminated("deactivated", kNone, r).delay_ms < kResubscribeSpreadMs);
    CHECK(on_terminated("timeout", kNone, kResubscribeSpreadMs).delay_ms == 0);
}

TEST_CASE("reason probation and giveup retry, not before retry-after", "[policy][reason]") {
    for (const char* reason : {"probation", "PROBATION", "Probation", "giveup", "GIVEUP", "GiveUp"}) {
        INFO(reason);
        Decision d = on_terminated(reason, kNone, 777);
        CHECK(d.action == Action::retry);
        CHECK(d.delay_ms == 0);  // back-off only
        CHECK(d.why == std::string("reason=") + reason);
        d = on_terminated(reason, 120, 777);
        CHECK(d.action == Action::retry);
        CHECK(d.delay_ms == 120'000);
    }
}

TEST_CASE("reason rejected and badfilter park as rejected, retry-after ignored", "[policy][reason]") {
    for (const char* reason : {"rejected", "REJECTED", "Rejected", "badfilter", "BADFILTER", "BadFilter"}) {
        INFO(reason);
        for (auto retry_after : {kNone, std::optional<uint32_t>{60}}) {
            const Decision d = on_terminated(reason, retry_after, 999);
            CHECK(d.action == Action::park_rejected);
            CHECK(d.delay_ms == 0);
            CHECK(d.why == std::string("reason=") + reason);
        }
    }
}

TEST_CASE("reason noresource parks as no such user", "[policy][reason]") {
    for (const char* reason : {"noresource", "NORESOURCE", "NoResource"}) {
        INFO(reason);
        const Decision d = on_terminated(reason, 30, 999);
        CHECK(d.action == Action::park_no_such_user);
        CHECK(d.delay_ms == 0);
        CHECK(d.why == std::string("reason=") + reason);
    }
}

TEST_CASE("reason invariant parks as rejected whatever retry-after says", "[policy][reason]") {
    for (const char* reason : {"invariant", "INVARIANT", "Invariant"}) {
        INFO(reason);
        for (auto retry_after : {kNone, std::optional<uint32_t>{1}, std::optional<uint32_t>{3600}}) {
            const Decision d = on_terminated(reason, retry_after, 999);
            CHECK(d.action == Action::park_rejected);
            CHECK(d.delay_ms == 0);
        }
    }
}

TEST_CASE("an absent reason retries, not before retry-after", "[policy][reason]") {
    Decision d = on_terminated("", kNone, 999);
    CHECK(d.action == Action::retry);
    CHECK(d.delay_ms == 0);
    CHECK(d.why == "no reason");
    d = on_terminated("", 45, 999);
    CHECK(d.action == Action::retry);
    CHECK(d.delay_ms == 45'000);
}

TEST_CASE("an unknown reason retries like an absent one, and is logged safely", "[policy][reason]") {
    // Near misses of real tokens are unknown too: no prefix or trimming games.
    for (const char* reason : {"moved", "deactivate", "deactivated ", "re-jected", "noresources", "x"}) {
        INFO(reason);
        Decision d = on_terminated(reason, kNone, 999);
        CHECK(d.action == Action::retry);
        CHECK(d.delay_ms == 0);
        CHECK(d.why.find("unknown") != std::string::npos);
        d = on_terminated(reason, 10, 999);
        CHECK(d.delay_ms == 10'000);
    }
    // A hostile token cannot forge log lines or flood them.
    const Decision d = on_terminated("evil\r\nINFO forged" + std::string(1'000, 'a'), kNone, 0);
    CHECK(d.action == Action::retry);
    CHECK(d.why.find('\r') == std::string::npos);
    CHECK(d.why.find('\n') == std::string::npos);
    CHECK(d.why.size() < 100);
}

TEST_CASE("retry-after is clamped to 1 s .. 24 h", "[policy][reason]") {
    CHECK(on_terminated("probation", 0, 0).delay_ms == 1'000);
    CHECK(on_terminated("probation", 1, 0).delay_ms == 1'000);
    CHECK(on_terminated("giveup", 2, 0).delay_ms == 2'000);
    CHECK(on_terminated("giveup", kMaxRetryAfterS, 0).delay_ms == uint64_t{kMaxRetryAfterS} * 1'000);
    CHECK(on_terminated("giveup", kMaxRetryAfterS + 1, 0).delay_ms == uint64_t{kMaxRetryAfterS} * 1'000);
    CHECK(on_terminated("", std::numeric_limits<uint32_t>::max(), 0).delay_ms == uint64_t{kMaxRetryAfterS} * 1'000);
    CHECK(initial(503, 0).delay_ms == 1'000);
    CHECK(initial(503, std::numeric_limits<uint32_t>::max()).delay_ms == uint64_t{kMaxRetryAfterS} * 1'000);
    CHECK(refreshed(503, 0).delay_ms == 1'000);
    CHECK(refreshed(500, 90'000).delay_ms == uint64_t{kMaxRetryAfterS} * 1'000);
}

// --- 423 Interval Too Brief -------------------------------------------------------------------------------------

TEST_CASE("423 with Min-Expires above what was sent asks again with it", "[policy][423]") {
    for (bool refresh : {false, true}) {
        INFO("refresh " << refresh);
        Decision d = on_response(423, refresh, kNone, 1800, 600, 0);
        CHECK(d.action == Action::retry_expires);
        CHECK(d.new_expires == 1800);
        CHECK(d.delay_ms == 0);
        CHECK(d.why == "423 Min-Expires 1800");
        // The server's minimum wins even above our own stepping cap.
        d = on_response(423, refresh, kNone, kMaxSteppedExpiresS + 100, 3600, 0);
        CHECK(d.action == Action::retry_expires);
        CHECK(d.new_expires == kMaxSteppedExpiresS + 100);
    }
}

TEST_CASE("423 with Min-Expires not above what was sent doubles the expiry", "[policy][423]") {
    for (uint32_t min_expires : {600u, 300u, 1u, 0u}) {
        INFO(min_expires);
        const Decision d = on_response(423, false, kNone, min_expires, 600, 0);
        CHECK(d.action == Action::retry_expires);
        CHECK(d.new_expires == 1200);
    }
}

TEST_CASE("423 without Min-Expires doubles the expiry up to the cap", "[policy][423]") {
    for (bool refresh : {false, true}) {
        INFO("refresh " << refresh);
        Decision d = on_response(423, refresh, kNone, kNone, 3600, 0);
        CHECK(d.action == Action::retry_expires);
        CHECK(d.new_expires == 7200);
        CHECK(d.why == "423 without Min-Expires: trying 7200");
        d = on_response(423, refresh, kNone, kNone, 60, 0);
        CHECK(d.new_expires == 120);
        d = on_response(423, refresh, kNone, kNone, kMaxSteppedExpiresS / 2 + 1, 0);
        CHECK(d.action == Action::retry_expires);
        CHECK(d.new_expires == kMaxSteppedExpiresS);
        // Stepping from 60 s reaches the cap in a bounded number of rounds.
        uint32_t expires = 60;
        int rounds = 0;
        for (; rounds < 40; ++rounds) {
            d = on_response(423, refresh, kNone, kNone, expires, 0);
            if (d.action != Action::retry_expires) break;
            CHECK(d.new_expires > expires);
            CHECK(d.new_expires <= kMaxSteppedExpiresS);
            expires = d.new_expires;
        }
        CHECK(expires == kMaxSteppedExpiresS);
        CHECK(rounds < 20);
        CHECK(d.action == Action::retry);
    }
}

TEST_CASE("423 at the cap gives up stepping and retries after back-off", "[policy][423]") {
    Decision d = on_response(423, false, kNone, kNone, kMaxSteppedExpiresS, 0);
    CHECK(d.action == Action::retry);
    CHECK(d.delay_ms == 0);
    d = on_response(423, false, 30, kNone, kMaxSteppedExpiresS, 0);
    CHECK(d.action == Action::retry);
    CHECK(d.delay_ms == 30'000);
    // Already above the cap, a Min-Expires that does not help, or Expires 0
    // (which doubling cannot grow): no loop of 423s.
    CHECK(on_response(423, false, kNone, kNone, kMaxSteppedExpiresS + 1, 0).action == Action::retry);
    CHECK(on_response(423, true, kNone, kMaxSteppedExpiresS, kMaxSteppedExpiresS, 0).action == Action::retry);
    CHECK(on_response(423, false, kNone, kNone, 0, 0).action == Action::retry);
    CHECK(on_response(423, false, kNone, kNone, std::numeric_limits<uint32_t>::max(), 0).action == Action::retry);
}

// --- 489 and the refresh table (RFC 6665 §4.1.2.2) ------------------------------------------------------------

TEST_CASE("489 parks as unsupported, initial or refresh", "[policy][response]") {
    for (bool refresh : {false, true}) {
        const Decision d = on_response(489, refresh, 60, kNone, 3600, 0);
        CHECK(d.action == Action::park_unsupported);
        CHECK(d.why == "489: no such event package");
    }
}

TEST_CASE("a refresh answered 481 or another terminating code resubscribes, spread", "[policy][response]") {
    for (int code : {481, 404, 405, 410, 416, 480, 482, 483, 484, 485, 501, 604}) {
        INFO(code);
        const Decision d = refreshed(code, kNone, 7'777);
        CHECK(d.action == Action::resubscribe);
        CHECK(d.delay_ms == 7'777 % kResubscribeSpreadMs);
        CHECK(d.why == std::to_string(code) + " on refresh");
        for (uint64_t r : randoms(200)) CHECK(refreshed(code, kNone, r).delay_ms < kResubscribeSpreadMs);
    }
    // Retry-After (RFC 3261 §20.33) is still a minimum.
    CHECK(refreshed(480, 60, 7'777).delay_ms == 60'000);
}

TEST_CASE("a refresh answered with any other failure keeps the dialog", "[policy][response]") {
    for (int code : {300, 302, 380, 400, 403, 406, 408, 413, 420, 486, 487, 488,
                     491, 499, 500, 502, 503, 504, 580, 600, 603, 606, 699}) {
        INFO(code);
        Decision d = refreshed(code);
        CHECK(d.action == Action::keep_dialog);
        CHECK(d.delay_ms == 0);
        CHECK(d.why.find(std::to_string(code)) == 0);
        d = refreshed(code, 20);
        CHECK(d.action == Action::keep_dialog);
        CHECK(d.delay_ms == 20'000);
    }
}

// --- the initial SUBSCRIBE table (RFC 3261 §21; rfc-checklist 7.8, 7.12) ---------------------------------------

TEST_CASE("an initial SUBSCRIBE refused with 403, 600, 603 or 606 parks as rejected", "[policy][response]") {
    for (int code : {403, 600, 603, 606}) {
        INFO(code);
        const Decision d = initial(code, 60);
        CHECK(d.action == Action::park_rejected);
        CHECK(d.delay_ms == 0);
        CHECK(d.why == std::to_string(code) + ": rejected");
    }
}

TEST_CASE("an initial SUBSCRIBE answered 404, 604, 410 or 484 parks as no such user", "[policy][response]") {
    for (int code : {404, 604, 410, 484}) {
        INFO(code);
        const Decision d = initial(code, 60);
        CHECK(d.action == Action::park_no_such_user);
        CHECK(d.delay_ms == 0);
        CHECK(d.why == std::to_string(code) + ": no such user");
    }
}

TEST_CASE("an initial SUBSCRIBE answered with any other 3xx-6xx retries, honouring Retry-After", "[policy][response]") {
    for (int code : {300, 301, 302, 305, 380, 399, 400, 402, 405, 406, 408, 413, 415, 416, 420, 480, 481, 482, 483,
                     485, 486, 487, 488, 491, 494, 499, 500, 501, 502, 503, 504, 513, 580, 599, 607, 608, 699}) {
        INFO(code);
        Decision d = initial(code);
        CHECK(d.action == Action::retry);
        CHECK(d.delay_ms == 0);
        CHECK(d.why == std::to_string(code) + ": retry");
        d = initial(code, 300);
        CHECK(d.action == Action::retry);
        CHECK(d.delay_ms == 300'000);
    }
}

TEST_CASE("no final response: a refresh keeps the dialog, an initial SUBSCRIBE retries", "[policy][response]") {
    for (bool timeout : {true, false}) {
        INFO("timeout " << timeout);
        Decision d = on_no_response(true, timeout);
        CHECK(d.action == Action::keep_dialog);
        CHECK(d.delay_ms == 0);
        CHECK(d.why.find(timeout ? "408" : "503") != std::string::npos);
        d = on_no_response(false, timeout);
        CHECK(d.action == Action::retry);
        CHECK(d.delay_ms == 0);
        CHECK(d.why.find(timeout ? "408" : "503") != std::string::npos);
    }
}

// --- refresh margin (rfc-checklist 9.6) ------------------------------------------------------------------------

TEST_CASE("refresh of a 3600 s subscription comes 360 s +/- 5% before expiry", "[policy][refresh]") {
    // margin 360 s, jitter +/- 18 s: random 0 is the smallest margin, 2 * 18 s the largest.
    CHECK(refresh_delay_ms(3600, 0) == 3'258'000);
    CHECK(refresh_delay_ms(3600, 18'000) == 3'240'000);
    CHECK(refresh_delay_ms(3600, 36'000) == 3'222'000);
    CHECK(refresh_delay_ms(3600, 36'001) == 3'258'000);  // wraps around the jitter range
    for (uint64_t r : randoms(2'000)) {
        const uint64_t d = refresh_delay_ms(3600, r);
        CHECK(d >= 3'222'000);
        CHECK(d <= 3'258'000);
    }
}

TEST_CASE("refresh of a 120 s subscription keeps the 37 s floor", "[policy][refresh]") {
    // 10% would be 12 s, less than Timer F: margin 37 s, jitter +/- 1.85 s.
    CHECK(refresh_delay_ms(120, 0) == 84'850);
    CHECK(refresh_delay_ms(120, 1'850) == 83'000);
    CHECK(refresh_delay_ms(120, 3'700) == 81'150);
    for (uint64_t r : randoms(2'000)) {
        const uint64_t d = refresh_delay_ms(120, r);
        CHECK(d >= 81'150);
        CHECK(d <= 84'850);
    }
}

TEST_CASE("refresh of a 60 s subscription comes at half of it", "[policy][refresh]") {
    // 37 s would be more than half: margin 30 s, jitter +/- 1.5 s.
    CHECK(refresh_delay_ms(60, 0) == 31'500);
    CHECK(refresh_delay_ms(60, 1'500) == 30'000);
    CHECK(refresh_delay_ms(60, 3'000) == 28'500);
    for (uint64_t r : randoms(2'000)) {
        const uint64_t d = refresh_delay_ms(60, r);
        CHECK(d >= 28'500);
        CHECK(d <= 31'500);
    }
}

TEST_CASE("refresh delay edge cases stay inside the expiry", "[policy][refresh]") {
    CHECK(refresh_delay_ms(0, 0) == 0);
    CHECK(refresh_delay_ms(0, kMaxU64) == 0);
    for (uint32_t expires : {1u, 2u, 37u, 74u, 370u, 86'400u, std::numeric_limits<uint32_t>::max()})
        for (uint64_t r : randoms(200)) {
            INFO(expires << " " << r);
            const uint64_t d = refresh_delay_ms(expires, r);
            CHECK(d > 0);
            CHECK(d < uint64_t{expires} * 1'000);
            CHECK(d >= uint64_t{expires} * 1'000 / 2 * 95 / 100);  // never earlier than half minus the jitter
        }
}

// --- back-off with full jitter ----------------------------------------------------------------------------------

TEST_CASE("back-off doubles its ceiling per attempt between floor and cap", "[policy][backoff]") {
    const Backoff b;  // 10 s .. 900 s
    CHECK(backoff_delay(b, 1, 0) == 10'000);
    CHECK(backoff_delay(b, 1, kMaxU64) == 10'000);
    CHECK(backoff_delay(b, 2, 10'000) == 20'000);  // the ceiling is reachable
    CHECK(backoff_delay(b, 3, 30'000) == 40'000);
    CHECK(backoff_delay(b, 3, 30'001) == 10'000);
    CHECK(backoff_delay(b, 8, 890'000) == 900'000);  // 1280 s capped at 900 s
    for (int attempt = 1; attempt <= 70; ++attempt) {
        const uint64_t ceiling = attempt >= 8 ? 900'000 : 10'000ULL << (attempt - 1);
        for (uint64_t r : randoms(300)) {
            INFO(attempt << " " << r);
            const uint64_t d = backoff_delay(b, attempt, r);
            CHECK(d >= 10'000);
            CHECK(d <= ceiling);
        }
    }
}

TEST_CASE("back-off treats attempts below 1 as the first and survives huge ones", "[policy][backoff]") {
    const Backoff b{5'000, 600'000};
    for (int attempt : {0, -1, INT_MIN})
        for (uint64_t r : randoms(100)) CHECK(backoff_delay(b, attempt, r) == 5'000);
    for (int attempt : {64, 65, 1'000, INT_MAX})
        for (uint64_t r : randoms(300)) {
            const uint64_t d = backoff_delay(b, attempt, r);
            CHECK(d >= 5'000);
            CHECK(d <= 600'000);
        }
    CHECK(backoff_delay(b, INT_MAX, 595'000) == 600'000);
}

TEST_CASE("back-off doubling never overflows, whatever the settings", "[policy][backoff]") {
    const Backoff wide{1, kMaxU64};
    for (int attempt : {1, 63, 64, 65, 200, INT_MAX})
        for (uint64_t r : randoms(100)) CHECK(backoff_delay(wide, attempt, r) >= 1);
    CHECK(backoff_delay(wide, 64, (uint64_t{1} << 63) - 1) == uint64_t{1} << 63);  // the ceiling did reach 2^63
    const Backoff huge_floor{kMaxU64 - 1, kMaxU64};
    for (uint64_t r : randoms(100)) CHECK(backoff_delay(huge_floor, INT_MAX, r) >= kMaxU64 - 1);
    // A floor of 0 never grows (0 * 2^n), a floor above the cap yields the cap.
    for (uint64_t r : randoms(100)) {
        CHECK(backoff_delay(Backoff{0, 900'000}, 30, r) == 0);
        CHECK(backoff_delay(Backoff{10'000, 5'000}, 5, r) == 5'000);
        CHECK(backoff_delay(Backoff{7'000, 7'000}, 9, r) == 7'000);
    }
}
