// Control protocol: envelope checks, answers, every command's arguments and
// the JSON shape of its answer, against FakeServices (no socket; the
// server's side of watch is in control_server_test.cpp).
#include <catch2/catch.hpp>

#include "control/commands.hpp"
#include "control/presence_json.hpp"
#include "fake_services.hpp"
#include "subscription/status.hpp"

using namespace presenced;
using namespace presenced::control;

namespace {

json call(Services& s, const std::string& line, Session* session = nullptr) {
    const std::string answer = dispatch(s, line, session);
    REQUIRE(answer.find('\n') == std::string::npos);
    return json::parse(answer);
}

json request(Services& s, const std::string& cmd, const json& args, Session* session = nullptr) {
    return call(s, json{{"v", 1}, {"id", 1}, {"cmd", cmd}, {"args", args}}.dump(), session);
}

json result(Services& s, const std::string& cmd, const json& args = json::object(), Session* session = nullptr) {
    const json a = request(s, cmd, args, session);
    INFO(a.dump());
    REQUIRE(a.at("ok") == true);
    return a.at("result");
}

std::string error_code(const json& answer) {
    INFO(answer.dump());
    REQUIRE(answer.at("ok") == false);
    CHECK_FALSE(answer.at("error").at("message").get<std::string>().empty());
    return answer.at("error").at("code").get<std::string>();
}

std::vector<std::string> keys_of(const json& object) {
    std::vector<std::string> out;
    for (auto it = object.begin(); it != object.end(); ++it) out.push_back(it.key());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// A connection as the server would be, recording what the command does to it.
struct RecordingSession : Session {
    std::vector<uint64_t> watch_ids;
    std::vector<std::string> lines;
    void set_watch(uint64_t id) override { watch_ids.push_back(id); }
    void send_event(std::string line) override { lines.push_back(std::move(line)); }
};

presence::Event presence_event(const std::string& user, const std::string& state) {
    presence::Event e;
    e.username = user;
    e.kind = "rich";
    e.state = state;
    e.previous = "available";
    e.source = "pbx";
    e.stale = false;
    e.message = "Lunch";
    e.at = 2000;
    return e;
}

}  // namespace

TEST_CASE("envelope errors have stable codes", "[protocol]") {
    FakeServices s;
    struct Case {
        const char* line;
        const char* code;
        json id;
    };
    for (const Case& c : {
             Case{"not json", "bad_request", nullptr},
             Case{"[1,2]", "bad_request", nullptr},
             Case{R"({"v":1,"cmd":"status"})", "bad_request", nullptr},
             Case{R"({"v":1,"id":[1],"cmd":"status"})", "bad_request", nullptr},
             Case{R"({"id":3,"cmd":"status"})", "bad_request", 3},
             Case{R"({"v":"1","id":3,"cmd":"status"})", "bad_request", 3},
             Case{R"({"v":2,"id":3,"cmd":"status"})", "version_mismatch", 3},
             Case{R"({"v":1,"id":3})", "bad_request", 3},
             Case{R"({"v":1,"id":3,"cmd":7})", "bad_request", 3},
             Case{R"({"v":1,"id":"x","cmd":"status","args":[]})", "bad_request", "x"},
             Case{R"({"v":1,"id":3,"cmd":"status","extra":1})", "bad_request", 3},
             Case{R"({"v":1,"id":3,"cmd":"fly"})", "unknown_command", 3},
             Case{R"({"v":1,"id":3,"cmd":"status","args":{"x":1}})", "invalid_argument", 3},
         }) {
        INFO(c.line);
        const json answer = call(s, c.line);
        CHECK(answer.at("v") == 1);
        CHECK(answer.at("id") == c.id);
        CHECK(error_code(answer) == c.code);
    }
}

TEST_CASE("every command checks its arguments", "[protocol]") {
    FakeServices s;
    RecordingSession session;
    struct Case {
        const char* cmd;
        json args;
        const char* code;
    };
    for (const Case& c : {
             // users: strings, and state names
             Case{"users", {{"rich", 5}}, "bad_request"},
             Case{"users", {{"user", nullptr}}, "bad_request"},
             Case{"users", {{"rich", "sleepy"}}, "invalid_argument"},
             Case{"users", {{"telephony", "away"}}, "invalid_argument"},
             Case{"users", {{"colour", "red"}}, "invalid_argument"},
             // user: a required, non-empty string naming a user
             Case{"user", json::object(), "invalid_argument"},
             Case{"user", {{"username", ""}}, "invalid_argument"},
             Case{"user", {{"username", 7}}, "bad_request"},
             Case{"user", {{"username", json::array({"alice"})}}, "bad_request"},
             Case{"user", {{"username", "alice"}, {"verbose", true}}, "invalid_argument"},
             Case{"user", {{"username", "nobody"}}, "not_found"},
             Case{"user", {{"username", "ALICE"}}, "not_found"},  // usernames are exact
             // subscribe: username as for user, seconds an integer 1..86400
             Case{"subscribe", json::object(), "invalid_argument"},
             Case{"subscribe", {{"seconds", 5}}, "invalid_argument"},
             Case{"subscribe", {{"username", 1}}, "bad_request"},
             Case{"subscribe", {{"username", "nobody"}}, "not_found"},
             Case{"subscribe", {{"username", "alice"}, {"seconds", "30"}}, "bad_request"},
             Case{"subscribe", {{"username", "alice"}, {"seconds", 1.5}}, "bad_request"},
             Case{"subscribe", {{"username", "alice"}, {"seconds", 0}}, "invalid_argument"},
             Case{"subscribe", {{"username", "alice"}, {"seconds", -5}}, "invalid_argument"},
             Case{"subscribe", {{"username", "alice"}, {"seconds", 86'401}}, "invalid_argument"},
             Case{"subscribe", {{"username", "alice"}, {"seconds", 18'446'744'073'709'551'615ULL}}, "invalid_argument"},
             Case{"subscribe", {{"username", "alice"}, {"for", 5}}, "invalid_argument"},
             // watch: an array of strings naming users
             Case{"watch", {{"users", "alice"}}, "bad_request"},
             Case{"watch", {{"users", json::array({"alice", 3})}}, "bad_request"},
             Case{"watch", {{"users", json::array({"alice", "nobody"})}}, "not_found"},
             Case{"watch", {{"user", json::array({"alice"})}}, "invalid_argument"},
             // the rest take none
             Case{"connectors", {{"name", "pbx"}}, "invalid_argument"},
             Case{"version", {{"x", 1}}, "invalid_argument"},
         }) {
        INFO(c.cmd << " " << c.args.dump());
        CHECK(error_code(request(s, c.cmd, c.args, &session)) == c.code);
    }
    // Nothing was done by any of them.
    CHECK(s.forced_calls.empty());
    CHECK(s.watches.empty());
    CHECK(session.watch_ids.empty());
}

TEST_CASE("version lists every command of the table", "[protocol]") {
    FakeServices s;
    const json a = call(s, R"({"v":1,"id":"q","cmd":"version"})");
    REQUIRE(a.at("ok") == true);
    CHECK(a.at("id") == "q");
    CHECK(a.at("result").at("protocol") == 1);
    CHECK(a.at("result").at("commands") == json{"version", "status", "connectors", "users", "reload", "user",
                                                "subscribe", "watch", "note", "import_users", "connector_restart"});
}

TEST_CASE("status counts and times", "[protocol]") {
    FakeServices s;
    const json r = result(s, "status");
    CHECK(r.at("uptime_s") == 42);
    CHECK(r.at("started_at") == 1000);
    CHECK(r.at("connectors") == 2);
    CHECK(r.at("connectors_enabled") == 1);
    CHECK(r.at("users") == 2);
    CHECK(r.at("config_file") == "test.toml");
    CHECK(r.at("last_reload").is_null());
}

TEST_CASE("connectors report status, cause, preference and subscription counts", "[protocol]") {
    FakeServices s;
    s.connector_rows[1].subscriptions = {{"none", 4}, {"invented", 2}};  // neither is shown
    s.connector_rows[0].lists = {{"rich", "sip:team@example.com", "fallback", "none", 12, 0, 10, 2, 7,
                                  "list subscription no_such_user: 404: no such user", 5000}};
    const json rows = result(s, "connectors").at("connectors");
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].at("lists").empty());
    REQUIRE(rows[0].at("lists").size() == 1);
    const json& list = rows[0].at("lists")[0];
    CHECK(keys_of(list) == sorted({"kind", "uri", "mode", "subscription", "members", "served", "outside", "not_users",
                                   "version", "cause", "retry_at"}));
    CHECK(list.at("mode") == "fallback");
    CHECK(list.at("members") == 12);
    CHECK(list.at("outside") == 10);
    CHECK(list.at("not_users") == 2);
    CHECK(list.at("version") == 7);
    CHECK(list.at("retry_at") == 5000);
    CHECK(list.at("cause") == "list subscription no_such_user: 404: no such user");
    CHECK(rows[0].at("name") == "pbx");
    CHECK(rows[0].at("status") == "connection_error");
    CHECK(rows[0].at("cause") == "not started");
    CHECK(rows[0].at("positive") == false);
    CHECK(rows[0].at("preferred") == true);
    CHECK(rows[0].at("since") == 1000);
    CHECK(rows[1].at("status") == "disabled");
    CHECK(rows[1].at("preferred") == false);

    std::vector<std::string> names;
    for (auto n : subscription::status_names())
        if (n != "none" && n != "restoring") names.emplace_back(n);  // source states, not counted
    for (const auto& row : rows) CHECK(keys_of(row.at("subscriptions")) == sorted(names));
    const json& counts = rows[0].at("subscriptions");
    CHECK(counts.at("active") == 9);
    CHECK(counts.at("retrying") == 1);
    CHECK(counts.at("queued") == 0);
    for (const auto& n : names) CHECK(rows[1].at("subscriptions").at(n) == 0);
}

TEST_CASE("users filter on the shown state", "[protocol]") {
    FakeServices s;
    auto names = [&](const json& args) {
        std::vector<std::string> out;
        const json r = result(s, "users", args);
        for (const auto& u : r.at("users")) out.push_back(u.at("username"));
        return out;
    };
    using V = std::vector<std::string>;
    CHECK(names(json::object()) == V{"alice", "bob"});
    CHECK(names({{"user", "SALES"}}) == V{"alice"});
    CHECK(names({{"user", "example"}}) == V{"alice"});
    CHECK(names({{"user", ""}}) == V{"alice", "bob"});
    // alice's directory entry says unknown; what is shown is away.
    CHECK(names({{"rich", "away"}}) == V{"alice"});
    CHECK(names({{"rich", "unknown"}}).empty());
    CHECK(names({{"rich", "not_configured"}}) == V{"bob"});
    CHECK(names({{"telephony", "ringing"}, {"user", "ali"}}) == V{"alice"});
    CHECK(names({{"telephony", "ringing"}, {"user", "bob"}}).empty());
    CHECK(names({{"telephony", "not_configured"}}) == V{"bob"});
    // The rows come from the views, in their order.
    std::swap(s.views[0], s.views[1]);
    CHECK(names(json::object()) == V{"bob", "alice"});
    s.views.clear();
    CHECK(names(json::object()).empty());
}

TEST_CASE("users rows carry the shown presence of each kind", "[protocol]") {
    FakeServices s;
    const json rows = result(s, "users").at("users");
    REQUIRE(rows.size() == 2);
    const json& alice = rows[0];
    CHECK(keys_of(alice) == sorted({"username", "display_name", "department", "extension", "rich_uri", "telephony_uri",
                                    "note", "rich", "telephony"}));
    CHECK(alice.at("telephony_uri") == "sip:1001@example.com");
    CHECK(alice.at("note") == "back at 3");
    const json& rich = alice.at("rich");
    CHECK(keys_of(rich) == sorted({"state", "stale", "source", "age_s", "message", "entries"}));
    CHECK(rich.at("state") == "away");
    CHECK(rich.at("stale") == true);
    CHECK(rich.at("source") == "pbx");
    CHECK(rich.at("age_s") == 300);
    CHECK(rich.at("message") == "Lunch");
    REQUIRE(rich.at("entries").size() == 2);
    const json& person = rich.at("entries")[0];
    CHECK(keys_of(person) ==
          sorted({"kind", "id", "basic", "activities", "note", "contact", "timestamp", "device_id", "idle"}));
    CHECK(person.at("kind") == "person");
    CHECK(person.at("basic").is_null());
    CHECK(person.at("activities") == json{"away"});
    CHECK(person.at("timestamp") == "2026-01-01T12:00:00Z");
    const json& tuple = rich.at("entries")[1];
    CHECK(tuple.at("kind") == "tuple");
    CHECK(tuple.at("basic") == "open");
    CHECK(tuple.at("contact") == "sip:alice@192.0.2.5");
    CHECK(tuple.at("device_id") == "urn:x-mac:0003ba4811e3");
    CHECK(tuple.at("idle") == true);

    const json& tel = alice.at("telephony");
    CHECK(keys_of(tel) == sorted({"state", "stale", "source", "age_s", "message", "dialogs"}));
    CHECK(tel.at("state") == "ringing");
    CHECK(tel.at("stale") == false);
    REQUIRE(tel.at("dialogs").size() == 1);
    const json& d = tel.at("dialogs")[0];
    CHECK(keys_of(d) ==
          sorted({"id", "call_id", "local_tag", "remote_tag", "direction", "state", "event", "code", "local_identity",
                  "local_display", "remote_identity", "remote_display", "local_rendering", "remote_rendering"}));
    CHECK(d.at("code") == 180);
    CHECK(d.at("direction") == "recipient");
    CHECK(d.at("remote_display") == "Bob");

    const json& bob = rows[1];
    CHECK(bob.at("rich").at("state") == "not_configured");
    CHECK(bob.at("rich").at("source") == "");
    CHECK(bob.at("rich").at("age_s") == -1);
    CHECK(bob.at("rich").at("entries") == json::array());
    CHECK(bob.at("telephony").at("dialogs") == json::array());

    // A closed tuple and a dialog without a code.
    s.views[0].rich.entries[1].open = false;
    s.views[0].telephony.dialogs[0].code.reset();
    const json again = result(s, "users").at("users")[0];
    CHECK(again.at("rich").at("entries")[1].at("basic") == "closed");
    CHECK(again.at("telephony").at("dialogs")[0].at("code").is_null());
}

TEST_CASE("user shows one user with every source", "[protocol]") {
    FakeServices s;
    const json u = result(s, "user", {{"username", "alice"}});
    // Everything users gives, and more.
    const json row = result(s, "users", {{"user", "alice"}}).at("users")[0];
    for (auto it = row.begin(); it != row.end(); ++it) {
        INFO(it.key());
        REQUIRE(u.contains(it.key()));
        if (!it->is_object()) CHECK(u.at(it.key()) == *it);
    }
    CHECK(u.at("forced") == true);
    CHECK(u.at("forced_remaining_s") == 42);
    CHECK(u.at("watchers") == 2);
    REQUIRE(u.at("rich").at("sources").size() == 1);
    const json& src = u.at("rich").at("sources")[0];
    CHECK(keys_of(src) == sorted({"connector",
                                  "subscription",
                                  "state",
                                  "known",
                                  "message",
                                  "received_at",
                                  "age_s",
                                  "body",
                                  "body_error",
                                  "restored",
                                  "cached_state",
                                  "last_code",
                                  "last_reason",
                                  "last_state_reason",
                                  "why",
                                  "last_notify_at",
                                  "expires_at",
                                  "expires_in_s",
                                  "next_refresh_at",
                                  "next_refresh_in_s",
                                  "retries",
                                  "next_retry_at",
                                  "next_retry_in_s",
                                  "notifies",
                                  "list",
                                  "list_instance",
                                  "list_reason"}));
    CHECK(src.at("connector") == "pbx");
    CHECK(src.at("subscription") == "retrying");
    CHECK(src.at("body") == "ok");
    CHECK(src.at("received_at") == kFakeNow - 300);
    CHECK(src.at("age_s") == 300);
    CHECK(src.at("last_code") == 503);
    CHECK(src.at("last_reason") == "Service Unavailable");
    CHECK(src.at("last_state_reason") == "timeout");
    CHECK(src.at("expires_at") == 0);
    CHECK(src.at("expires_in_s") == -1);  // no dialog
    CHECK(src.at("next_refresh_in_s") == -1);
    CHECK(src.at("retries") == 2);
    CHECK(src.at("next_retry_in_s") == 40);
    CHECK(src.at("notifies") == 7);
    const json& tel = u.at("telephony").at("sources")[0];
    CHECK(tel.at("subscription") == "active");
    CHECK(tel.at("expires_in_s") == 3000);
    CHECK(tel.at("next_refresh_in_s") == 2500);
    CHECK(tel.at("next_retry_in_s") == -1);

    const json bob = result(s, "user", {{"username", "bob"}});
    CHECK(bob.at("forced") == false);
    CHECK(bob.at("forced_remaining_s") == 0);
    CHECK(bob.at("rich").at("sources") == json::array());
}

TEST_CASE("user reports a source's body and overdue times", "[protocol]") {
    FakeServices s;
    auto& src = s.views[0].rich.sources[0];
    auto body = [&] { return result(s, "user", {{"username", "alice"}}).at("rich").at("sources")[0]; };
    src.body_error = "malformed: not well-formed (invalid token)";
    CHECK(body().at("body") == "bad_body");
    CHECK(body().at("body_error") == src.body_error);
    src = {};
    src.connector = "pbx";
    CHECK(body().at("body") == "none");
    CHECK(body().at("known") == false);
    CHECK(body().at("age_s") == -1);
    CHECK(body().at("subscription") == "none");
    src.next_retry_at = kFakeNow - 3;  // due, not yet run: 0, never mistaken for -1
    CHECK(body().at("next_retry_in_s") == 0);
}

TEST_CASE("subscribe forces a subscription and reports it", "[protocol]") {
    FakeServices s;
    const json r = result(s, "subscribe", {{"username", "alice"}});
    REQUIRE(s.forced_calls.size() == 1);
    CHECK(s.forced_calls[0] == std::make_pair(std::string("alice"), 60));  // force_subscribe_seconds
    CHECK(keys_of(r) == sorted({"username", "seconds", "results"}));
    CHECK(r.at("username") == "alice");
    CHECK(r.at("seconds") == 60);
    REQUIRE(r.at("results").size() == 2);
    CHECK(r.at("results")[0] ==
          json{{"kind", "rich"}, {"connector", "pbx"}, {"action", "started"}, {"subscription", "subscribing"}});
    CHECK(r.at("results")[1].at("action") == "existing");

    (void)result(s, "subscribe", {{"username", "bob"}, {"seconds", 1}});
    (void)result(s, "subscribe", {{"username", "bob"}, {"seconds", 86'400}});
    CHECK(s.forced_calls[1].second == 1);
    CHECK(s.forced_calls[2].second == 86'400);

    // The service's errors come through, with a code of the closed set.
    s.force_error = util::Error{"not_found", "alice left"};
    CHECK(error_code(request(s, "subscribe", {{"username", "alice"}})) == "not_found");
    s.force_error = util::Error{"exploded", "no pacer"};
    const json odd = request(s, "subscribe", {{"username", "alice"}});
    CHECK(error_code(odd) == "internal");
    CHECK(odd.at("error").at("message") == "no pacer");
}

TEST_CASE("watch registers the connection's watch", "[protocol][watch]") {
    FakeServices s;
    RecordingSession session;
    CHECK(result(s, "watch", json::object(), &session) == json{{"watching", "all"}});
    CHECK(result(s, "watch", {{"users", json::array()}}, &session) == json{{"watching", "all"}});
    CHECK(result(s, "watch", {{"users", {"bob", "alice", "bob"}}}, &session) == json{{"watching", {"bob", "alice"}}});
    REQUIRE(session.watch_ids == std::vector<uint64_t>{1, 2, 3});
    CHECK(s.watches.at(3).usernames == std::vector<std::string>{"bob", "alice"});
    CHECK(s.watches.at(1).usernames.empty());

    // Without a connection there is nothing to stream to.
    CHECK(error_code(request(s, "watch", json::object())) == "internal");
    // The service's refusal is passed on; nothing is registered.
    s.watch_error = util::Error{"busy", "too many watchers"};
    CHECK(error_code(request(s, "watch", json::object(), &session)) == "busy");
    CHECK(session.watch_ids.size() == 3);
}

TEST_CASE("watch sinks send the named users' events and every connector event", "[protocol][watch]") {
    FakeServices s;
    RecordingSession only_bob, everyone;
    (void)result(s, "watch", {{"users", {"bob"}}}, &only_bob);
    (void)result(s, "watch", json::object(), &everyone);
    s.emit(presence_event("alice", "away"));
    s.emit(presence_event("bob", "busy"));
    presence::Event k;
    k.type = presence::Event::Type::connector;
    k.connector = "pbx";
    k.state = "connected";
    k.previous = "connection_error";
    k.cause = "200 OK";
    k.at = 2001;
    s.emit(k);

    REQUIRE(only_bob.lines.size() == 2);
    REQUIRE(everyone.lines.size() == 3);
    const json bob = json::parse(only_bob.lines[0]);
    CHECK(bob == json{{"event", "presence"},
                      {"username", "bob"},
                      {"kind", "rich"},
                      {"state", "busy"},
                      {"previous", "available"},
                      {"source", "pbx"},
                      {"stale", false},
                      {"message", "Lunch"},
                      {"at", 2000}});
    CHECK(json::parse(everyone.lines[0]).at("username") == "alice");
    const json conn = json::parse(everyone.lines[2]);
    CHECK(conn == json{{"event", "connector"},
                       {"connector", "pbx"},
                       {"status", "connected"},
                       {"previous", "connection_error"},
                       {"cause", "200 OK"},
                       {"at", 2001}});
    CHECK(only_bob.lines[1] == everyone.lines[2]);
    for (const auto& line : everyone.lines) CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("a refused reload is a config_error", "[protocol]") {
    FakeServices s;
    const json a = call(s, R"({"v":1,"id":1,"cmd":"reload"})");
    CHECK(error_code(a) == "config_error");
    CHECK(a.at("error").at("message").get<std::string>().find("test.toml:3:1: broken") != std::string::npos);
    CHECK(s.reloads == 1);
}

TEST_CASE("answers survive invalid UTF-8 in what they echo", "[protocol]") {
    FakeServices s;
    const std::string line = std::string(R"({"v":1,"id":1,"cmd":"users","args":{"user":")") + "\xff\xfe" + R"("}})";
    // nlohmann rejects invalid UTF-8 in input: a bad_request, not a crash.
    CHECK(error_code(call(s, line)) == "bad_request");
    // Invalid UTF-8 from the daemon's side (a PIDF note) is replaced, not thrown.
    s.views[0].rich.message = "caf\xe9";
    CHECK(result(s, "users").at("users")[0].at("rich").at("message").get<std::string>().find("caf") == 0);
    presence::Event e = presence_event("alice", "away");
    e.message = "\xff";
    CHECK(json::parse(event_line(e)).at("message").is_string());
}

TEST_CASE("note sets and clears a user's note, and checks its text", "[protocol][admin]") {
    FakeServices s;
    json a = request(s, "note", {{"username", "alice"}, {"text", "On leave"}});
    REQUIRE(a.at("ok") == true);
    CHECK(a.at("result").at("note") == "On leave");
    CHECK(s.notes.at("alice") == "On leave");
    a = request(s, "note", {{"username", "alice"}, {"text", ""}});
    REQUIRE(a.at("ok") == true);
    CHECK(s.notes.at("alice").empty());
    CHECK(request(s, "note", {{"username", "nobody"}, {"text", "x"}}).at("error").at("code") == "not_found");
    CHECK(request(s, "note", {{"text", "x"}}).at("error").at("code") == "invalid_argument");
    CHECK(request(s, "note", {{"username", "alice"}, {"text", "two\nlines"}}).at("error").at("code") ==
          "invalid_argument");
    CHECK(request(s, "note", {{"username", "alice"}, {"text", std::string(1025, 'x')}}).at("error").at("code") ==
          "invalid_argument");
    CHECK(request(s, "note", {{"username", "alice"}, {"text", 7}}).at("error").at("code") == "bad_request");
}

TEST_CASE("import_users reports every bad row and whether it applied", "[protocol][admin]") {
    FakeServices s;
    json a = request(s, "import_users", {{"path", "/users.csv"}});
    REQUIRE(a.at("ok") == true);
    CHECK(a.at("result").at("applied") == false);
    CHECK(a.at("result").at("imported") == 0);
    REQUIRE(a.at("result").at("errors").size() == 1);
    CHECK(a.at("result").at("errors").at(0).at("line") == 3);
    CHECK(a.at("result").at("errors").at(0).at("code") == "bad_uri");
    a = request(s, "import_users", {{"path", "/users.csv"}, {"partial", true}});
    CHECK(a.at("result").at("applied") == true);
    CHECK(a.at("result").at("imported") == 2);
    CHECK(request(s, "import_users", {{"path", "users.csv"}}).at("error").at("code") == "invalid_argument");
    CHECK(request(s, "import_users", {{"path", "/missing.csv"}}).at("error").at("code") == "not_found");
    CHECK(request(s, "import_users", {{"path", "/u.csv"}, {"partial", "yes"}}).at("error").at("code") == "bad_request");
}

TEST_CASE("connector_restart restarts a known connector only", "[protocol][admin]") {
    FakeServices s;
    json a = request(s, "connector_restart", {{"name", "pbx"}});
    REQUIRE(a.at("ok") == true);
    CHECK(a.at("result").at("restarted") == true);
    CHECK(s.restarted == std::vector<std::string>{"pbx"});
    CHECK(request(s, "connector_restart", {{"name", "nope"}}).at("error").at("code") == "not_found");
    CHECK(request(s, "connector_restart", json::object()).at("error").at("code") == "invalid_argument");
}
