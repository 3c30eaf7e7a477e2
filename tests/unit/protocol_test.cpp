// Control protocol: envelope checks, answers, argument checks and dispatch
// against a fixed model (no socket; the integration tests cover that).
#include <catch2/catch.hpp>

#include "control/commands.hpp"
#include "fake_services.hpp"

using namespace presenced;
using namespace presenced::control;

namespace {

json call(Services& s, const std::string& line) {
    const std::string answer = dispatch(s, line);
    REQUIRE(answer.find('\n') == std::string::npos);
    return json::parse(answer);
}

std::string error_code(const json& answer) {
    REQUIRE(answer.at("ok") == false);
    return answer.at("error").at("code").get<std::string>();
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
             Case{R"({"v":1,"id":3,"cmd":"users","args":{"rich":5}})", "bad_request", 3},
             Case{R"({"v":1,"id":3,"cmd":"users","args":{"rich":"sleepy"}})", "invalid_argument", 3},
             Case{R"({"v":1,"id":3,"cmd":"users","args":{"telephony":"sleepy"}})", "invalid_argument", 3},
         }) {
        INFO(c.line);
        const json answer = call(s, c.line);
        CHECK(answer.at("v") == 1);
        CHECK(answer.at("id") == c.id);
        CHECK(error_code(answer) == c.code);
        CHECK_FALSE(answer.at("error").at("message").get<std::string>().empty());
    }
}

TEST_CASE("version lists every command of the table", "[protocol]") {
    FakeServices s;
    const json a = call(s, R"({"v":1,"id":"q","cmd":"version"})");
    REQUIRE(a.at("ok") == true);
    CHECK(a.at("id") == "q");
    CHECK(a.at("result").at("protocol") == 1);
    CHECK(a.at("result").at("commands") == json{"version", "status", "connectors", "users", "reload"});
}

TEST_CASE("status counts and times", "[protocol]") {
    FakeServices s;
    const json r = call(s, R"({"v":1,"id":1,"cmd":"status"})").at("result");
    CHECK(r.at("uptime_s") == 42);
    CHECK(r.at("started_at") == 1000);
    CHECK(r.at("connectors") == 2);
    CHECK(r.at("connectors_enabled") == 1);
    CHECK(r.at("users") == 2);
    CHECK(r.at("config_file") == "test.toml");
    CHECK(r.at("last_reload").is_null());
}

TEST_CASE("connectors report status, cause and preference", "[protocol]") {
    FakeServices s;
    const json rows = call(s, R"({"v":1,"id":1,"cmd":"connectors"})").at("result").at("connectors");
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].at("name") == "pbx");
    CHECK(rows[0].at("status") == "connection_error");
    CHECK(rows[0].at("cause") == "not started");
    CHECK(rows[0].at("positive") == false);
    CHECK(rows[0].at("preferred") == true);
    CHECK(rows[0].at("since") == 1000);
    CHECK(rows[1].at("status") == "disabled");
    CHECK(rows[1].at("preferred") == false);
}

TEST_CASE("users with filters", "[protocol]") {
    FakeServices s;
    auto names = [&](const std::string& args) {
        const json rows = call(s, R"({"v":1,"id":1,"cmd":"users","args":)" + args + "}").at("result").at("users");
        std::vector<std::string> out;
        for (const auto& u : rows) out.push_back(u.at("username"));
        return out;
    };
    CHECK(names("{}") == std::vector<std::string>{"alice", "bob"});
    CHECK(names(R"({"user":"SALES"})") == std::vector<std::string>{"alice"});
    CHECK(names(R"({"user":"example"})") == std::vector<std::string>{"alice"});
    CHECK(names(R"({"rich":"not_configured"})") == std::vector<std::string>{"bob"});
    CHECK(names(R"({"telephony":"unknown"})") == std::vector<std::string>{"alice"});
    CHECK(names(R"({"telephony":"not_configured","user":"b"})") == std::vector<std::string>{"bob"});
    const json alice = call(s, R"({"v":1,"id":1,"cmd":"users"})").at("result").at("users").at(0);
    CHECK(alice.at("telephony_uri") == "sip:1001@example.com");
    CHECK(alice.at("rich").at("state") == "unknown");
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
}
