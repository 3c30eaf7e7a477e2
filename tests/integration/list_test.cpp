// Resource-list subscriptions (RFC 4662) end to end against the project's
// real Kamailio fixture with its rls module (scripts/kamailio/README.md):
// the list sip:buddies@DOMAIN serves alice, bob and carol; dave is in no
// list. One list SUBSCRIBE serves the members, a user outside the list gets
// a subscription of its own, published changes arrive through the list, a
// Kamailio restart (which loses list dialogs) re-establishes the list, and a
// URI that is no list falls back to per-user subscriptions with the cause
// shown (presenced(8) Resource lists). Every wait polls with a deadline.
#include <catch2/catch.hpp>

#include <set>

#include "support/daemon_fixture.hpp"
#include "support/kamailio.hpp"
#include "support/presence_wait.hpp"

using namespace presenced::test;

namespace {

// Kamailio's RLS batches back-end changes for up to 2 s (waitn_time) before
// a list NOTIFY; sanitizer builds are slower still.
constexpr int kListStateMs = 10'000;
// Start to the list serving, with its digest round and first full state.
constexpr int kListedMs = 15'000;

const std::vector<std::string> kUsers = {"alice", "bob", "carol", "dave"};

// Users with a rich URI only (no telephony: one kind keeps the counts plain).
std::string list_config(int port, const std::string& list_uri, const std::string& presence_extra = "") {
    std::string t = "[sip]\nlisten = \"127.0.0.1:0\"\nt1_ms = 100\nprobe_interval = 5\nprobe_retry_interval = 1\n";
    t += "[presence]\nexpires = 60\nretry_min = 1\nretry_max = 10\n" + presence_extra;
    t += "[[connector]]\nname = \"lab\"\nserver = \"127.0.0.1:" + std::to_string(port) +
         "\"\ntransport = \"udp\"\nuri = \"sip:watcher@127.0.0.1\"\nauth_id = \"watcher\"\npassword = \"watcherpw\"\n"
         "domain = \"127.0.0.1\"\nrich_list_uri = \"" +
         list_uri + "\"\n";
    for (const std::string& u : kUsers)
        t += "[[user]]\nusername = \"" + u + "\"\nrich_uri = \"sip:" + u + "@127.0.0.1\"\n";
    return t;
}

json list_row(const DaemonFixture& d) {
    const json lists = d.result("connectors").at("connectors").at(0).at("lists");
    REQUIRE(lists.size() == 1);
    return lists.at(0);
}

json wait_list(const DaemonFixture& d, const std::function<bool(const json&)>& pred, int timeout_ms) {
    json row;
    if (!poll_until(
            [&] {
                row = list_row(d);
                return pred(row);
            },
            timeout_ms))
        FAIL("the list never got there; last:\n" << row.dump(2) << "\n" << tail(d.log()));
    return row;
}

// New SUBSCRIBEs (not in a dialog, one per Call-ID) to user; with
// since_restart only those the fixture saw since its last (re)start.
size_t new_subscribes_to(const Kamailio& k, const std::string& user, bool since_restart = false) {
    std::set<std::string> calls;
    for (const FixtureRequest& r : k.received(since_restart))
        if (r.method == "SUBSCRIBE" && !r.in_dialog() && r.to_user(user)) calls.insert(r.call_id);
    return calls.size();
}

std::function<bool(const json&)> rich_shows(const std::string& state, const std::string& message) {
    return [=](const json& u) {
        const json& r = u.at("rich");
        return r.at("state") == state && r.at("stale") == false && r.at("message") == message;
    };
}

}  // namespace

TEST_CASE("a list serves its three members through one subscription, dave outside it has his own",
          "[presence][peer][list]") {
    Kamailio k("digest");
    DaemonFixture d({"", list_config(k.port(), "sip:buddies@127.0.0.1")});
    const json row = wait_list(
        d, [](const json& l) { return l.at("mode") == "listing" && l.at("subscription") == "active"; }, kListedMs);
    CHECK(row.at("members") == 3);
    CHECK(row.at("served") == 3);
    CHECK(row.at("outside") == 1);
    CHECK(row.at("not_users") == 0);
    CHECK(row.at("cause") == "");
    // One SUBSCRIBE for the list (and dave's own); none per member.
    CHECK(new_subscribes_to(k, "buddies") == 1);
    // dave's own SUBSCRIBE follows the list's full state (paced): wait for it.
    CHECK(poll_until([&] { return new_subscribes_to(k, "dave") >= 1; }, kListedMs));
    CHECK(new_subscribes_to(k, "dave") == 1);
    for (const char* member : {"alice", "bob", "carol"}) CHECK(new_subscribes_to(k, member) == 0);

    REQUIRE(k.publish({"presence", "open", "away", "Gone home"}) == 200);
    json alice = wait_user(d, "alice", rich_shows("away", "Gone home"), kListStateMs);
    const json& source = alice.at("rich").at("sources").at(0);
    CHECK(source.at("list") == "sip:buddies@127.0.0.1");
    CHECK(source.at("list_instance") == "active");
    CHECK(source.at("subscription") == "active");

    REQUIRE(k.publish({"-u", "bob", "presence", "open", "busy", "In a meeting"}) == 200);
    wait_user(d, "bob", rich_shows("busy", "In a meeting"), kListStateMs);
    REQUIRE(k.publish({"presence", "open", "on-the-phone", "On a call"}) == 200);
    wait_user(d, "alice", rich_shows("busy", "On a call"), kListStateMs);  // on-the-phone reads busy

    // dave, outside: his own subscription, and his state through it.
    REQUIRE(k.publish({"-u", "dave", "presence", "open", "away", "Lunch"}) == 200);
    json dave = wait_user(d, "dave", rich_shows("away", "Lunch"), kListStateMs);
    CHECK(dave.at("rich").at("sources").at(0).at("list") == "");
    // Still one list SUBSCRIBE: the changes came as list NOTIFYs.
    CHECK(new_subscribes_to(k, "buddies") == 1);
    CHECK(new_subscribes_to(k, "alice") == 0);
}

TEST_CASE("a Kamailio restart loses the list dialog, the list is subscribed again", "[presence][peer][list]") {
    // Expires 10 (the fixture's MAX_EXPIRES cuts presence and rls): the
    // refresh that meets the restarted server comes within seconds.
    Kamailio k("digest", {"MIN_EXPIRES=5", "MAX_EXPIRES=10"});
    DaemonFixture d({"", list_config(k.port(), "sip:buddies@127.0.0.1")});
    wait_list(
        d, [](const json& l) { return l.at("mode") == "listing" && l.at("subscription") == "active"; }, kListedMs);
    REQUIRE(k.publish({"presence", "open", "away", "Before"}) == 200);
    wait_user(d, "alice", rich_shows("away", "Before"), kListStateMs);

    k.restart();  // rls keeps list dialogs in memory: its refresh gets a 481
    REQUIRE(poll_until([&] { return new_subscribes_to(k, "buddies", true) >= 1; }, 30'000));
    const json row = wait_list(
        d, [](const json& l) { return l.at("mode") == "listing" && l.at("subscription") == "active"; }, kListedMs);
    CHECK(row.at("cause") == "");  // not a fallback
    CHECK(new_subscribes_to(k, "alice") == 0);
    REQUIRE(k.publish({"presence", "open", "busy", "After"}) == 200);
    wait_user(d, "alice", rich_shows("busy", "After"), kListStateMs);
}

TEST_CASE("a list URI the server does not know: fallback to per-user subscriptions, cause shown",
          "[presence][peer][list]") {
    Kamailio k("digest");
    DaemonFixture d({"", list_config(k.port(), "sip:nolist@127.0.0.1")});
    const json row = wait_list(
        d, [](const json& l) { return l.at("mode") == "fallback"; }, kListedMs);
    CHECK(row.at("subscription") == "none");
    CHECK(row.at("cause").get<std::string>().find("does not serve") != std::string::npos);
    CHECK(row.at("retry_at").get<long long>() > 0);
    const std::string cause = d.result("connectors").at("connectors").at(0).at("cause");
    CHECK(cause.find("; rich list in fallback: the server does not serve") != std::string::npos);
    REQUIRE(poll_until(
        [&] {
            for (const auto& u : kUsers)
                if (user_of(d, u).at("rich").at("sources").at(0).at("subscription") != "active") return false;
            return true;
        },
        kListedMs));
    for (const auto& u : kUsers) CHECK(new_subscribes_to(k, u) == 1);
    REQUIRE(k.publish({"presence", "open", "away", "Per user"}) == 200);
    wait_user(d, "alice", rich_shows("away", "Per user"), kListStateMs);
}

TEST_CASE("a dialog list serves the telephony presence of its members", "[presence][peer][list]") {
    Kamailio k("digest");
    std::string t = "[sip]\nlisten = \"127.0.0.1:0\"\nt1_ms = 100\n[presence]\nexpires = 60\nretry_min = 1\n";
    t += "[[connector]]\nname = \"lab\"\nserver = \"127.0.0.1:" + std::to_string(k.port()) +
         "\"\nuri = \"sip:watcher@127.0.0.1\"\nauth_id = \"watcher\"\npassword = \"watcherpw\"\n"
         "domain = \"127.0.0.1\"\ntelephony_list_uri = \"sip:buddies-dialog@127.0.0.1\"\n";
    for (const char* u : {"alice", "bob"})
        t += std::string("[[user]]\nusername = \"") + u + "\"\ntelephony_uri = \"sip:" + u + "@127.0.0.1\"\n";
    DaemonFixture d({"", t});
    const json row = wait_list(
        d, [](const json& l) { return l.at("mode") == "listing" && l.at("subscription") == "active"; }, kListedMs);
    CHECK(row.at("kind") == "telephony");
    CHECK(row.at("served") == 2);
    CHECK(new_subscribes_to(k, "bob") == 0);
    REQUIRE(k.publish({"-u", "bob", "dialog", "confirmed", "recipient"}) == 200);
    json bob = wait_user(
        d, "bob",
        [](const json& u) { return u.at("telephony").at("state") == "busy" && u.at("telephony").at("stale") == false; },
        kListStateMs);
    CHECK(bob.at("telephony").at("sources").at(0).at("list") == "sip:buddies-dialog@127.0.0.1");
    CHECK(bob.at("telephony").at("dialogs").size() == 1);
}
