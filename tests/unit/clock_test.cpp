// The timer queue and both clocks (ev/clock): deadline order, cancellation
// and timers started from inside callbacks, the virtual clock's stepping,
// and the libuv-backed clock on a real loop that closes cleanly.
#include <catch2/catch.hpp>

#include <uv.h>

#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include "ev/clock.hpp"

using namespace presenced::ev;

TEST_CASE("TimerQueue fires in deadline order, ties in start order", "[clock]") {
    TimerQueue q;
    std::vector<std::string> fired;
    CHECK(q.next_due() == std::numeric_limits<uint64_t>::max());
    q.add(30, [&] { fired.push_back("c30"); });
    q.add(10, [&] { fired.push_back("a10"); });
    q.add(20, [&] { fired.push_back("b20-first"); });
    q.add(20, [&] { fired.push_back("b20-second"); });
    CHECK(q.size() == 4);
    CHECK(q.next_due() == 10);

    CHECK(q.fire_due(9) == 0);
    CHECK(fired.empty());
    CHECK(q.fire_due(20) == 3);
    CHECK(fired == std::vector<std::string>{"a10", "b20-first", "b20-second"});
    CHECK(q.size() == 1);
    CHECK(q.next_due() == 30);
    CHECK(q.fire_due(1000) == 1);
    CHECK(fired.back() == "c30");
    CHECK(q.size() == 0);
    CHECK(q.next_due() == std::numeric_limits<uint64_t>::max());
}

TEST_CASE("TimerQueue ids are never 0 and cancel is harmless on dead ids", "[clock]") {
    TimerQueue q;
    int fired = 0;
    const TimerId a = q.add(5, [&] { ++fired; });
    const TimerId b = q.add(5, [&] { ++fired; });
    CHECK(a != 0);
    CHECK(b != 0);
    CHECK(a != b);
    q.cancel(a);
    q.cancel(a);     // twice
    q.cancel(0);     // never valid
    q.cancel(9999);  // unknown
    CHECK(q.size() == 1);
    CHECK(q.fire_due(5) == 1);
    CHECK(fired == 1);
    q.cancel(b);  // already fired
    CHECK(q.size() == 0);
}

TEST_CASE("TimerQueue: a callback may cancel a timer due at the same moment", "[clock]") {
    TimerQueue q;
    std::vector<int> fired;
    TimerId second = 0;
    q.add(10, [&] {
        fired.push_back(1);
        q.cancel(second);
    });
    second = q.add(10, [&] { fired.push_back(2); });
    q.add(10, [&] { fired.push_back(3); });
    CHECK(q.fire_due(10) == 2);
    CHECK(fired == std::vector<int>{1, 3});
    CHECK(q.size() == 0);
}

TEST_CASE("TimerQueue: a callback may cancel itself (already fired) and later timers", "[clock]") {
    TimerQueue q;
    std::vector<int> fired;
    TimerId self = 0, later = 0;
    self = q.add(1, [&] {
        fired.push_back(1);
        q.cancel(self);   // harmless: it is firing
        q.cancel(later);  // a later one never fires
    });
    later = q.add(50, [&] { fired.push_back(2); });
    CHECK(q.fire_due(100) == 1);
    CHECK(fired == std::vector<int>{1});
}

TEST_CASE("TimerQueue: timers added by callbacks fire in the same pass only if due", "[clock]") {
    TimerQueue q;
    std::vector<std::string> fired;
    q.add(10, [&] {
        fired.push_back("outer");
        q.add(10, [&] { fired.push_back("due-now"); });
        q.add(5, [&] { fired.push_back("overdue"); });
        q.add(11, [&] { fired.push_back("later"); });
    });
    CHECK(q.fire_due(10) == 3);
    CHECK(fired == std::vector<std::string>{"outer", "overdue", "due-now"});
    CHECK(q.size() == 1);
    CHECK(q.next_due() == 11);
    CHECK(q.fire_due(11) == 1);
    CHECK(fired.back() == "later");
}

TEST_CASE("VirtualClock: time moves only with advance()", "[clock]") {
    VirtualClock clock(5000);
    CHECK(clock.now_ms() == 5000);
    int fired = 0;
    clock.start(100, [&] { ++fired; });
    CHECK(clock.pending() == 1);
    CHECK(clock.now_ms() == 5000);
    clock.advance(99);
    CHECK(fired == 0);
    CHECK(clock.now_ms() == 5099);
    clock.advance(1);
    CHECK(fired == 1);
    CHECK(clock.now_ms() == 5100);
    CHECK(clock.pending() == 0);
}

TEST_CASE("VirtualClock: advance steps through each deadline in turn", "[clock]") {
    VirtualClock clock(0);
    std::vector<std::pair<std::string, uint64_t>> seen;  // name, now_ms inside the callback
    clock.start(30, [&] { seen.emplace_back("30", clock.now_ms()); });
    clock.start(10, [&] {
        seen.emplace_back("10", clock.now_ms());
        // Started from a callback: due relative to the callback's time (10),
        // i.e. at 25, inside this advance().
        clock.start(15, [&] { seen.emplace_back("10+15", clock.now_ms()); });
        // Due after the advance() target: must wait.
        clock.start(100, [&] { seen.emplace_back("10+100", clock.now_ms()); });
    });
    clock.advance(50);
    REQUIRE(seen.size() == 3);
    CHECK(seen[0] == std::pair<std::string, uint64_t>{"10", 10});
    CHECK(seen[1] == std::pair<std::string, uint64_t>{"10+15", 25});
    CHECK(seen[2] == std::pair<std::string, uint64_t>{"30", 30});
    CHECK(clock.now_ms() == 50);
    CHECK(clock.pending() == 1);
    clock.advance(59);
    CHECK(seen.size() == 3);
    clock.advance(1);
    REQUIRE(seen.size() == 4);
    CHECK(seen[3] == std::pair<std::string, uint64_t>{"10+100", 110});
}

TEST_CASE("VirtualClock: zero delays fire on advance(0), a self-rearming timer steps", "[clock]") {
    VirtualClock clock(0);
    int zero = 0;
    clock.start(0, [&] { ++zero; });
    CHECK(zero == 0);  // never synchronously from start()
    clock.advance(0);
    CHECK(zero == 1);

    // A periodic timer that re-arms itself fires once per period.
    std::vector<uint64_t> ticks;
    std::function<void()> tick = [&] {
        ticks.push_back(clock.now_ms());
        if (ticks.size() < 5) clock.start(7, tick);
    };
    clock.start(7, tick);
    clock.advance(1000);
    CHECK(ticks == std::vector<uint64_t>{7, 14, 21, 28, 35});
    CHECK(clock.pending() == 0);
}

TEST_CASE("VirtualClock: cancel from a callback during advance", "[clock]") {
    VirtualClock clock(0);
    int late = 0;
    TimerId victim = clock.start(20, [&] { ++late; });
    clock.start(10, [&] { clock.cancel(victim); });
    clock.advance(100);
    CHECK(late == 0);
    CHECK(clock.pending() == 0);
}

namespace {

// The loop for one test; close() is what the test checks (libuv poisons a
// closed loop in debug builds, so it is closed exactly once).
struct UvLoop {
    uv_loop_t loop{};
    bool closed = false;
    UvLoop() { REQUIRE(uv_loop_init(&loop) == 0); }
    ~UvLoop() {
        if (!closed) uv_loop_close(&loop);
    }
    int close() {
        closed = true;
        return uv_loop_close(&loop);
    }
};

}  // namespace

TEST_CASE("LoopClock fires on a real uv loop and closes cleanly", "[clock][uv]") {
    UvLoop uv;
    std::vector<int> fired;
    {
        LoopClock clock(&uv.loop);
        const uint64_t t0 = clock.now_ms();
        const auto wall0 = std::chrono::steady_clock::now();
        uint64_t fired_at = 0;
        clock.start(30, [&] {
            fired.push_back(30);
            fired_at = clock.now_ms();
        });
        clock.start(10, [&] {
            fired.push_back(10);
            // A timer started from a callback re-arms the uv_timer.
            clock.start(5, [&] { fired.push_back(15); });
        });
        const TimerId cancelled = clock.start(20, [&] { fired.push_back(20); });
        clock.cancel(cancelled);

        // The loop runs until no timer is pending: the uv_timer is stopped
        // when the queue empties, so uv_run returns.
        uv_run(&uv.loop, UV_RUN_DEFAULT);
        const auto waited = std::chrono::steady_clock::now() - wall0;
        CHECK(fired == std::vector<int>{10, 15, 30});
        CHECK(fired_at >= t0 + 30);
        CHECK(waited >= std::chrono::milliseconds(20));  // loop time is cached: allow some slack
        CHECK(waited < std::chrono::seconds(5));

        clock.close();
        uv_run(&uv.loop, UV_RUN_DEFAULT);  // lets the close complete
    }
    CHECK(uv.close() == 0);
}

TEST_CASE("LoopClock: cancelling every timer lets the loop end without firing", "[clock][uv]") {
    UvLoop uv;
    int fired = 0;
    {
        LoopClock clock(&uv.loop);
        const TimerId a = clock.start(10'000, [&] { ++fired; });
        const TimerId b = clock.start(20'000, [&] { ++fired; });
        clock.cancel(a);
        clock.cancel(b);
        const auto wall0 = std::chrono::steady_clock::now();
        uv_run(&uv.loop, UV_RUN_DEFAULT);
        CHECK(std::chrono::steady_clock::now() - wall0 < std::chrono::seconds(5));
        CHECK(fired == 0);
        clock.close();
        clock.close();  // idempotent
        uv_run(&uv.loop, UV_RUN_DEFAULT);
    }
    CHECK(uv.close() == 0);
}

TEST_CASE("LoopClock: timers started after close() never fire", "[clock][uv]") {
    UvLoop uv;
    int fired = 0;
    {
        LoopClock clock(&uv.loop);
        clock.close();
        clock.start(1, [&] { ++fired; });
        uv_run(&uv.loop, UV_RUN_DEFAULT);
        CHECK(fired == 0);
    }
    CHECK(uv.close() == 0);
}
