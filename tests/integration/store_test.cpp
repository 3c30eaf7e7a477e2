// The state database (presenced(8) STORE) end to end: a real daemon, the
// project's real Kamailio on loopback and a real SQLite file. Warm start
// with the server down (cached states served stale, then confirmed), a
// SIGKILL in the middle of a stream of changes (the file stays sound and at
// most one flush interval behind), a reload that touches only what changed
// (counted on the server), users imported from CSV, operator notes, and a
// connector restart. Every wait polls with a deadline.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "support/daemon_fixture.hpp"
#include "support/kamailio.hpp"
#include "support/presence_wait.hpp"

using namespace presenced::test;

namespace {

using SteadyClock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

// A publication shows in `user` within this (NOTIFY follows PUBLISH at once).
constexpr int kPublishToStateMs = 2'000;
// Daemon start to every subscription active (probe, paced digest SUBSCRIBEs).
constexpr int kSubscribedMs = 15'000;
// Server back to restored states confirmed: a probe retry (1 s), SUBSCRIBEs, first NOTIFYs.
constexpr int kConfirmedMs = 15'000;
constexpr int kPollMs = kPresencePollMs;
constexpr int kSqliteMs = 10'000;
// presencectl's exit status for an error answered by the daemon (presencectl(8)).
constexpr int kExitDaemonError = 1;
// The product promise of a warm start: cached states served at once.
constexpr double kWarmStartS = 1.0;
// [daemon] flush_interval_ms, its default: the crash test relies on it.
constexpr int kFlushIntervalMs = 500;

struct LabUser {
    std::string name;
    std::string rich_uri;       // "" = none
    std::string telephony_uri;  // "" = none (with no extension: not_configured)
};

LabUser both(const std::string& name) { return {name, "sip:" + name + "@127.0.0.1", "sip:" + name + "@127.0.0.1"}; }
LabUser rich_only(const std::string& name) { return {name, "sip:" + name + "@127.0.0.1", ""}; }

// One connector "lab" to the fixture (service account "watcher"), T1 100 ms,
// the shortest probe intervals, expires 3600 (no refresh within a test).
std::string lab_config(int port, const std::vector<LabUser>& users, const std::string& presence_extra = "") {
    std::string t = "[sip]\nlisten = \"127.0.0.1:0\"\nt1_ms = 100\nprobe_interval = 5\nprobe_retry_interval = 1\n";
    t += "[presence]\nexpires = 3600\nretry_min = 1\nretry_max = 10\n" + presence_extra;
    t += "[[connector]]\nname = \"lab\"\nserver = \"127.0.0.1:" + std::to_string(port) +
         "\"\ntransport = \"udp\"\nuri = \"sip:watcher@127.0.0.1\"\nauth_id = \"watcher\"\npassword = "
         "\"watcherpw\"\ndomain = \"127.0.0.1\"\n";
    for (const LabUser& u : users) {
        t += "[[user]]\nusername = \"" + u.name + "\"\n";
        if (!u.rich_uri.empty()) t += "rich_uri = \"" + u.rich_uri + "\"\n";
        if (!u.telephony_uri.empty()) t += "telephony_uri = \"" + u.telephony_uri + "\"\n";
    }
    return t;
}

// The shown state of kind is state, fresh, from a subscription that is
// active and no longer a restored one.
std::function<bool(const json&)> fresh(const std::string& kind, const std::string& state) {
    return [=](const json& u) {
        const json& k = u.at(kind);
        const json& s = k.at("sources").at(0);
        return k.at("state") == state && k.at("stale") == false && s.at("subscription") == "active" &&
               s.at("restored") == false;
    };
}

json connector_row(const DaemonFixture& d) { return d.result("connectors").at("connectors").at(0); }

// The lab connector has n active subscriptions and nothing else (none
// queued, subscribing or retrying).
bool all_active(const DaemonFixture& d, int n) {
    const json row = connector_row(d);
    int total = 0;
    for (const json& count : row.at("subscriptions")) total += count.get<int>();
    return row.at("subscriptions").at("active") == n && total == n;
}

void wait_active(const DaemonFixture& d, int n) {
    if (!poll_until([&] { return all_active(d, n); }, kSubscribedMs))
        FAIL("never " << n << " active subscriptions; last row:\n"
                      << connector_row(d).dump(2) << "\n"
                      << tail(d.log()));
}

std::set<std::string> usernames(const DaemonFixture& d) {
    std::set<std::string> out;
    const json result = d.result("users");  // kept: a range-for over a temporary's member dangles
    for (const json& u : result.at("users")) out.insert(u.at("username").get<std::string>());
    return out;
}

// New subscriptions the fixture saw: the first SUBSCRIBE of each Call-ID
// outside a dialog (the digest re-send shares the Call-ID), in order.
std::vector<FixtureRequest> new_subscriptions(const std::vector<FixtureRequest>& received) {
    std::vector<FixtureRequest> out;
    std::set<std::string> seen;
    for (const FixtureRequest& r : received)
        if (r.method == "SUBSCRIBE" && !r.in_dialog() && seen.insert(r.call_id).second) out.push_back(r);
    return out;
}

// The Call-ID of the one presence subscription to user in subs.
std::string call_id_of(const std::vector<FixtureRequest>& subs, const std::string& user) {
    std::string id;
    for (const auto& r : subs)
        if (r.to_user(user) && r.event == "presence") {
            REQUIRE(id.empty());  // one subscription per user and event
            id = r.call_id;
        }
    REQUIRE(!id.empty());
    return id;
}

// An in-dialog SUBSCRIBE with Expires 0 (RFC 6665 §4.1.2.3) ended call_id.
bool unsubscribed(const std::vector<FixtureRequest>& received, const std::string& call_id) {
    return std::any_of(received.begin(), received.end(), [&](const FixtureRequest& r) {
        return r.method == "SUBSCRIBE" && r.in_dialog() && r.call_id == call_id && r.expires == "0";
    });
}

// sqlite3 DB SQL with the real tool (found on PATH through env); its stdout
// lines, columns separated by '|'.
std::vector<std::string> sqlite(const std::string& db, const std::string& sql) {
    const RunResult r = run({"/usr/bin/env", "sqlite3", "-batch", db, sql}, kSqliteMs);
    INFO("sqlite3 " << db << " '" << sql << "': " << r.err);
    REQUIRE(r.exit_code == 0);
    std::vector<std::string> lines;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::string csv(const std::vector<std::string>& rows) {
    std::string text = "username,display_name,department,extension,rich_uri,telephony_uri\n";
    for (const auto& row : rows) text += row + "\n";
    return text;
}

}  // namespace

TEST_CASE("warm start: cached states are served stale with the server down, then confirmed", "[store][peer]") {
    Kamailio k("digest");
    DaemonFixture d({"", lab_config(k.port(), {both("alice"), both("bob"), both("carol")})});
    wait_active(d, 6);
    struct Expected {
        std::string rich, rich_message, telephony;
    };
    const std::map<std::string, Expected> expected = {{"alice", {"away", "Warm alice", "busy"}},
                                                      {"bob", {"busy", "Warm bob", "ringing"}},
                                                      {"carol", {"away", "Warm carol", "dialing"}}};
    REQUIRE(k.publish({"-u", "alice", "presence", "open", "away", "Warm alice"}) == 200);
    REQUIRE(k.publish({"-u", "alice", "dialog", "confirmed", "recipient"}) == 200);
    REQUIRE(k.publish({"-u", "bob", "presence", "open", "on-the-phone", "Warm bob"}) == 200);
    REQUIRE(k.publish({"-u", "bob", "dialog", "early", "recipient"}) == 200);
    REQUIRE(k.publish({"-u", "carol", "presence", "open", "away", "Warm carol"}) == 200);
    REQUIRE(k.publish({"-u", "carol", "dialog", "early", "initiator"}) == 200);
    for (const auto& [name, e] : expected) {
        wait_user(d, name, fresh("rich", e.rich), kPublishToStateMs);
        wait_user(d, name, fresh("telephony", e.telephony), kPublishToStateMs);
    }

    // SIGTERM: the last changes are written before the daemon exits. Then the
    // server goes too (SIGTERM: its publications stay in its database).
    REQUIRE(d.stop() == 0);
    k.stop();
    d.start();
    const auto ready = SteadyClock::now();
    std::map<std::string, json> shown;
    for (const auto& entry : expected) shown[entry.first] = user_of(d, entry.first);
    // presenced(8) Warm start: served at once, before any server answered.
    CHECK(seconds_since(ready) < kWarmStartS);
    for (const auto& [name, e] : expected) {
        const json& u = shown.at(name);
        INFO(name << ":\n" << u.dump(2));
        for (const auto& [kind, state] : {std::pair{"rich", e.rich}, {"telephony", e.telephony}}) {
            CAPTURE(kind);
            const json& k_view = u.at(kind);
            CHECK(k_view.at("state") == state);
            CHECK(k_view.at("stale") == true);
            CHECK(k_view.at("source") == "lab");
            CHECK(k_view.at("age_s").get<int>() >= 0);  // -1 would mean "never received"
            const json& src = k_view.at("sources").at(0);
            CHECK(src.at("subscription") == "restoring");
            CHECK(src.at("restored") == true);
            CHECK(src.at("cached_state") == state);
        }
        CHECK(u.at("rich").at("message") == e.rich_message);
    }

    // The server comes back on the same port with its publications: each
    // state is confirmed by a NOTIFY body and turns fresh.
    k.restart();
    for (const auto& [name, e] : expected) {
        const auto rich = fresh("rich", e.rich), telephony = fresh("telephony", e.telephony);
        const json u = wait_user(
            d, name, [&](const json& v) { return rich(v) && telephony(v); }, kConfirmedMs);
        CHECK(u.at("rich").at("message") == e.rich_message);
    }
}

TEST_CASE("a SIGKILL during a stream of changes leaves a sound database at most one flush behind", "[store][peer]") {
    Kamailio k("digest");
    const std::vector<std::string> names = {"alice", "bob", "carol"};
    constexpr int kCacheHorizonS = 3600;
    DaemonFixture d({"", lab_config(k.port(), {rich_only("alice"), rich_only("bob"), rich_only("carol")},
                                    "cache_horizon = " + std::to_string(kCacheHorizonS) + "\n")});
    wait_active(d, 3);

    // The stream: each user alternates busy and away, with a message naming
    // the step, so a (state, message) pair identifies one publication.
    // publish.sh takes ~0.4 s, so each user changes about every 1.2 s.
    std::atomic<bool> stop_stream{false};
    std::atomic<int> failed_publishes{0};
    std::thread stream;
    // Stops and joins the stream however this scope is left (a failed
    // REQUIRE throws): a joinable std::thread destroyed would terminate.
    struct Joiner {
        std::atomic<bool>& stop;
        std::thread& thread;
        ~Joiner() {
            stop = true;
            if (thread.joinable()) thread.join();
        }
    } joiner{stop_stream, stream};
    stream = std::thread([&] {
        for (int step = 0; !stop_stream; ++step)
            for (const auto& name : names) {
                if (stop_stream) break;
                const char* activity = step % 2 == 0 ? "on-the-phone" : "away";
                try {
                    if (k.publish({"-u", name, "presence", "open", activity, name + " step " + std::to_string(step)}) !=
                        200)
                        ++failed_publishes;
                } catch (const std::exception&) {
                    ++failed_publishes;
                }
            }
    });
    struct Seen {
        SteadyClock::time_point at;  // when the answer came
        std::string user, state, message;
    };
    std::vector<Seen> seen;
    const std::map<std::string, std::string> notes = {
        {"alice", "On leave"}, {"bob", "Back at 3"}, {"carol", "Desk 12"}};
    bool notes_set = false;
    // Kill once every user changed at least kMinChanges times, and after at
    // least kStreamBeforeKillMs of stream.
    constexpr int kMinChanges = 2;
    constexpr int kStreamBeforeKillMs = 3'000;
    constexpr int kStreamMaxMs = 15'000;
    const auto started = SteadyClock::now();
    std::map<std::string, std::set<std::string>> messages;
    for (;;) {
        for (const auto& name : names) {
            const json rich = user_of(d, name).at("rich");
            const auto at = SteadyClock::now();
            if (rich.at("message").get<std::string>().find(" step ") == std::string::npos) continue;
            seen.push_back({at, name, rich.at("state").get<std::string>(), rich.at("message").get<std::string>()});
            messages[name].insert(rich.at("message").get<std::string>());
        }
        const bool changed = std::all_of(names.begin(), names.end(),
                                         [&](const std::string& n) { return messages[n].size() >= kMinChanges; });
        if (changed && !notes_set) {  // set while the stream runs, well before the kill
            for (const auto& [name, text] : notes) REQUIRE(d.presencectl({"note", name, text}).exit_code == 0);
            notes_set = true;
        }
        if (notes_set && seconds_since(started) * 1000 >= kStreamBeforeKillMs) break;
        if (seconds_since(started) * 1000 >= kStreamMaxMs) break;
        std::this_thread::sleep_for(Ms(kPollMs));
    }
    const auto killed_at = SteadyClock::now();
    d.process().kill();  // SIGKILL: no final flush
    stop_stream = true;
    stream.join();  // ~0.4 s: the publish in progress ends
    INFO("daemon log:\n" << tail(d.log()));
    REQUIRE(notes_set);
    CHECK(failed_publishes == 0);

    const std::string db = d.dir().file("state.db");
    CHECK(sqlite(db, "PRAGMA integrity_check") == std::vector<std::string>{"ok"});
    // Every note, as sqlite3 prints rows (columns joined by '|').
    CHECK(sqlite(db, "SELECT username, text FROM notes ORDER BY username") ==
          std::vector<std::string>{"alice|On leave", "bob|Back at 3", "carol|Desk 12"});

    // What this checks: the daemon commits a change of presence at most
    // flush_interval_ms after it (presenced(8) STORE), so the cached row is
    // the state the daemon showed at some time T >= kill - 500 ms - slack
    // (kCommitSlackMs: the flush timer's lateness and the commit itself).
    // Each user was polled at most `gap` apart, the last poll just before
    // the kill, so that state was seen by a poll at or after T - gap: the
    // row must equal a state seen in [kill - 500 ms - slack - gap, kill]. A
    // daemon that flushed only at exit or much less often, or wrote a state
    // it never showed, fails. (A state living less than one poll gap would
    // go unseen; publish.sh makes each one last ~1.2 s.)
    constexpr int kCommitSlackMs = 200;
    std::map<std::string, std::pair<std::string, std::string>> cached;
    for (const auto& name : names) {
        CAPTURE(name);
        const auto rows = sqlite(
            db, "SELECT state || '|' || message FROM presence WHERE kind = 'rich' AND username = '" + name + "'");
        REQUIRE(rows.size() == 1);
        const auto bar = rows[0].find('|');
        cached[name] = {rows[0].substr(0, bar), rows[0].substr(bar + 1)};
        SteadyClock::duration gap{};
        SteadyClock::time_point previous{};
        for (const Seen& s : seen)
            if (s.user == name) {
                if (previous != SteadyClock::time_point{}) gap = std::max(gap, s.at - previous);
                previous = s.at;
            }
        const auto window_start = killed_at - Ms(kFlushIntervalMs + kCommitSlackMs) - gap;
        std::ostringstream history;  // each change once
        std::string last;
        bool found = false;
        for (const Seen& s : seen) {
            if (s.user != name) continue;
            const auto ms = std::chrono::duration_cast<Ms>(s.at - killed_at).count();
            if (s.message != last) history << ms << " ms: " << s.state << " \"" << s.message << "\"\n";
            last = s.message;
            found =
                found || (s.at >= window_start && s.state == cached[name].first && s.message == cached[name].second);
        }
        INFO("cached: " << rows[0] << "; largest poll gap " << std::chrono::duration_cast<Ms>(gap).count()
                        << " ms; changes seen (ms relative to the kill):\n"
                        << history.str());
        CHECK(found);
    }

    // Started again (server down, so the cache is what shows): no
    // corruption found, the cached states and the notes are served. carol's
    // row is first made older than cache_horizon: shown unknown, the cached
    // state kept for `user` (presenced(8) Warm start).
    const std::string aged = "carol";
    sqlite(db, "UPDATE presence SET received_at = received_at - " + std::to_string(2 * kCacheHorizonS) +
                   " WHERE username = '" + aged + "'");
    k.stop();
    d.start();
    CHECK(count_of(d.log(), "corrupt") == 0);
    for (const auto& name : names) {
        const json u = user_of(d, name);
        CAPTURE(name, u.dump(2));
        const json& src = u.at("rich").at("sources").at(0);
        CHECK(u.at("rich").at("state") == (name == aged ? "unknown" : cached[name].first));
        CHECK(src.at("known") == (name != aged));
        CHECK(src.at("cached_state") == cached[name].first);
        CHECK(src.at("restored") == true);
        CHECK(u.at("rich").at("stale") == true);
        CHECK(u.at("note") == notes.at(name));
    }
}

TEST_CASE("a reload subscribes and unsubscribes only what changed, counted on the server", "[store][peer]") {
    Kamailio k("digest");
    constexpr int kUsers = 53;
    auto name_of = [](int i) { return std::string(i < 10 ? "u0" : "u") + std::to_string(i); };
    std::vector<LabUser> users;
    users.reserve(kUsers + 1);
    for (int i = 0; i < kUsers; ++i) users.push_back(rich_only(name_of(i)));
    DaemonFixture d({"", lab_config(k.port(), users)});
    wait_active(d, kUsers);
    const auto initial = k.received();
    const auto first = new_subscriptions(initial);
    REQUIRE(first.size() == static_cast<size_t>(kUsers));
    std::map<std::string, std::string> user_of_call;  // Call-ID -> user
    for (int i = 0; i < kUsers; ++i) user_of_call[call_id_of(first, name_of(i))] = name_of(i);

    // u00 removed, u53 added, u01's rich_uri changed; u02..u52 untouched.
    const std::string removed = name_of(0), changed = name_of(1), added = name_of(kUsers);
    const std::string old_removed = call_id_of(first, removed), old_changed = call_id_of(first, changed);
    users.erase(users.begin());
    users.front().rich_uri = "sip:" + changed + "x@127.0.0.1";
    users.push_back(rich_only(added));
    d.write_config({"", lab_config(k.port(), users)});
    d.reload_via_sighup();

    std::vector<FixtureRequest> after;
    const bool settled = poll_until(
        [&] {
            const auto all = k.received();
            after.assign(all.begin() + static_cast<std::ptrdiff_t>(initial.size()), all.end());
            const auto subs = new_subscriptions(after);
            auto has = [&](const std::string& user) {
                return std::any_of(subs.begin(), subs.end(), [&](const FixtureRequest& r) { return r.to_user(user); });
            };
            return has(added) && has(changed + "x") && unsubscribed(after, old_removed) &&
                   unsubscribed(after, old_changed) && all_active(d, kUsers);
        },
        kSubscribedMs);
    INFO("connector: " << connector_row(d).dump() << "\n" << tail(d.log()));
    REQUIRE(settled);

    // Exactly one new subscription each for the added user and the new URI.
    const auto subs = new_subscriptions(after);
    CHECK(subs.size() == 2);
    const std::string new_added = call_id_of(subs, added), new_changed = call_id_of(subs, changed + "x");
    // Every SUBSCRIBE since the reload belongs to those two, or ends the
    // removed user's or the old URI's subscription; none touches the 50
    // unchanged users (no refresh either: expires is 3600).
    std::map<std::string, int> per_user;
    for (const FixtureRequest& r : after) {
        if (r.method != "SUBSCRIBE") continue;
        CAPTURE(r.request_uri, r.call_id, r.expires);
        if (r.in_dialog()) {
            CHECK((r.call_id == old_removed || r.call_id == old_changed));
            CHECK(r.expires == "0");
        } else {
            CHECK((r.call_id == new_added || r.call_id == new_changed));
        }
        if (auto it = user_of_call.find(r.call_id); it != user_of_call.end()) ++per_user[it->second];
    }
    // Counted by Request-URI too: as many as before the reload (the initial
    // one, its digest re-send, and any UDP retransmission of those).
    auto count_to = [](const std::vector<FixtureRequest>& rs, const std::string& user) {
        return std::count_if(rs.begin(), rs.end(),
                             [&](const FixtureRequest& r) { return r.method == "SUBSCRIBE" && r.to_user(user); });
    };
    const auto all = k.received();
    for (int i = 2; i < kUsers; ++i) {
        CAPTURE(name_of(i));
        CHECK(per_user[name_of(i)] == 0);
        CHECK(count_to(all, name_of(i)) == count_to(initial, name_of(i)));
    }
    CHECK(user_of(d, changed).at("rich_uri") == "sip:" + changed + "x@127.0.0.1");
    CHECK(d.request("user", {{"username", removed}}).at("error").at("code") == "not_found");
}

TEST_CASE("users import and users_csv: validated, subscribed, kept across a restart", "[store][peer]") {
    Kamailio k("digest");
    DaemonFixture d({}, false);
    const std::string dir_csv = d.dir().write("directory.csv", csv({"ivan,Ivan Ivanov,Ops,,sip:ivan@127.0.0.1,"}));
    const std::string config = lab_config(k.port(), {rich_only("alice")}, "users_csv = \"" + dir_csv + "\"\n");
    d.write_config({"", config});
    d.start();
    // users_csv is read at start.
    CHECK(usernames(d) == std::set<std::string>{"alice", "ivan"});
    CHECK(user_of(d, "ivan").at("display_name") == "Ivan Ivanov");
    wait_active(d, 2);

    const std::string good =
        d.dir().write("good.csv", csv({"dave,Dave D,Sales,,sip:dave@127.0.0.1,", "erin,Erin E,,,sip:erin@127.0.0.1,"}));
    RunResult r = d.presencectl({"users", "import", good});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(usernames(d) == std::set<std::string>{"alice", "ivan", "dave", "erin"});
    wait_active(d, 4);
    CHECK(k.requests_to("SUBSCRIBE", "dave") >= 1);
    CHECK(k.requests_to("SUBSCRIBE", "erin") >= 1);

    // Line 3 (the header is line 1) has a bad rich_uri: without --partial
    // nothing changes and the line is named.
    const std::string bad = d.dir().write(
        "bad.csv",
        csv({"frank,,,,sip:frank@127.0.0.1,", "gina,,,,http://gina.example.com,", "henry,,,,sip:henry@127.0.0.1,"}));
    r = d.presencectl({"users", "import", bad});
    CHECK(r.exit_code == kExitDaemonError);
    CHECK((r.out + r.err).find("line 3") != std::string::npos);
    CHECK((r.out + r.err).find("line 2") == std::string::npos);
    CHECK(usernames(d) == std::set<std::string>{"alice", "ivan", "dave", "erin"});
    CHECK(k.requests_to("SUBSCRIBE", "frank") == 0);

    r = d.presencectl({"users", "import", bad, "--partial"});
    CHECK(r.exit_code == 0);
    CHECK((r.out + r.err).find("line 3") != std::string::npos);
    CHECK(usernames(d) == std::set<std::string>{"alice", "ivan", "dave", "erin", "frank", "henry"});
    wait_active(d, 6);

    // Imported users are in the database: a restart keeps them.
    REQUIRE(d.stop() == 0);
    d.start();
    CHECK(usernames(d) == std::set<std::string>{"alice", "ivan", "dave", "erin", "frank", "henry"});

    // users_csv is read again on reload: a user added to the file appears.
    write_file(dir_csv, csv({"ivan,Ivan Ivanov,Ops,,sip:ivan@127.0.0.1,", "judy,Judy J,Ops,,sip:judy@127.0.0.1,"}));
    d.reload_via_sighup();
    CHECK(usernames(d) == std::set<std::string>{"alice", "ivan", "dave", "erin", "frank", "henry", "judy"});
    wait_active(d, 7);
    CHECK(k.requests_to("SUBSCRIBE", "judy") >= 1);
}

TEST_CASE("notes: set, shown, kept across a restart, cleared", "[store][peer]") {
    DaemonFixture d;  // standard_config: alice, bob, carol; no server needed
    RunResult r = d.presencectl({"note", "alice", "On leave"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "note of alice: On leave\n");
    auto note_in_users = [&](const std::string& name) {
        const RunResult list = d.presencectl({"-j", "users"});
        REQUIRE(list.exit_code == 0);
        const json doc = json::parse(list.out);  // kept: a range-for over a temporary's member dangles
        for (const json& u : doc.at("users"))
            if (u.at("username") == name) return u.at("note").get<std::string>();
        FAIL("no " << name << " in users -j:\n" << list.out);
        return std::string();
    };
    CHECK(note_in_users("alice") == "On leave");
    CHECK(note_in_users("bob").empty());
    CHECK(user_of(d, "alice").at("note") == "On leave");

    REQUIRE(d.stop() == 0);
    d.start();
    CHECK(user_of(d, "alice").at("note") == "On leave");
    CHECK(note_in_users("alice") == "On leave");

    r = d.presencectl({"note", "alice", "--clear"});
    CHECK(r.exit_code == 0);
    CHECK(user_of(d, "alice").at("note") == "");
    REQUIRE(d.stop() == 0);
    d.start();
    CHECK(note_in_users("alice").empty());  // the removal was stored too

    r = d.presencectl({"note", "nobody", "Hello"});
    CHECK(r.exit_code == kExitDaemonError);
    CHECK(r.err.find("not_found") != std::string::npos);
}

TEST_CASE("state_db = \"\" keeps no state: nothing is written, a note lasts until the daemon stops", "[store][peer]") {
    DaemonFixture d(standard_config(), false);
    std::string text = d.config_text(standard_config());
    const std::string line = "state_db = \"" + d.dir().file("state.db") + "\"";
    REQUIRE(text.find(line) != std::string::npos);
    text.replace(text.find(line), line.size(), "state_db = \"\"");
    d.write_raw_config(text);
    d.start();
    CHECK(d.presencectl({"note", "alice", "On leave"}).exit_code == 0);
    CHECK(user_of(d, "alice").at("note") == "On leave");
    CHECK(d.presencectl({"users"}).exit_code == 0);
    REQUIRE(d.stop() == 0);
    CHECK_FALSE(std::filesystem::exists(d.dir().file("state.db")));
    d.start();
    CHECK(user_of(d, "alice").at("note") == "");  // cold start: nothing was kept
}

TEST_CASE("connector restart: the connector's subscriptions are made again", "[store][peer]") {
    Kamailio k("digest");
    DaemonFixture d({"", lab_config(k.port(), {both("alice"), both("bob")})});
    wait_active(d, 4);
    REQUIRE(k.publish({"-u", "alice", "presence", "open", "away", "Before restart"}) == 200);
    REQUIRE(k.publish({"-u", "bob", "dialog", "confirmed", "recipient"}) == 200);
    wait_user(d, "alice", fresh("rich", "away"), kPublishToStateMs);
    wait_user(d, "bob", fresh("telephony", "busy"), kPublishToStateMs);
    const auto first = new_subscriptions(k.received());
    REQUIRE(first.size() == 4);

    CHECK(d.presencectl({"connector", "restart", "lab"}).exit_code == 0);
    std::vector<FixtureRequest> subs;
    const bool back = poll_until(
        [&] {
            subs = new_subscriptions(k.received());
            return subs.size() == 8 && all_active(d, 4);
        },
        kSubscribedMs);
    INFO("connector: " << connector_row(d).dump() << "\n" << tail(d.log()));
    REQUIRE(back);
    // New dialogs (new Call-IDs: new_subscriptions counts each once) for the
    // same four (user, event) pairs; the old ones were ended (RFC 6665 §4.1.2.3).
    std::set<std::pair<std::string, std::string>> before, again;
    for (size_t i = 0; i < subs.size(); ++i)
        (i < first.size() ? before : again).insert({subs[i].request_uri, subs[i].event});
    CHECK(again == before);
    const auto received = k.received();
    for (const auto& f : first) CHECK(unsubscribed(received, f.call_id));
    // The states come back through the new subscriptions' NOTIFYs.
    for (const auto& [name, kind, state] : {std::tuple{"alice", "rich", "away"}, {"bob", "telephony", "busy"}}) {
        const json u = wait_user(d, name, fresh(kind, state), kPublishToStateMs);
        CHECK(u.at(kind).at("sources").at(0).at("notifies").get<int>() >= 1);
    }

    const RunResult unknown = d.presencectl({"connector", "restart", "nope"});
    CHECK(unknown.exit_code == kExitDaemonError);
    CHECK(unknown.err.find("not_found") != std::string::npos);
}
