// presencectl against the real daemon: every command as a text table and
// as -j JSON, exit statuses (0 ok, 1 daemon error, 2 usage, 3 not running),
// how the socket is chosen (-s, PRESENCECTL_SOCKET), and -q.
#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support/control_client.hpp"
#include "support/daemon_fixture.hpp"

using namespace presenced::test;

namespace {

using Row = std::map<std::string, std::string>;

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

std::string trim(std::string s) {
    while (!s.empty() && s.back() == ' ') s.pop_back();
    size_t start = 0;
    while (start < s.size() && s[start] == ' ') ++start;
    return s.substr(start);
}

// Splits a presencectl table at the header's column starts (header names
// are separated by two or more spaces; a name may hold one space, as in
// "DISPLAY NAME"). Returns the header names and one map per row.
struct Table {
    std::vector<std::string> header;
    std::vector<Row> rows;
    const Row* find(const std::string& column, const std::string& value) const {
        for (const auto& r : rows)
            if (r.count(column) && r.at(column) == value) return &r;
        return nullptr;
    }
};

Table parse_table(const std::string& text) {
    Table t;
    const auto lines = lines_of(text);
    if (lines.empty()) return t;
    const std::string& head = lines[0];
    std::vector<size_t> starts;
    for (size_t i = 0; i < head.size();) {
        starts.push_back(i);
        size_t end = head.find("  ", i);
        if (end == std::string::npos) end = head.size();
        t.header.push_back(head.substr(i, end - i));
        i = head.find_first_not_of(' ', end);
        if (i == std::string::npos) break;
    }
    for (size_t l = 1; l < lines.size(); ++l) {
        Row row;
        for (size_t c = 0; c < starts.size(); ++c) {
            const size_t from = starts[c];
            const size_t to = c + 1 < starts.size() ? starts[c + 1] : std::string::npos;
            row[t.header[c]] =
                from < lines[l].size() ? trim(lines[l].substr(from, to == std::string::npos ? to : to - from)) : "";
        }
        t.rows.push_back(row);
    }
    return t;
}

// stdout parsed as exactly one JSON document (parse fails on trailing text).
json parse_one_document(const RunResult& r) {
    INFO("stdout: " << r.out);
    json doc = json::parse(r.out, nullptr, false);
    REQUIRE_FALSE(doc.is_discarded());
    return doc;
}

void check_ok(const RunResult& r) {
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());
}

void check_usage_error(const RunResult& r) {
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find("usage: presencectl") != std::string::npos);
}

void check_not_running(const RunResult& r) {
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.out.empty());
    CHECK(r.err.find("not running") != std::string::npos);
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

// Plays the daemon on a socket of its own: presencectl runs with args
// against it; accept() gives the test its connection.
class FakeDaemon {
public:
    explicit FakeDaemon(const std::vector<std::string>& args) : path_(dir_.file("fake.sock")) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(fd_, 4) == 0);
        std::vector<std::string> argv = {PRESENCECTL_BIN, "-s", path_};
        argv.insert(argv.end(), args.begin(), args.end());
        process_ = std::make_unique<Process>(SpawnOptions{argv, {}, Output::to_pipe(), Output::to_pipe()});
    }
    ~FakeDaemon() {
        if (fd_ >= 0) ::close(fd_);
    }
    // presencectl's connection, or nullopt when it did not connect in time.
    std::optional<ControlClient> accept() {
        pollfd pfd{fd_, POLLIN, 0};
        const int conn = ::poll(&pfd, 1, kCommandTimeoutMs) == 1 ? ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC) : -1;
        ::close(fd_);
        fd_ = -1;
        if (conn < 0) return std::nullopt;
        return ControlClient::adopt(conn);
    }
    Process& process() { return *process_; }
    // Reads presencectl's stdout until it holds needle; what was read is kept
    // and put before the rest by finish().
    bool wait_for_output(std::string_view needle) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kCommandTimeoutMs);
        char buf[4096];
        while (seen_.find(needle) == std::string::npos) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{process_->stdout_fd(), POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            const ssize_t n = ::read(process_->stdout_fd(), buf, sizeof buf);
            if (n <= 0) return false;
            seen_.append(buf, static_cast<size_t>(n));
        }
        return true;
    }
    RunResult finish() {
        RunResult r = process_->finish(kCommandTimeoutMs);
        r.out = seen_ + r.out;
        return r;
    }

private:
    TempDir dir_;
    std::string path_;
    int fd_ = -1;
    std::unique_ptr<Process> process_;
    std::string seen_;
};

RunResult with_fake_daemon(const std::vector<std::string>& args, const std::function<void(ControlClient&)>& play) {
    FakeDaemon daemon(args);
    bool connected = false;
    {
        auto c = daemon.accept();
        connected = c.has_value();
        if (c) play(*c);
    }  // closed here
    RunResult r = daemon.finish();
    INFO("stderr: " << r.err);
    REQUIRE(connected);
    return r;
}

// Answers the request read from c with ok and result.
json answer_ok(ControlClient& c, const json& result) {
    const json request = c.read_answer(kCommandTimeoutMs);
    c.send_all(json{{"v", 1}, {"id", request.value("id", json())}, {"ok", true}, {"result", result}}.dump() + "\n");
    return request;
}

}  // namespace

TEST_CASE("presencectl: version in text and JSON", "[presencectl]") {
    DaemonFixture d;
    const RunResult text = d.presencectl({"version"});
    check_ok(text);
    const std::string version = d.result("version").at("version");
    CHECK(text.out.find("presenced " + version + ", protocol 1\n") == 0);
    CHECK(text.out.find("commands: version status connectors users reload user subscribe watch note import_users "
                        "connector_restart\n") != std::string::npos);

    const RunResult j = d.presencectl({"-j", "version"});
    check_ok(j);
    json doc = parse_one_document(j);
    CHECK(doc.at("version") == version);
    CHECK(doc.at("protocol") == 1);
    CHECK(doc.at("commands").size() == 11);
}

TEST_CASE("presencectl: status in text and JSON", "[presencectl]") {
    DaemonFixture d;
    const RunResult text = d.presencectl({"status"});
    check_ok(text);
    std::map<std::string, std::string> fields;
    for (const auto& line : lines_of(text.out)) {
        const size_t colon = line.find(':');
        REQUIRE(colon != std::string::npos);
        fields[line.substr(0, colon)] = trim(line.substr(colon + 1));
    }
    INFO(text.out);
    CHECK(fields["pid"] == std::to_string(d.process().pid()));
    CHECK(fields["config file"] == d.config_path());
    CHECK(fields["control socket"] == d.socket_path());
    CHECK(fields["log level"] == "info");
    CHECK(fields["connectors"] == "3 (2 enabled)");
    CHECK(fields["users"] == "3");
    CHECK(fields["last reload"] == "never");
    CHECK(fields["version"].find("(protocol 1)") != std::string::npos);
    CHECK(fields["uptime"].find("(since 20") != std::string::npos);

    REQUIRE(d.presencectl({"-q", "reload"}).exit_code == 0);
    const RunResult good = d.presencectl({"status"});
    check_ok(good);
    CHECK(good.out.find(" ago, ok\n") != std::string::npos);

    // After a failed reload the line says so, with the first error.
    d.write_raw_config(d.config_text(standard_config()) + "\nstray = 1\n");
    REQUIRE(d.presencectl({"reload"}).exit_code == 1);
    const RunResult after = d.presencectl({"status"});
    check_ok(after);
    CHECK(after.out.find("failed: " + d.config_path() + ":") != std::string::npos);

    const RunResult j = d.presencectl({"-j", "status"});
    check_ok(j);
    json doc = parse_one_document(j);
    for (const char* key : {"version", "protocol", "pid", "started_at", "uptime_s", "config_file", "control_socket",
                            "log_level", "connectors", "connectors_enabled", "users", "last_reload"})
        CHECK(doc.contains(key));
    CHECK(doc.at("pid") == d.process().pid());
    CHECK(doc.at("last_reload").at("ok") == false);
}

TEST_CASE("presencectl: connectors in text and JSON", "[presencectl]") {
    DaemonFixture d;
    const RunResult text = d.presencectl({"connectors"});
    check_ok(text);
    INFO(text.out);
    const Table t = parse_table(text.out);
    CHECK(t.header == std::vector<std::string>{"NAME", "ENABLED", "SERVER", "TRANSPORT", "STATUS", "SINCE", "CAUSE",
                                               "PREFERRED", "SUBSCRIPTIONS"});
    REQUIRE(t.rows.size() == 3);
    const Row* pbx = t.find("NAME", "pbx");
    REQUIRE(pbx != nullptr);
    CHECK(pbx->at("ENABLED") == "yes");
    CHECK(pbx->at("SERVER") == "127.0.0.10:9");
    CHECK(pbx->at("TRANSPORT") == "udp");
    CHECK(pbx->at("STATUS") == "connection_error");
    CHECK(pbx->at("CAUSE") != "-");  // its wording is the connector tests' business
    CHECK(pbx->at("PREFERRED") == "yes");
    CHECK(pbx->at("SINCE").back() == 's');  // "0s", "1s": a compact duration
    const Row* presence = t.find("NAME", "presence");
    REQUIRE(presence != nullptr);
    CHECK(presence->at("ENABLED") == "no");
    CHECK(presence->at("STATUS") == "disabled");
    CHECK(presence->at("PREFERRED") == "-");
    CHECK(presence->at("SUBSCRIPTIONS") == "-");  // disabled: none
    const Row* spare = t.find("NAME", "spare");
    REQUIRE(spare != nullptr);
    CHECK(spare->at("SERVER") == "-");  // empty cells print as "-"
    CHECK(spare->at("STATUS") == "not_configured");
    CHECK(spare->at("PREFERRED") == "-");
    CHECK(spare->at("SUBSCRIPTIONS") == "-");  // no server: none

    const RunResult j = d.presencectl({"-j", "connectors"});
    check_ok(j);
    json doc = parse_one_document(j);
    REQUIRE(doc.at("connectors").size() == 3);
    const json& first = doc.at("connectors")[0];
    CHECK(first.at("name") == "spare");
    CHECK(first.at("status") == "not_configured");
    CHECK(first.at("preferred") == false);
    CHECK(first.at("since").is_number_integer());  // raw epoch seconds, not "3s"
    CHECK(doc.at("connectors")[1].at("preferred") == true);
    CHECK(first.at("subscriptions").at("active") == 0);
}

TEST_CASE("presencectl: users in text and JSON with filters", "[presencectl]") {
    DaemonFixture d;
    const RunResult text = d.presencectl({"users"});
    check_ok(text);
    INFO(text.out);
    const Table t = parse_table(text.out);
    CHECK(t.header == std::vector<std::string>{"USER", "NAME", "DEPARTMENT", "RICH", "TELEPHONY", "SOURCE"});
    REQUIRE(t.rows.size() == 3);
    const Row* alice = t.find("USER", "alice");
    REQUIRE(alice != nullptr);
    CHECK(alice->at("NAME") == "Alice Example");
    CHECK(alice->at("DEPARTMENT") == "Sales");
    CHECK(alice->at("RICH") == "unknown");  // no "?": nothing is known, so nothing is stale
    CHECK(alice->at("TELEPHONY") == "unknown");
    CHECK(alice->at("SOURCE") == "-");
    const Row* bob = t.find("USER", "bob");
    REQUIRE(bob != nullptr);
    CHECK(bob->at("RICH") == "not_configured");
    const Row* carol = t.find("USER", "carol");
    REQUIRE(carol != nullptr);
    CHECK(carol->at("DEPARTMENT") == "-");
    CHECK(carol->at("TELEPHONY") == "not_configured");

    const RunResult filtered = d.presencectl({"users", "--user", "SUPP"});
    check_ok(filtered);
    const Table ft = parse_table(filtered.out);
    REQUIRE(ft.rows.size() == 1);
    CHECK(ft.rows[0].at("USER") == "bob");

    const RunResult none = d.presencectl({"users", "--telephony", "busy"});
    check_ok(none);
    CHECK(lines_of(none.out).size() == 1);  // the header alone

    const RunResult j = d.presencectl({"-j", "users", "--rich", "unknown", "--telephony", "unknown"});
    check_ok(j);
    json doc = parse_one_document(j);
    REQUIRE(doc.at("users").size() == 1);
    const json& u = doc.at("users")[0];
    CHECK(u.at("username") == "alice");
    CHECK(u.at("telephony_uri") == "sip:1001@pbx.example.com");
    CHECK(u.at("rich").at("state") == "unknown");
    CHECK(u.at("rich").at("stale") == true);
    CHECK(u.at("rich").at("age_s") == -1);
    CHECK(u.at("rich").at("entries") == json::array());
    CHECK(u.at("telephony").at("dialogs") == json::array());
    CHECK(u.at("note") == "");
}

TEST_CASE("presencectl: reload in text and JSON", "[presencectl]") {
    DaemonFixture d;
    const RunResult text = d.presencectl({"reload"});
    check_ok(text);
    CHECK(text.out == "reloaded " + d.config_path() + ": 3 connectors, 3 users\n");

    const std::string moved =
        replace_all(d.config_text(standard_config()), d.socket_path(), d.dir().file("moved.sock"));
    d.write_raw_config(moved + "\n[[user]]\nusername = \"dave\"\n");
    const RunResult j = d.presencectl({"-j", "reload"});
    check_ok(j);
    json doc = parse_one_document(j);
    CHECK(doc.at("config_file") == d.config_path());
    CHECK(doc.at("connectors") == 3);
    CHECK(doc.at("users") == 4);
    CHECK(doc.at("restart_required") == json::array({"daemon.control_socket"}));

    d.write_raw_config(replace_all(moved, "[daemon]\n", "[daemon]\ncontrol_mode = \"0600\"\n"));
    const RunResult mode = d.presencectl({"reload"});
    check_ok(mode);
    CHECK(mode.out.find("reloaded " + d.config_path() + ": 3 connectors, 3 users\n") == 0);
    // Still pending: the socket has not moved.
    CHECK(mode.out.find("changed, applies at the next restart: daemon.control_socket\n") != std::string::npos);
    CHECK(mode.out.find("changed, applies at the next restart: daemon.control_mode\n") != std::string::npos);
}

TEST_CASE("presencectl: daemon errors exit 1 with the message and code", "[presencectl][exit]") {
    DaemonFixture d;
    const RunResult bad = d.presencectl({"users", "--rich", "bogus"});
    INFO(bad.err);
    CHECK(bad.exit_code == 1);
    CHECK(bad.out.empty());
    CHECK(bad.err.find("unknown rich state") != std::string::npos);
    CHECK(bad.err.find("bogus") != std::string::npos);
    CHECK(bad.err.find("(invalid_argument)") != std::string::npos);

    // With -j the error is also one JSON document on stdout.
    const RunResult j = d.presencectl({"-j", "users", "--telephony", "bogus"});
    CHECK(j.exit_code == 1);
    json doc = parse_one_document(j);
    CHECK(doc.at("error").at("code") == "invalid_argument");

    d.write_raw_config(d.config_text(standard_config()) + "\n[[user]]\nusername = \"\"\n");
    const RunResult reload = d.presencectl({"reload"});
    CHECK(reload.exit_code == 1);
    CHECK(reload.err.find("(config_error)") != std::string::npos);
    CHECK(reload.err.find(d.config_path() + ":") != std::string::npos);
}

TEST_CASE("presencectl: usage errors exit 2 without contacting the daemon", "[presencectl][exit]") {
    // No daemon at all: a usage error must be found before connecting.
    TempDir dir;
    const std::string sock = dir.file("none.sock");
    check_usage_error(run_presencectl({"-s", sock}));                                 // no command
    check_usage_error(run_presencectl({}));                                           // nothing at all
    check_usage_error(run_presencectl({"-s", sock, "frobnicate"}));                   // unknown command
    check_usage_error(run_presencectl({"-s", sock, "-x", "status"}));                 // unknown option
    check_usage_error(run_presencectl({"-s"}));                                       // -s without its value
    check_usage_error(run_presencectl({"-s", sock, "users", "--rich"}));              // option value missing
    check_usage_error(run_presencectl({"-s", sock, "users", "--colour", "x"}));       // unknown command option
    check_usage_error(run_presencectl({"-s", sock, "status", "--user", "x"}));        // option of another command
    check_usage_error(run_presencectl({"-s", sock, "users", "alice"}));               // stray argument
    check_usage_error(run_presencectl({"-s", sock, "user"}));                         // no name
    check_usage_error(run_presencectl({"-s", sock, "user", "alice", "bob"}));         // two names
    check_usage_error(run_presencectl({"-s", sock, "subscribe", "--seconds", "5"}));  // no name
    check_usage_error(run_presencectl({"-s", sock, "subscribe", "alice", "--seconds", "x"}));  // not a number
    check_usage_error(run_presencectl({"-s", sock, "subscribe", "alice", "--seconds", "5s"}));
    check_usage_error(run_presencectl({"-s", sock, "subscribe", "alice", "--seconds"}));
    check_usage_error(run_presencectl({"-s", sock, "watch", "--user", "alice"}));
    const RunResult unknown = run_presencectl({"-s", sock, "frobnicate"});
    CHECK(unknown.err.find("frobnicate") != std::string::npos);
}

TEST_CASE("presencectl: exits 3 when the daemon is not running", "[presencectl][exit]") {
    TempDir dir;
    SECTION("no socket file") { check_not_running(run_presencectl({"-s", dir.file("absent.sock"), "status"})); }
    SECTION("no directory") { check_not_running(run_presencectl({"-s", dir.file("absent/x.sock"), "status"})); }
    SECTION("a socket file nobody listens on") {
        const std::string path = dir.file("dead.sock");
        make_dead_socket(path);
        check_not_running(run_presencectl({"-s", path, "status"}));
    }
    SECTION("the socket of a killed daemon") {
        DaemonFixture d;
        d.process().kill();
        check_not_running(d.presencectl({"-j", "users"}));
    }
    SECTION("the socket of a daemon that stopped") {
        DaemonFixture d;
        REQUIRE(d.stop() == 0);
        check_not_running(d.presencectl({"version"}));
    }
}

TEST_CASE("presencectl: PRESENCECTL_SOCKET is used without -s and -s wins over it", "[presencectl]") {
    DaemonFixture d;
    TempDir elsewhere;
    const std::string pid = std::to_string(d.process().pid());
    const std::string bogus = elsewhere.file("bogus.sock");

    const RunResult from_env = run_presencectl({"-j", "status"}, {{{"PRESENCECTL_SOCKET", d.socket_path()}}, {}});
    check_ok(from_env);
    CHECK(parse_one_document(from_env).at("pid") == d.process().pid());

    const RunResult s_wins = run_presencectl({"-s", d.socket_path(), "status"}, {{{"PRESENCECTL_SOCKET", bogus}}, {}});
    check_ok(s_wins);
    CHECK(s_wins.out.find(pid) != std::string::npos);

    const RunResult s_wins_badly =
        run_presencectl({"-s", bogus, "status"}, {{{"PRESENCECTL_SOCKET", d.socket_path()}}, {}});
    check_not_running(s_wins_badly);
    CHECK(s_wins_badly.err.find(bogus) != std::string::npos);
}

TEST_CASE("presencectl: -q prints nothing on success", "[presencectl]") {
    DaemonFixture d;
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"version"}, {"status"}, {"connectors"}, {"users"}, {"reload"}, {"user", "alice"}}) {
        args.insert(args.begin(), "-q");
        const RunResult r = d.presencectl(args);
        INFO(args[1] << ": " << r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.out.empty());
        CHECK(r.err.empty());
    }
    CHECK(d.presencectl({"-q", "-j", "users"}).out.empty());
    // Errors are still reported.
    const RunResult bad = d.presencectl({"-q", "users", "--rich", "bogus"});
    CHECK(bad.exit_code == 1);
    CHECK(bad.err.find("(invalid_argument)") != std::string::npos);
}

TEST_CASE("presencectl: sends one well-formed request and ignores unknown answer fields", "[presencectl]") {
    json request;
    const RunResult r = with_fake_daemon({"users", "--user", "al", "--rich", "away"}, [&](ControlClient& c) {
        request = c.read_answer(kCommandTimeoutMs);
        // A newer daemon: fields presencectl does not know, a state object
        // with more keys, a missing column value.
        json answer = {
            {"v", 1},
            {"id", request.value("id", json())},
            {"ok", true},
            {"server_time", 1},
            {"result",
             {{"users", json::array({{{"username", "zed"},
                                      {"department", "Ops"},
                                      {"extension", "42"},
                                      {"rich", {{"state", "away"}, {"stale", true}, {"source", "pbx"}, {"since", 5}}},
                                      {"telephony", {{"state", "idle"}, {"source", "pbx"}}},
                                      {"future", true}},
                                     {{"username", "yan"},
                                      {"rich", {{"state", "busy"}, {"stale", false}, {"source", "presence"}}},
                                      {"telephony", {{"state", "idle"}, {"source", "pbx"}}}}})},
              {"next", "x"}}}};
        c.send_all(answer.dump() + "\n");
    });
    INFO("request: " << request.dump() << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK(request.at("v") == 1);
    CHECK((request.at("id").is_number_integer() || request.at("id").is_string()));
    CHECK(request.at("cmd") == "users");
    CHECK(request.at("args") == json{{"user", "al"}, {"rich", "away"}});
    CHECK(request.size() == 4);
    CHECK(r.exit_code == 0);
    const Table t = parse_table(r.out);
    REQUIRE(t.rows.size() == 2);
    CHECK(t.rows[0].at("USER") == "zed");
    CHECK(t.rows[0].at("NAME") == "-");
    CHECK(t.rows[0].at("RICH") == "away?");  // stale
    CHECK(t.rows[0].at("TELEPHONY") == "idle");
    CHECK(t.rows[0].at("SOURCE") == "pbx");
    CHECK(t.rows[1].at("RICH") == "busy");
    CHECK(t.rows[1].at("SOURCE") == "presence/pbx");  // rich/telephony from different connectors
}

TEST_CASE("presencectl: a daemon that hangs up or answers garbage is an error", "[presencectl][exit]") {
    SECTION("hang-up without an answer") {
        const RunResult r =
            with_fake_daemon({"status"}, [](ControlClient& c) { (void)c.read_line(kCommandTimeoutMs); });
        CHECK(r.exit_code == 1);
        CHECK(r.out.empty());
        CHECK(r.err.find("closed the connection") != std::string::npos);
    }
    SECTION("an answer that is not a JSON object") {
        const RunResult r = with_fake_daemon({"-j", "status"}, [](ControlClient& c) {
            (void)c.read_line(kCommandTimeoutMs);
            c.send_all("[1,2,3]\n");
        });
        CHECK(r.exit_code == 1);
        CHECK(r.out.empty());
        CHECK(r.err.find("not a JSON object") != std::string::npos);
    }
    SECTION("an error answer without a message") {
        const RunResult r = with_fake_daemon({"connectors"}, [](ControlClient& c) {
            json request = c.read_answer(kCommandTimeoutMs);
            c.send_all(json{{"v", 1}, {"id", request.value("id", json())}, {"ok", false}, {"error", {{"code", "busy"}}}}
                           .dump() +
                       "\n");
        });
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("(busy)") != std::string::npos);
    }
}

TEST_CASE("presencectl: user, subscribe and watch of an unknown user exit 1 with not_found", "[presencectl][exit]") {
    DaemonFixture d;
    for (std::vector<std::string> args :
         std::vector<std::vector<std::string>>{{"user", "nobody"},
                                               {"subscribe", "nobody"},
                                               {"subscribe", "nobody", "--seconds", "30"},
                                               {"watch", "alice", "nobody"}}) {
        const RunResult r = d.presencectl(args);
        INFO(args[0] << ": " << r.err);
        CHECK(r.exit_code == 1);
        CHECK(r.out.empty());
        CHECK(r.err.find("(not_found)") != std::string::npos);
        CHECK(r.err.find("nobody") != std::string::npos);
    }
    const RunResult j = d.presencectl({"-j", "watch", "nobody"});
    CHECK(j.exit_code == 1);
    CHECK(parse_one_document(j).at("error").at("code") == "not_found");
    const RunResult range = d.presencectl({"subscribe", "alice", "--seconds", "0"});
    CHECK(range.exit_code == 1);
    CHECK(range.err.find("(invalid_argument)") != std::string::npos);
}

TEST_CASE("presencectl: user prints key: value blocks with a line per source", "[presencectl]") {
    json request;
    const RunResult r = with_fake_daemon({"user", "carol"}, [&](ControlClient& c) {
        const json source = {{"connector", "pbx"},
                             {"subscription", "retrying"},
                             {"state", "away"},
                             {"known", true},
                             {"age_s", 760},
                             {"body", "ok"},
                             {"notifies", 3},
                             {"last_code", 503},
                             {"last_reason", "Service Unavailable"},
                             {"retries", 2},
                             {"next_retry_in_s", 80},
                             {"expires_in_s", -1},
                             {"why", "back-off"}};
        request = answer_ok(
            c, {{"username", "carol"},
                {"display_name", "Carol Jones"},
                {"forced", true},
                {"forced_remaining_s", 42},
                {"watchers", 1},
                {"rich",
                 {{"state", "away"},
                  {"stale", true},
                  {"source", "pbx"},
                  {"age_s", 760},
                  {"message", "Lunch"},
                  {"entries", {{{"kind", "person"}, {"id", "p1"}, {"activities", {"away"}}, {"basic", nullptr}}}},
                  {"sources", {source}}}},
                {"telephony",
                 {{"state", "busy"},
                  {"stale", false},
                  {"source", "pbx"},
                  {"age_s", 125},
                  {"dialogs",
                   {{{"id", "d1"},
                     {"direction", "initiator"},
                     {"state", "confirmed"},
                     {"remote_display", "Bob"},
                     {"remote_identity", "sip:1002@pbx"}}}},
                  {"sources", json::array()}}}});
    });
    INFO("stdout:\n" << r.out << "\nstderr: " << r.err);
    CHECK(request.at("args") == json{{"username", "carol"}});
    check_ok(r);
    std::map<std::string, std::string> fields;
    std::vector<std::string> keys;
    for (const auto& line : lines_of(r.out)) {
        if (line.empty()) continue;
        const size_t colon = line.find(':');
        REQUIRE(colon != std::string::npos);  // every line is key: value
        keys.push_back(line.substr(0, colon));
        fields[line.substr(0, colon)] = trim(line.substr(colon + 1));
    }
    CHECK(fields["username"] == "carol");
    CHECK(fields["display name"] == "Carol Jones");
    CHECK(fields["department"] == "-");
    CHECK(fields["forced"] == "yes, 42s left");
    CHECK(fields["watchers"] == "1");
    CHECK(fields["rich"] == "away (stale), from pbx, 12m40s ago");
    CHECK(fields["  message"] == "Lunch");
    CHECK(fields["  entry"] == "person p1: away");
    CHECK(fields["telephony"] == "busy, from pbx, 2m05s ago");
    CHECK(fields["  dialog"] == "d1: initiator confirmed; remote Bob <sip:1002@pbx>");
    const std::string& src = fields["  source pbx"];
    for (const char* part : {"retrying", "state away", "received 12m40s ago", "3 NOTIFYs",
                             "last response 503 Service Unavailable", "retry 3 in 1m20s", "back-off"})
        CHECK(src.find(part) != std::string::npos);
    CHECK(src.find("expires") == std::string::npos);  // -1: none
    CHECK(std::count(keys.begin(), keys.end(), "  source pbx") == 1);
}

TEST_CASE("presencectl: subscribe sends the name and seconds and prints the report", "[presencectl]") {
    json request;
    const RunResult r = with_fake_daemon({"subscribe", "dave", "--seconds", "120"}, [&](ControlClient& c) {
        request = answer_ok(
            c, {{"username", "dave"},
                {"seconds", 120},
                {"results",
                 {{{"kind", "rich"}, {"connector", "pbx"}, {"action", "started"}, {"subscription", "subscribing"}},
                  {{"kind", "telephony"}, {"connector", "pbx"}, {"action", "existing"}, {"subscription", "active"}}}}});
    });
    CHECK(request.at("args") == json{{"username", "dave"}, {"seconds", 120}});  // an integer, not "120"
    check_ok(r);
    const auto lines = lines_of(r.out);
    REQUIRE(lines.size() == 4);
    CHECK(lines[0] == "forced subscription of dave for 120s");
    std::string rest;
    for (size_t i = 1; i < lines.size(); ++i) rest += lines[i] + "\n";
    const Table t = parse_table(rest);
    CHECK(t.header == std::vector<std::string>{"KIND", "CONNECTOR", "ACTION", "SUBSCRIPTION"});
    CHECK(t.rows[1].at("ACTION") == "existing");
    CHECK(t.rows[1].at("SUBSCRIPTION") == "active");
}

TEST_CASE("presencectl: watch -j prints the event lines and nothing else", "[presencectl][watch]") {
    const std::string presence_line =
        R"({"at":1795774502,"event":"presence","kind":"rich","message":"Lunch","previous":"available",)"
        R"("source":"pbx","stale":false,"state":"away","username":"alice"})";
    const std::string connector_line =
        R"({"at":1795774503,"cause":"timeout","connector":"pbx","event":"connector","previous":"connected",)"
        R"("status":"connection_error"})";
    json request;
    const RunResult r = with_fake_daemon({"-j", "watch", "alice", "bob"}, [&](ControlClient& c) {
        request = answer_ok(c, {{"watching", {"alice", "bob"}}});
        c.send_all(presence_line + "\n" + R"({"v":1,"id":9,"ok":true,"result":{}})" + "\n" + connector_line + "\n");
    });  // then the daemon hangs up
    CHECK(request.at("cmd") == "watch");
    CHECK(request.at("args") == json{{"users", {"alice", "bob"}}});
    INFO("stderr: " << r.err);
    CHECK(r.out == presence_line + "\n" + connector_line + "\n");
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("closed the connection") != std::string::npos);

    // Without names: everyone (no users argument at all).
    const RunResult all = with_fake_daemon({"-j", "watch"}, [&](ControlClient& c) {
        request = answer_ok(c, {{"watching", "all"}});
    });
    CHECK(request.at("args") == json::object());
    CHECK(all.out.empty());
}

TEST_CASE("presencectl: watch prints one readable line per event and exits 0 on SIGINT", "[presencectl][watch]") {
    FakeDaemon daemon({"watch"});
    auto c = daemon.accept();
    REQUIRE(c);
    answer_ok(*c, {{"watching", "all"}});
    c->send_all(R"({"event":"presence","username":"alice","kind":"telephony","state":"ringing",)"
                R"("previous":"idle","source":"pbx","stale":false,"message":"Bob","at":1795774502})"
                "\n"
                R"({"event":"presence","username":"bob","kind":"rich","state":"away","previous":"unknown",)"
                R"("source":"presence","stale":true,"message":"","at":1795774503})"
                "\n"
                R"({"event":"connector","connector":"pbx","status":"connected","previous":"connection_error",)"
                R"("cause":"200 OK","at":1795774504})"
                "\n"
                R"({"event":"future","x":1})"
                "\n");
    REQUIRE(daemon.wait_for_output("connector pbx"));
    REQUIRE(daemon.process().signal(SIGINT));
    const RunResult r = daemon.finish();
    INFO("stdout:\n" << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK(lines_of(r.out) == std::vector<std::string>{
                                 "watching all users",
                                 "2026-11-27T10:15:02Z alice telephony idle -> ringing from pbx: Bob",
                                 "2026-11-27T10:15:03Z bob rich unknown -> away from presence, stale",
                                 "2026-11-27T10:15:04Z connector pbx connection_error -> connected: 200 OK",
                             });
}

TEST_CASE("presencectl: watch against the daemon runs until SIGINT or the daemon stops", "[presencectl][watch]") {
    DaemonFixture d;
    // Reads p's stdout until it holds needle (the watch is registered once
    // presencectl prints its first line: the daemon has answered).
    auto wait_for = [](Process& p, std::string_view needle, std::string& out) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kCommandTimeoutMs);
        char buf[4096];
        while (out.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
            pollfd pfd{p.stdout_fd(), POLLIN, 0};
            if (::poll(&pfd, 1, kCommandTimeoutMs) <= 0) continue;
            const ssize_t n = ::read(p.stdout_fd(), buf, sizeof buf);
            if (n <= 0) break;
            out.append(buf, static_cast<size_t>(n));
        }
        return out.find(needle) != std::string::npos;
    };
    std::string out;
    SECTION("SIGINT") {
        Process p(
            {{PRESENCECTL_BIN, "-s", d.socket_path(), "watch", "alice"}, {}, Output::to_pipe(), Output::to_pipe()});
        REQUIRE(wait_for(p, "watching alice\n", out));
        CHECK(out.find("watching alice\n") == 0);
        REQUIRE(p.signal(SIGINT));
        const RunResult r = p.finish(kCommandTimeoutMs);
        INFO("stderr: " << r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.err.empty());
        CHECK(d.request("status")["ok"] == true);
    }
    SECTION("the daemon stops") {
        Process p({{PRESENCECTL_BIN, "-s", d.socket_path(), "watch"}, {}, Output::to_pipe(), Output::to_pipe()});
        REQUIRE(wait_for(p, "watching all users\n", out));
        REQUIRE(d.stop() == 0);
        const RunResult r = p.finish(kCommandTimeoutMs);
        INFO("stdout: " << out << r.out << "\nstderr: " << r.err);
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("closed the connection") != std::string::npos);
    }
}
