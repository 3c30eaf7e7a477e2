// The presence service on the virtual clock with a scripted server: what is
// subscribed for each policy, what a reload changes (and what it leaves
// alone), forced subscribes, on-demand watchers with their linger, bodies
// into the model and the change events (presenced(8) SUBSCRIPTIONS).
#include <catch2/catch.hpp>

#include <algorithm>

#include "service_harness.hpp"

using namespace presenced::test;

TEST_CASE("policy all: every user's rich and telephony URIs are subscribed, bodies give the shown state", "[service]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", user_toml("alice") + user_toml("bob")));
    REQUIRE(h.sent.size() == 4);
    CHECK(h.count("sip:alice@example.com") == 1);
    CHECK(h.count("sip:alice-line@example.com") == 1);
    h.serve(kAway, kConfirmed);
    auto v = h.service.user_view("alice");
    REQUIRE(v);
    CHECK(v->rich.state == "away");
    CHECK(v->rich.message == "Gone home");
    CHECK(v->rich.source == "pbx");
    CHECK_FALSE(v->rich.stale);
    CHECK(v->telephony.state == "busy");  // confirmed, not on hold
    CHECK(v->telephony.dialogs.size() == 1);
    CHECK(h.service.subscription_counts("pbx").at("active") == 4);
}

TEST_CASE("reload applies the difference: added, removed and changed users only", "[service]") {
    Harness h;
    std::string unchanged;
    for (int i = 0; i < 50; ++i) unchanged += user_toml("u" + std::to_string(i));
    h.apply(load("subscribe = \"all\"", unchanged + user_toml("gone") + user_toml("moved")));
    // 104 subscriptions at subscribe_rate 50 (burst 50): the pacer lets them out over ~1 s.
    for (int i = 0; i < 5; ++i) {
        h.serve();
        h.clock.advance(1'000);
    }
    const size_t before = h.sent.size();
    REQUIRE(before == 104);
    h.apply(
        load("subscribe = \"all\"", unchanged + user_toml("moved", "sip:moved-new@example.com") + user_toml("new")));
    h.clock.advance(0);
    // gone: rich and telephony unsubscribed; moved: the old rich URI
    // unsubscribed and the new one subscribed; new: two; nothing else.
    CHECK(h.count("sip:gone@example.com", "0") == 1);
    CHECK(h.count("sip:gone-line@example.com", "0") == 1);
    CHECK(h.count("sip:moved@example.com", "0") == 1);
    CHECK(h.count("sip:moved-new@example.com") == 1);
    CHECK(h.count("sip:moved-line@example.com") == 1);  // its telephony URI did not change: untouched
    CHECK(h.count("sip:new@example.com") == 1);
    CHECK(h.count("sip:new-line@example.com") == 1);
    CHECK(h.sent.size() - before == 6);
    CHECK(h.forgotten == std::vector<std::string>{"gone"});  // its cached rows are dropped
    h.serve();
    CHECK(h.service.subscription_counts("pbx").at("active") == 104);
}

TEST_CASE("on_demand: a watch holds the user's subscriptions, released after the linger", "[service]") {
    Harness h;
    h.apply(load("subscribe = \"on_demand\"\non_demand_linger = 30", user_toml("alice") + user_toml("bob")));
    CHECK(h.sent.empty());
    std::vector<presence::Event> seen;
    auto id = h.service.watch({"alice"}, [&](const presence::Event& e) { seen.push_back(e); });
    REQUIRE(id);
    h.clock.advance(0);
    CHECK(h.sent.size() == 2);
    CHECK(h.count("sip:bob@example.com") == 0);
    h.serve(kAway, kConfirmed);
    REQUIRE_FALSE(seen.empty());
    const auto rich = std::find_if(seen.begin(), seen.end(),
                                   [](const presence::Event& e) { return e.kind == "rich" && e.state == "away"; });
    REQUIRE(rich != seen.end());
    CHECK(rich->username == "alice");
    CHECK(rich->previous == "unknown");
    CHECK(rich->source == "pbx");
    CHECK(h.service.user_view("alice")->watchers == 1);
    h.service.unwatch(*id);
    h.clock.advance(29'000);
    CHECK(h.sent.size() == 2);  // still lingering
    h.clock.advance(1'000);
    CHECK(h.count("sip:alice@example.com", "0") == 1);
    CHECK(h.count("sip:alice-line@example.com", "0") == 1);
    h.serve();
    CHECK(h.subscription("alice") == "none");
}

TEST_CASE("watch of an unknown user is not_found and registers nothing", "[service]") {
    Harness h;
    h.apply(load("subscribe = \"on_demand\"", user_toml("alice")));
    auto r = h.service.watch({"alice", "nobody"}, [](const presence::Event&) {});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "not_found");
    h.clock.advance(0);
    CHECK(h.sent.empty());
}

TEST_CASE("forced subscribe: started for N seconds, then removed unless something holds it", "[service]") {
    Harness h;
    h.apply(load("subscribe = \"on_demand\"", user_toml("alice")));
    auto report = h.service.force_subscribe("alice", 5);
    REQUIRE(report);
    REQUIRE(report->results.size() == 2);
    for (const auto& r : report->results) {
        CHECK(r.action == "started");
        CHECK(r.connector == "pbx");
    }
    h.clock.advance(0);
    h.serve(kAway);
    CHECK(h.service.user_view("alice")->forced);
    CHECK(h.service.user_view("alice")->forced_remaining_s == 5);
    // A second forced subscribe reports the existing ones and extends nothing.
    auto again = h.service.force_subscribe("alice", 60);
    REQUIRE(again);
    CHECK(again->results.at(0).action == "existing");
    CHECK(again->results.at(0).subscription == "active");
    h.clock.advance(5'000);
    CHECK(h.count("sip:alice@example.com", "0") == 1);
    h.serve();
    CHECK(h.subscription("alice") == "none");
    CHECK_FALSE(h.service.user_view("alice")->forced);
    CHECK_FALSE(h.service.force_subscribe("nobody", 5));
}

TEST_CASE("forced subscribe restarts a parked subscription under policy all and keeps it", "[service]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", user_toml("alice")));
    REQUIRE(h.sent.size() == 2);
    // The server refuses the rich subscription: 403 parks it.
    const auto& s = h.sent[0].spec;
    const std::string head = "SIP/2.0 403 Forbidden\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\nFrom: <" +
                             s.from_uri + ">;tag=" + s.from_tag + "\r\nTo: <" + s.to_uri +
                             ">;tag=srv\r\nCall-ID: " + s.call_id +
                             "\r\nCSeq: 1 SUBSCRIBE\r\nContent-Length: 0\r\n\r\n";
    auto response = sip::Message::parse(head);
    REQUIRE(response);
    h.sent[0].answered = true;
    auto done = h.sent[0].done;
    done(sip::ClientOutcome::response, &*response);
    const bool rich_first = h.sent[0].header("Event") == "presence";
    CHECK(h.subscription("alice", rich_first) == "rejected");
    auto report = h.service.force_subscribe("alice", 5);
    REQUIRE(report);
    const auto& row = report->results.at(rich_first ? 0 : 1);
    CHECK(row.action == "started");
    h.clock.advance(0);
    CHECK(h.sent.size() == 3);
    h.serve(kAway, kConfirmed);
    h.clock.advance(10'000);
    CHECK(h.subscription("alice", rich_first) == "active");  // policy all holds it after the 5 s
}

TEST_CASE("a bad body keeps the state and marks the source", "[service]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", user_toml("alice")));
    h.serve(kAway, kConfirmed);
    const auto& rich = h.sent[0].header("Event") == "presence" ? h.sent[0].spec : h.sent[1].spec;
    auto a = h.notify(rich, "active;expires=600", "presence", "<presence", "application/pidf+xml");
    REQUIRE(a);
    CHECK(a->code == 200);  // answered before the body is read
    auto v = h.service.user_view("alice");
    CHECK(v->rich.state == "away");
    CHECK_FALSE(v->rich.sources.at(0).body_error.empty());
}

TEST_CASE("shutdown unsubscribes every subscription and then reports done", "[service]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", user_toml("alice")));
    h.serve();
    bool done = false;
    h.service.shutdown([&] { done = true; });
    h.clock.advance(0);
    CHECK(h.count("sip:alice@example.com", "0") == 1);
    CHECK(h.count("sip:alice-line@example.com", "0") == 1);
    h.serve();
    h.clock.advance(0);
    CHECK(done);
}

TEST_CASE("warm start: cached states are shown stale and restoring until a NOTIFY confirms them", "[service][store]") {
    Harness h;
    h.apply(load("subscribe = \"all\"\ncache_horizon = 3600", user_toml("alice") + user_toml("bob")));
    const std::time_t now = 1'800'000'000;
    h.service.restore(
        {{"alice", "rich", "pbx", "away", "Gone home", "application/pidf+xml\n" + kAway, now - 60, 200, "OK"},
         {"bob", "rich", "pbx", "busy", "", "", now - 7200, 200, "OK"},
         {"carol", "rich", "pbx", "busy", "", "", now - 10, 200, "OK"}},  // not a user: ignored
        now);
    auto alice = h.service.user_view("alice");
    REQUIRE(alice);
    CHECK(alice->rich.state == "away");
    CHECK(alice->rich.stale);
    CHECK(alice->rich.message == "Gone home");
    CHECK(alice->rich.entries.empty());  // not parsed again at start: they come with the first NOTIFY
    CHECK(alice->rich.sources.at(0).subscription == "restoring");
    CHECK(alice->rich.sources.at(0).restored);
    // Older than cache_horizon: unknown, the old value kept as cached_state.
    auto bob = h.service.user_view("bob");
    CHECK(bob->rich.state == "unknown");
    CHECK(bob->rich.sources.at(0).cached_state == "busy");
    // The server answers and NOTIFYs a body: fresh again.
    h.serve(kAway, kConfirmed);
    alice = h.service.user_view("alice");
    CHECK(alice->rich.state == "away");
    CHECK_FALSE(alice->rich.stale);
    CHECK(alice->rich.sources.at(0).subscription == "active");
    CHECK_FALSE(alice->rich.sources.at(0).restored);
    // Each body applied goes to the state cache with its document.
    const auto row = std::find_if(h.persisted.begin(), h.persisted.end(), [](const presence::CachedSource& c) {
        return c.username == "alice" && c.kind == "rich";
    });
    REQUIRE(row != h.persisted.end());
    CHECK(row->state == "away");
    CHECK(row->detail.rfind("application/pidf+xml\n", 0) == 0);
    CHECK(row->last_code == 200);
}

TEST_CASE("notes belong to known users", "[service][store]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", user_toml("alice")));
    CHECK(h.service.set_note("alice", "On leave"));
    CHECK(h.service.user_view("alice")->note == "On leave");
    CHECK(h.service.set_note("alice", ""));
    CHECK(h.service.user_view("alice")->note.empty());
    auto r = h.service.set_note("nobody", "x");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "not_found");
}
