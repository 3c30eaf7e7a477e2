// SUBSCRIBE pacing (subscription/pacer) on the virtual clock: the token
// bucket's rate and burst, the in-flight cap, refresh-before-fresh order,
// cancel, and the re-entrancy and lifetime rules of go callbacks and slots.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ev/clock.hpp"
#include "subscription/pacer.hpp"

using namespace presenced;
using subscription::Pacer;
using subscription::PacerSettings;
using subscription::Slot;

namespace {

constexpr auto kFresh = Pacer::Class::fresh;
constexpr auto kRefresh = Pacer::Class::refresh;

// Go callbacks that append a label to a log and drop the slot at once.
struct Log {
    std::vector<std::string> order;
    Pacer::Go go(std::string label) {
        return [this, label = std::move(label)](Slot) { order.push_back(label); };
    }
};

// Go callbacks that keep their slot until the test releases it.
struct Holder {
    std::vector<std::string> order;
    std::vector<Slot> slots;
    Pacer::Go go(std::string label) {
        return [this, label = std::move(label)](Slot slot) {
            order.push_back(label);
            slots.push_back(std::move(slot));
        };
    }
    void release_first() {
        slots.front().release();
        slots.erase(slots.begin());
    }
};

}  // namespace

TEST_CASE("10,000 new subscriptions go at the bucket's rate, never above burst + rate * t", "[pacer]") {
    ev::VirtualClock clock;
    const uint64_t t0 = clock.now_ms();
    Pacer pacer(clock, PacerSettings{50, 50, 100'000});
    constexpr uint64_t kCount = 10'000;
    std::vector<uint64_t> started;  // ms since t0
    bool in_submit = false;
    bool went_inside_submit = false;
    for (uint64_t i = 0; i < kCount; ++i) {
        in_submit = true;
        pacer.submit(kFresh, [&](Slot) {
            went_inside_submit = went_inside_submit || in_submit;
            started.push_back(clock.now_ms() - t0);
        });
        in_submit = false;
    }
    CHECK(started.empty());
    CHECK(pacer.queued() == kCount);

    // Check the bound every 10 ms of virtual time: started(t) <= 50 + 50 * t,
    // and the pacer is not slower than that either (within one token, and
    // once the per-turn cap is counted).
    clock.advance(0);
    for (uint64_t t = 0; t <= 210'000; t += 10) {
        if (t > 0) clock.advance(10);
        const uint64_t allowed = 50 + t * 50 / 1'000;
        INFO("t = " << t << " ms");
        REQUIRE(started.size() <= allowed);
        // A burst leaves 16 per loop turn, 1 ms apart (kMaxStartsPerRun).
        REQUIRE(started.size() + 1 >= std::min({kCount, allowed, 16 * (t + 1)}));
    }
    CHECK_FALSE(went_inside_submit);
    REQUIRE(started.size() == kCount);
    CHECK(pacer.started_fresh() == kCount);
    CHECK(pacer.queued() == 0);
    CHECK(pacer.in_flight() == 0);
    // (10,000 - 50) / 50 per second = 199 s.
    CHECK(started.back() >= 199'000);
    CHECK(started.back() <= 199'020);
    // Any window, not only from t0: 51 + k starts span at least 20 ms * (k + 1).
    for (size_t i = 0; i < started.size(); ++i)
        for (size_t k : {size_t{0}, size_t{1}, size_t{10}, size_t{100}, size_t{1'000}})
            if (i + 50 + k < started.size()) REQUIRE(started[i + 50 + k] - started[i] >= 20 * (k + 1));
}

TEST_CASE("the bucket refills while idle, but only up to burst", "[pacer]") {
    ev::VirtualClock clock;
    Pacer pacer(clock, PacerSettings{10, 5, 100});
    Log log;
    clock.advance(60'000);
    for (int i = 0; i < 20; ++i) pacer.submit(kFresh, log.go(std::to_string(i)));
    clock.advance(0);
    CHECK(log.order.size() == 5);
    clock.advance(99);
    CHECK(log.order.size() == 5);
    clock.advance(1);
    CHECK(log.order.size() == 6);
    CHECK(pacer.queued() == 14);
}

TEST_CASE("the in-flight cap holds while transactions take time", "[pacer]") {
    ev::VirtualClock clock;
    const uint64_t t0 = clock.now_ms();
    Pacer pacer(clock, PacerSettings{1'000, 1'000, 8});
    constexpr uint64_t kTransactionMs = 300;
    int outstanding = 0;
    int most = 0;
    int done = 0;
    uint64_t last_start = 0;
    for (int i = 0; i < 100; ++i)
        pacer.submit(i % 3 == 0 ? kRefresh : kFresh, [&](Slot slot) {
            ++outstanding;
            most = std::max(most, outstanding);
            last_start = clock.now_ms() - t0;
            // A simulated transaction: the response comes later and frees the slot.
            auto held = std::make_shared<Slot>(std::move(slot));
            clock.start(kTransactionMs, [&, held] {
                --outstanding;
                ++done;
                held->release();
            });
        });
    for (int step = 0; step < 200; ++step) {
        clock.advance(step == 0 ? 0 : 25);
        REQUIRE(pacer.in_flight() <= 8);
        REQUIRE(static_cast<int>(pacer.in_flight()) == outstanding);
    }
    CHECK(most == 8);
    CHECK(done == 100);
    CHECK(pacer.in_flight() == 0);
    CHECK(pacer.queued() == 0);
    // 100 in rounds of 8: the 13th round starts after 12 transactions.
    CHECK(last_start == 12 * kTransactionMs);
}

TEST_CASE("a slot released inside its callback starts the next one from a timer, not from release()", "[pacer]") {
    ev::VirtualClock clock;
    Pacer pacer(clock, PacerSettings{1'000, 1'000, 1});
    bool in_release = false;
    bool went_inside_release = false;
    int started = 0;
    for (int i = 0; i < 3; ++i)
        pacer.submit(kFresh, [&](Slot slot) {
            went_inside_release = went_inside_release || in_release;
            ++started;
            CHECK(slot);
            CHECK(pacer.in_flight() == 1);
            in_release = true;
            slot.release();
            in_release = false;
            CHECK_FALSE(slot);
            CHECK(pacer.in_flight() == 0);
            slot.release();  // twice is harmless
            CHECK(pacer.in_flight() == 0);
        });
    clock.advance(0);
    CHECK(started == 3);
    CHECK_FALSE(went_inside_release);
}

TEST_CASE("slots move, and a move-assignment releases the slot it replaces", "[pacer]") {
    ev::VirtualClock clock;
    Pacer pacer(clock, PacerSettings{1'000, 1'000, 8});
    Holder holder;
    for (int i = 0; i < 2; ++i) pacer.submit(kRefresh, holder.go("r"));
    clock.advance(0);
    REQUIRE(holder.slots.size() == 2);
    CHECK(pacer.in_flight() == 2);
    CHECK_FALSE(Slot{});
    Slot moved(std::move(holder.slots[0]));
    CHECK(moved);
    CHECK_FALSE(holder.slots[0]);  // NOLINT(bugprone-use-after-move): the point of the test
    CHECK(pacer.in_flight() == 2);
    moved = std::move(holder.slots[1]);
    CHECK(pacer.in_flight() == 1);
    CHECK(moved);
    moved = Slot{};
    CHECK(pacer.in_flight() == 0);
}

TEST_CASE("refreshes go before queued new subscriptions and take no token", "[pacer]") {
    ev::VirtualClock clock;
    SECTION("with one token") {
        Pacer pacer(clock, PacerSettings{1, 1, 64});
        Log log;
        pacer.submit(kFresh, log.go("A"));
        pacer.submit(kFresh, log.go("B"));
        pacer.submit(kRefresh, log.go("R1"));
        pacer.submit(kRefresh, log.go("R2"));
        pacer.submit(kFresh, log.go("C"));
        pacer.submit(kRefresh, log.go("R3"));
        clock.advance(0);
        CHECK(log.order == std::vector<std::string>{"R1", "R2", "R3", "A"});
        CHECK(pacer.started_fresh() == 1);
        clock.advance(999);
        CHECK(log.order.size() == 4);
        clock.advance(1);
        CHECK(log.order.back() == "B");
        clock.advance(1'000);
        CHECK(log.order.back() == "C");
        CHECK(pacer.started_fresh() == 3);
    }
    SECTION("refreshes do not drain the bucket") {
        Pacer pacer(clock, PacerSettings{1, 1, 64});
        Log log;
        for (int i = 0; i < 10; ++i) pacer.submit(kRefresh, log.go("R"));
        clock.advance(0);
        CHECK(log.order.size() == 10);
        CHECK(pacer.started_fresh() == 0);
        pacer.submit(kFresh, log.go("F"));
        clock.advance(0);
        CHECK(log.order.back() == "F");
    }
    SECTION("when a slot frees up, a refresh queued later still goes first") {
        Pacer pacer(clock, PacerSettings{1'000, 1'000, 1});
        Holder holder;
        pacer.submit(kFresh, holder.go("F1"));
        clock.advance(0);
        pacer.submit(kFresh, holder.go("F2"));
        pacer.submit(kRefresh, holder.go("R1"));
        pacer.submit(kFresh, holder.go("F3"));
        pacer.submit(kRefresh, holder.go("R2"));
        clock.advance(1'000);
        CHECK(holder.order == std::vector<std::string>{"F1"});  // the cap holds refreshes too
        for (int i = 0; i < 4; ++i) {
            holder.release_first();
            clock.advance(0);
        }
        CHECK(holder.order == std::vector<std::string>{"F1", "R1", "R2", "F2", "F3"});
    }
}

TEST_CASE("cancel forgets a queued request and nothing else", "[pacer]") {
    ev::VirtualClock clock;
    Pacer pacer(clock, PacerSettings{1'000, 1'000, 64});
    Log log;
    const auto a = pacer.submit(kFresh, log.go("A"));
    const auto b = pacer.submit(kFresh, log.go("B"));
    const auto c = pacer.submit(kFresh, log.go("C"));
    const auto r = pacer.submit(kRefresh, log.go("R"));
    CHECK(a != 0);
    CHECK(a != b);
    pacer.cancel(b);
    pacer.cancel(r);
    CHECK(pacer.queued() == 2);
    pacer.cancel(b);          // twice
    pacer.cancel(0);          // never valid
    pacer.cancel(c + 1'000);  // never issued
    CHECK(pacer.queued() == 2);
    clock.advance(0);
    CHECK(log.order == std::vector<std::string>{"A", "C"});
    pacer.cancel(a);  // already ran: harmless
    CHECK(pacer.queued() == 0);
    CHECK(pacer.started_fresh() == 2);

    SECTION("cancelling everything leaves no timer behind") {
        Pacer slow(clock, PacerSettings{1, 1, 64});
        std::vector<Pacer::Ticket> tickets;
        tickets.reserve(5);
        for (int i = 0; i < 5; ++i) tickets.push_back(slow.submit(kFresh, log.go("X")));
        for (auto t : tickets) slow.cancel(t);
        CHECK(slow.queued() == 0);
        CHECK(clock.pending() == 0);
        clock.advance(10'000);
        CHECK(log.order.size() == 2);
    }
    SECTION("a go callback may cancel a request due in the same round") {
        Pacer pacer2(clock, PacerSettings{1'000, 1'000, 64});
        Pacer::Ticket victim = 0;
        pacer2.submit(kFresh, [&](Slot) { pacer2.cancel(victim); });
        victim = pacer2.submit(kFresh, log.go("victim"));
        pacer2.submit(kFresh, log.go("survivor"));
        clock.advance(0);
        CHECK(log.order == std::vector<std::string>{"A", "C", "survivor"});
    }
}

TEST_CASE("100,000 queued requests: cancel in any order is cheap and exact", "[pacer]") {
    ev::VirtualClock clock;
    Pacer pacer(clock, PacerSettings{50, 50, 64});
    constexpr uint64_t kCount = 100'000;
    std::vector<Pacer::Ticket> tickets;
    std::vector<uint64_t> ran;
    tickets.reserve(kCount);
    for (uint64_t i = 0; i < kCount; ++i)
        tickets.push_back(pacer.submit(kFresh, [&ran, i](Slot) { ran.push_back(i); }));
    CHECK(pacer.queued() == kCount);

    SECTION("every odd one, from the middle outwards, then the rest run in order") {
        for (uint64_t d = 0; d < kCount / 2; ++d) {
            for (uint64_t i : {kCount / 2 + d, kCount / 2 - 1 - d})
                if (i % 2 == 1) pacer.cancel(tickets[i]);
        }
        CHECK(pacer.queued() == kCount / 2);
        clock.advance(0);
        clock.advance(10'000);
        REQUIRE(ran.size() == 50 + 500);
        for (size_t k = 0; k < ran.size(); ++k) REQUIRE(ran[k] == 2 * k);
        CHECK(pacer.queued() == kCount / 2 - ran.size());
    }
    SECTION("all of them, last first") {
        for (auto it = tickets.rbegin(); it != tickets.rend(); ++it) pacer.cancel(*it);
        CHECK(pacer.queued() == 0);
        CHECK(clock.pending() == 0);
        clock.advance(60'000);
        CHECK(ran.empty());
    }
}

TEST_CASE("go is never called inside submit, even from inside another go", "[pacer]") {
    ev::VirtualClock clock;
    Pacer pacer(clock, PacerSettings{1'000, 1'000, 64});
    bool in_submit = false;
    bool went_inside_submit = false;
    int started = 0;
    Pacer::Go nested = [&](Slot) {
        went_inside_submit = went_inside_submit || in_submit;
        ++started;
    };
    in_submit = true;
    pacer.submit(kRefresh, [&](Slot) {
        ++started;
        in_submit = true;
        pacer.submit(kFresh, nested);
        pacer.submit(kRefresh, nested);
        in_submit = false;
    });
    pacer.submit(kFresh, nested);
    in_submit = false;
    CHECK(started == 0);  // a full bucket and free slots, still nothing inside submit()
    clock.advance(0);
    CHECK(started == 4);
    CHECK_FALSE(went_inside_submit);
}

TEST_CASE("a slot or a timer outliving the pacer is harmless", "[pacer]") {
    ev::VirtualClock clock;
    auto pacer = std::make_unique<Pacer>(clock, PacerSettings{1, 1, 64});
    Holder holder;
    pacer->submit(kFresh, holder.go("first"));
    clock.advance(0);
    pacer->submit(kFresh, holder.go("never"));  // waits for a token: a timer is armed
    REQUIRE(holder.slots.size() == 1);
    CHECK(holder.slots[0]);
    pacer.reset();
    CHECK(clock.pending() == 0);
    CHECK_FALSE(holder.slots[0]);
    holder.slots[0].release();
    clock.advance(10'000);
    CHECK(holder.order == std::vector<std::string>{"first"});
    holder.slots.clear();
}

TEST_CASE("a go callback may destroy the pacer", "[pacer]") {
    ev::VirtualClock clock;
    auto pacer = std::make_unique<Pacer>(clock, PacerSettings{1'000, 1'000, 64});
    Log log;
    pacer->submit(kFresh, [&](Slot) { pacer.reset(); });
    pacer->submit(kFresh, log.go("after"));
    clock.advance(0);
    clock.advance(1'000);
    CHECK(pacer == nullptr);
    CHECK(log.order.empty());
    CHECK(clock.pending() == 0);
}

TEST_CASE("set_settings changes the rate, the burst and the cap from now on", "[pacer]") {
    ev::VirtualClock clock;
    Pacer pacer(clock, PacerSettings{10, 1, 1'000});
    Log log;
    for (int i = 0; i < 5'000; ++i) pacer.submit(kFresh, log.go("x"));
    clock.advance(0);
    CHECK(log.order.size() == 1);
    clock.advance(10'000);
    CHECK(log.order.size() == 1 + 100);  // 10/s
    pacer.set_settings(PacerSettings{100, 1, 1'000});
    CHECK(pacer.settings().rate_per_s == 100);
    clock.advance(10'000);
    CHECK(log.order.size() >= 1 + 100 + 999);  // 100/s
    CHECK(log.order.size() <= 1 + 100 + 1'001);
    pacer.set_settings(PacerSettings{0, 1, 1'000});  // a stopped bucket starts nothing and arms nothing
    const size_t before = log.order.size();
    clock.advance(60'000);
    CHECK(log.order.size() <= before + 1);
    CHECK(clock.pending() == 0);

    SECTION("a smaller burst drops the tokens above it") {
        Pacer big(clock, PacerSettings{1, 100, 1'000});
        Log small;
        big.set_settings(PacerSettings{1, 3, 1'000});
        for (int i = 0; i < 10; ++i) big.submit(kFresh, small.go("y"));
        clock.advance(0);
        CHECK(small.order.size() == 3);
    }
    SECTION("a lower cap holds back new starts; slots already out stay valid") {
        Pacer capped(clock, PacerSettings{1'000, 1'000, 4});
        Holder holder;
        for (int i = 0; i < 10; ++i) capped.submit(kRefresh, holder.go("z"));
        clock.advance(0);
        CHECK(capped.in_flight() == 4);
        capped.set_settings(PacerSettings{1'000, 1'000, 2});
        holder.release_first();
        clock.advance(0);
        CHECK(holder.order.size() == 4);  // 3 out, cap 2: nothing starts
        CHECK(capped.in_flight() == 3);
        holder.release_first();
        holder.release_first();
        clock.advance(0);
        CHECK(holder.order.size() == 5);
        CHECK(capped.in_flight() == 2);
    }
}

TEST_CASE("a high rate starts at most 16 per timer callback and yields 1 ms to the loop between", "[pacer]") {
    // kMaxStartsPerRun: 1,000 new subscriptions with pacing set high are not
    // all sent in one loop turn, so the loop reads the answers in between.
    ev::VirtualClock clock;
    const uint64_t t0 = clock.now_ms();
    Pacer pacer(clock, PacerSettings{10'000, 10'000, 10'000});
    std::map<uint64_t, int> per_ms;  // virtual ms -> starts
    for (int i = 0; i < 1'000; ++i) pacer.submit(kFresh, [&](Slot) { ++per_ms[clock.now_ms() - t0]; });
    clock.advance(0);
    CHECK(per_ms.size() == 1);
    CHECK(per_ms[0] == 16);
    clock.advance(100);
    int total = 0;
    for (const auto& [ms, n] : per_ms) {
        CHECK(n <= 16);
        total += n;
    }
    CHECK(total == 1'000);
    CHECK(per_ms.rbegin()->first == (1'000 + 15) / 16 - 1);  // one batch per ms: 63 ms for the last
}
