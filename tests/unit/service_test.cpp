// The presence service on the virtual clock with a scripted server: what is
// subscribed for each policy, what a reload changes (and what it leaves
// alone), forced subscribes, on-demand watchers with their linger, bodies
// into the model and the change events (presenced(8) SUBSCRIPTIONS).
#include <catch2/catch.hpp>

#include <algorithm>

#include "presence/service.hpp"

using namespace presenced;

namespace {

constexpr std::string_view kConnector = R"(
[sip]
listen = "127.0.0.1:0"
[[connector]]
name = "pbx"
server = "127.0.0.1:5070"
uri = "sip:watcher@example.com"
auth_id = "watcher"
password = "pw"
domain = "example.com"
)";

std::string user_toml(const std::string& name, const std::string& rich = "", const std::string& tel = "") {
    return "[[user]]\nusername = \"" + name + "\"\nrich_uri = \"" +
           (rich.empty() ? "sip:" + name + "@example.com" : rich) + "\"\ntelephony_uri = \"" +
           (tel.empty() ? "sip:" + name + "-line@example.com" : tel) + "\"\n";
}

std::shared_ptr<const config::Config> load(const std::string& presence, const std::string& users) {
    auto out = config::load_string(std::string(kConnector) + "[presence]\n" + presence + "\n" + users, "test.toml");
    if (!out.ok()) FAIL(out.errors.front().str());
    return out.config;
}

struct Sent {
    sip::RequestSpec spec;
    sip::Endpoint::Done done;
    bool answered = false;
    std::string header(std::string_view name) const {
        for (const auto& [n, v] : spec.headers)
            if (n == name) return v;
        return {};
    }
};

struct Harness {
    ev::VirtualClock clock;
    std::vector<Sent> sent;
    std::vector<presence::Event> events;
    std::vector<presence::CachedSource> persisted;  // what the state cache was given
    std::vector<std::string> forgotten;
    presence::Service service;
    std::shared_ptr<const config::Config> config;
    uint32_t cseq = 0;

    Harness()
        : service(clock, presence::Service::Network{
                             [](const std::string&) {
                                 sip::Target t;
                                 t.address = *sip::Address::from_ip("127.0.0.1", 5070);
                                 return std::optional<sip::Target>(t);
                             },
                             [this](sip::RequestSpec spec, const sip::Target&, sip::Endpoint::Done done) {
                                 sent.push_back({std::move(spec), std::move(done)});
                             },
                             [](const sip::Target&) { return std::string("<sip:presenced@127.0.0.1:5060>"); },
                             [this](presence::CachedSource c) { persisted.push_back(std::move(c)); },
                             [this](const std::string& user) { forgotten.push_back(user); }}) {}

    void apply(const std::shared_ptr<const config::Config>& c) {
        config = c;
        service.apply(c, presence::Directory::from_config(*c));
        connector::Connector k;
        k.config = *c->find_connector("pbx");
        k.health.status = connector::Status::connected;
        service.connector_changed(k);
        clock.advance(0);
    }
    // Answers every unanswered request: 200, then a NOTIFY (active, or
    // terminated for an unsubscribe) with body for the kind asked.
    void serve(const std::string& pidf = "", const std::string& dialog = "") {
        for (size_t i = 0; i < sent.size(); ++i) {
            if (sent[i].answered) continue;
            sent[i].answered = true;
            const auto& s = sent[i].spec;
            const bool unsubscribe = sent[i].header("Expires") == "0";
            const std::string head =
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK" + std::to_string(i) + "\r\nFrom: <" +
                s.from_uri + ">;tag=" + s.from_tag + "\r\nTo: <" + s.to_uri + ">;tag=srv\r\nCall-ID: " + s.call_id +
                "\r\nCSeq: " + std::to_string(s.cseq) + " SUBSCRIBE\r\nExpires: " + (unsubscribe ? "0" : "600") +
                "\r\nContent-Length: 0\r\n\r\n";
            auto response = sip::Message::parse(head);
            REQUIRE(response);
            auto done = sent[i].done;
            done(sip::ClientOutcome::response, &*response);
            const bool is_dialog = sent[i].header("Event") == "dialog";
            const std::string body = unsubscribe ? "" : (is_dialog ? dialog : pidf);
            notify(s, unsubscribe ? "terminated;reason=timeout" : "active;expires=600", sent[i].header("Event"), body,
                   is_dialog ? "application/dialog-info+xml" : "application/pidf+xml");
        }
        clock.advance(0);
    }
    std::optional<sip::Answer> notify(const sip::RequestSpec& s, const std::string& state, const std::string& event,
                                      const std::string& body, const std::string& type) {
        const uint32_t n = ++cseq;
        const std::string text =
            "NOTIFY sip:presenced@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP "
            "127.0.0.1:5070;branch=z9hG4bKn" +
            std::to_string(n) + "\r\nFrom: <" + s.to_uri + ">;tag=srv\r\nTo: <" + s.from_uri + ">;tag=" + s.from_tag +
            "\r\nCall-ID: " + s.call_id + "\r\nCSeq: " + std::to_string(cseq) + " NOTIFY\r\nEvent: " + event +
            "\r\nSubscription-State: " + state + "\r\n" + (body.empty() ? "" : "Content-Type: " + type + "\r\n") +
            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        auto m = sip::Message::parse(text);
        REQUIRE(m);
        auto a = service.on_notify(*m);
        if (a && a->after_sent) a->after_sent();
        return a;
    }
    size_t count(const std::string& uri, const std::string& expires = "") const {
        return static_cast<size_t>(std::count_if(sent.begin(), sent.end(), [&](const Sent& s) {
            return s.spec.to_uri == uri && (expires.empty() || s.header("Expires") == expires);
        }));
    }
    std::string subscription(const std::string& user, bool rich = true) const {
        auto v = service.user_view(user);
        REQUIRE(v);
        return (rich ? v->rich : v->telephony).sources.at(0).subscription;
    }
};

const std::string kAway = R"(<?xml version="1.0"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
 xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:alice@example.com">
 <tuple id="t"><status><basic>open</basic></status></tuple>
 <dm:person id="p"><rpid:activities><rpid:away/></rpid:activities><dm:note>Gone home</dm:note></dm:person>
</presence>)";

const std::string kConfirmed = R"(<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:alice@example.com">
 <dialog id="d1" direction="initiator"><state>confirmed</state></dialog>
</dialog-info>)";

}  // namespace

TEST_CASE("policy all: every user's rich and telephony URIs are subscribed; bodies give the shown state", "[service]") {
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
