// Contract: the man pages are the manual, so everything a user can type or
// read must be in them: every control command, every JSON key the commands
// emit, every error code, every config key, every connector status and
// presence state, and every command-line option.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "connector/health.hpp"
#include "control/wire.hpp"
#include "fake_services.hpp"
#include "subscription/status.hpp"

using namespace presenced;
using control::json;

namespace {

std::string man(const std::string& page) {
    std::ifstream in(std::string(PROJECT_SOURCE_DIR "/man/") + page);
    REQUIRE(in.good());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// True when word appears as a whole mdoc argument: " word" followed by an
// end of word (space, newline, punctuation), so "user" is not found in "users".
bool has_word(const std::string& text, const std::string& word) {
    size_t pos = 0;
    while ((pos = text.find(word, pos)) != std::string::npos) {
        const char before = pos == 0 ? ' ' : text[pos - 1];
        const char after = pos + word.size() < text.size() ? text[pos + word.size()] : '\n';
        const bool starts = before == ' ' || before == '"' || before == '\n';
        const bool ends = !(std::isalnum(static_cast<unsigned char>(after)) || after == '_' || after == '-');
        if (starts && ends) return true;
        ++pos;
    }
    return false;
}

void collect_keys(const json& j, std::set<std::string>& keys) {
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) {
            keys.insert(it.key());
            collect_keys(it.value(), keys);
        }
    } else if (j.is_array()) {
        for (const auto& e : j) collect_keys(e, keys);
    }
}

}  // namespace

// Records the watch stream's lines, as a connection would carry them.
struct StreamSession : control::Session {
    std::vector<std::string> lines;
    void set_watch(uint64_t) override {}
    void send_event(std::string line) override { lines.push_back(std::move(line)); }
};

TEST_CASE("every control command and its JSON keys are in presencectl(8)", "[contract]") {
    const std::string page = man("presencectl.8");
    control::FakeServices services;  // its views fill every key: entries, dialogs, sources
    StreamSession session;
    // The arguments that make each command answer with everything it has.
    const std::map<std::string, json> args = {{"user", {{"username", "alice"}}},
                                              {"subscribe", {{"username", "alice"}}},
                                              {"note", {{"username", "alice"}, {"text", "On leave"}}},
                                              {"import_users", {{"path", "/users.csv"}, {"partial", true}}},
                                              {"connector_restart", {{"name", "pbx"}}}};
    for (const auto& command : control::command_table()) {
        const std::string name(command.name);
        INFO("command " << name);
        CHECK(page.find(".Ic " + name) != std::string::npos);
        if (name == "reload") continue;  // answered from a fake reload below
        const json request = {
            {"v", 1}, {"id", 1}, {"cmd", name}, {"args", args.count(name) ? args.at(name) : json::object()}};
        const json answer = json::parse(control::dispatch(services, request.dump(), &session));
        REQUIRE(answer.at("ok") == true);
        std::set<std::string> keys;
        collect_keys(answer.at("result"), keys);
        for (const auto& key : keys) {
            INFO("JSON key " << key);
            CHECK(has_word(page, key));
        }
    }
    // The watch stream's lines.
    presence::Event change;
    change.username = "alice";
    presence::Event connector;
    connector.type = presence::Event::Type::connector;
    services.emit(change);
    services.emit(connector);
    REQUIRE(session.lines.size() == 2);
    for (const auto& line : session.lines) {
        std::set<std::string> keys;
        collect_keys(json::parse(line), keys);
        CHECK(keys.size() > 5);
        for (const auto& key : keys) {
            INFO("watch event key " << key);
            CHECK(has_word(page, key));
        }
    }
    for (const char* key : {"restart_required", "config_file", "connectors", "users", "at", "ok", "errors"}) {
        INFO("reload key " << key);
        CHECK(has_word(page, key));
    }
    for (const char* envelope : {"v", "id", "cmd", "args", "ok", "result", "error", "code", "message"}) {
        INFO("envelope key " << envelope);
        CHECK(has_word(page, envelope));
    }
}

TEST_CASE("every error code is in presencectl(8)", "[contract]") {
    const std::string page = man("presencectl.8");
    for (auto code : control::error_code_names()) {
        INFO(code);
        CHECK(has_word(page, std::string(code)));
    }
}

TEST_CASE("every config key is in presenced.toml(5)", "[contract]") {
    const std::string page = man("presenced.toml.5");
    for (const auto& key : config::known_keys()) {
        const std::string name = key.substr(key.find('.') + 1), table = key.substr(0, key.find('.'));
        INFO(key);
        CHECK(page.find(".It Cm " + name) != std::string::npos);
        CHECK(has_word(page, table));
    }
}

TEST_CASE("every subscription status and presence value is in presencectl(8)", "[contract]") {
    const std::string ctl = man("presencectl.8");
    for (auto s : subscription::status_names()) {
        INFO("subscription status " << s);
        CHECK(has_word(ctl, std::string(s)));
    }
    // Values of the presence keys: body, action, entry kind, basic,
    // watching, event.
    for (const char* value : {"none", "ok", "bad_body", "started", "existing", "not_configured", "tuple", "person",
                              "device", "open", "closed", "all", "presence", "connector"}) {
        INFO("value " << value);
        CHECK(has_word(ctl, value));
    }
}

TEST_CASE("every status and state name is in the man pages", "[contract]") {
    const std::string daemon = man("presenced.8"), ctl = man("presencectl.8");
    for (auto s : connector::status_names()) {
        INFO(s);
        CHECK(has_word(daemon, std::string(s)));
    }
    for (auto s : presence::rich_state_names()) {
        INFO(s);
        CHECK(has_word(daemon, std::string(s)));
    }
    for (auto s : presence::telephony_state_names()) {
        INFO(s);
        CHECK(has_word(daemon, std::string(s)));
    }
}

TEST_CASE("every command-line option is in its man page", "[contract]") {
    const std::string daemon = man("presenced.8"), ctl = man("presencectl.8");
    for (const char* flag : {"d", "f", "h", "n", "v"}) {
        INFO("presenced -" << flag);
        CHECK(daemon.find(std::string("Fl ") + flag) != std::string::npos);
    }
    for (const char* flag : {"h", "j", "q", "s"}) {
        INFO("presencectl -" << flag);
        CHECK(ctl.find(std::string("Fl ") + flag) != std::string::npos);
    }
    for (const char* option : {"user", "rich", "telephony", "seconds"}) {
        INFO("presencectl --" << option);
        CHECK(ctl.find(std::string("Fl -") + option) != std::string::npos);
    }
    CHECK(has_word(ctl, "PRESENCECTL_SOCKET"));
}
