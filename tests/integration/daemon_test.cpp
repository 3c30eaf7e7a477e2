// The daemon's life cycle as a process: reload (command and SIGHUP, good
// and broken configs, keys that need a restart), clean shutdown on SIGTERM
// and SIGINT, the control socket's mode, group and ownership at start-up,
// and configuration errors at start-up and with -n.
#include <catch2/catch.hpp>

#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "support/control_client.hpp"
#include "support/daemon_fixture.hpp"

using namespace presenced::test;

namespace {

// 1-based number of the first line of text containing needle (0 if none).
int line_of(const std::string& text, std::string_view needle) {
    const size_t at = text.find(needle);
    if (at == std::string::npos) return 0;
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

const json* find_named(const json& rows, const char* key, std::string_view name) {
    for (const auto& row : rows)
        if (row.value(key, "") == name) return &row;
    return nullptr;
}

// The standard config with one more user and pbx on another server.
DaemonConfig changed_config() {
    DaemonConfig c = standard_config();
    c.daemon_extra = "log_level = \"debug\"\n";
    c.body = replace_all(c.body, "server = \"127.0.0.10:9\"", "server = \"127.0.0.20:5070\"");
    c.body += "\n[[user]]\nusername = \"dave\"\ndisplay_name = \"Dave New\"\nextension = \"1004\"\n";
    return c;
}

void check_changed_config_in_force(const DaemonFixture& d) {
    json users = d.result("users").at("users");
    CHECK(users.size() == 4);
    const json* dave = find_named(users, "username", "dave");
    REQUIRE(dave != nullptr);
    CHECK(dave->at("telephony_uri") == "sip:1004@pbx.example.com");
    json connectors = d.result("connectors").at("connectors");
    const json* pbx = find_named(connectors, "name", "pbx");
    REQUIRE(pbx != nullptr);
    CHECK(pbx->at("server") == "127.0.0.20:5070");
    json status = d.result("status");
    CHECK(status.at("users") == 4);
    CHECK(status.at("log_level") == "debug");  // applied at once, no restart
}

// The standard config with an unknown key in a new [[user]]; returns the
// text and sets line to where the bad key is.
std::string broken_config_text(const DaemonFixture& d, int& line) {
    std::string text = d.config_text(standard_config());
    text += "\n[[user]]\nusername = \"eve\"\nfavourite_colour = \"blue\"\n";
    line = line_of(text, "favourite_colour");
    return text;
}

// A group the socket can be given that differs from the one it would get
// anyway, so a check of its gid proves control_group was applied; "" when
// this user has none (not root and no supplementary group).
std::string other_group() {
    const gid_t own = ::getegid();
    if (::geteuid() == 0) {
        if (const group* g = ::getgrnam("daemon"); g && g->gr_gid != own) return g->gr_name;
        for (gid_t gid : {1u, 2u, 3u, 4u, 5u, 100u})
            if (const group* g = ::getgrgid(gid); g && g->gr_gid != own) return g->gr_name;
        return {};
    }
    gid_t groups[256];
    const int n = ::getgroups(256, groups);
    for (int i = 0; i < n; ++i)
        if (groups[i] != own)
            if (const group* g = ::getgrgid(groups[i])) return g->gr_name;
    return {};
}

}  // namespace

TEST_CASE("daemon: the reload command applies a changed config", "[daemon][reload]") {
    DaemonFixture d;
    REQUIRE(d.result("users").at("users").size() == 3);
    d.write_config(changed_config());
    json answer = d.request("reload");
    INFO(answer.dump());
    REQUIRE(answer["ok"] == true);
    CHECK(answer["result"]["users"] == 4);
    CHECK(answer["result"]["connectors"] == 3);
    CHECK(answer["result"]["restart_required"].empty());
    check_changed_config_in_force(d);
    json lr = d.result("status").at("last_reload");
    REQUIRE(lr.is_object());
    CHECK(lr.at("ok") == true);
    CHECK_FALSE(lr.contains("errors"));
}

TEST_CASE("daemon: SIGHUP applies a changed config", "[daemon][reload]") {
    DaemonFixture d;
    d.write_config(changed_config());
    d.reload_via_sighup();
    check_changed_config_in_force(d);
    json lr = d.result("status").at("last_reload");
    REQUIRE(lr.is_object());
    CHECK(lr.at("ok") == true);
    CHECK(d.running());
}

TEST_CASE("daemon: a reload whose connector becomes disabled shows the new status", "[daemon][reload]") {
    DaemonFixture d;
    DaemonConfig c = standard_config();
    c.body = replace_all(c.body, "name = \"spare\"", "name = \"spare\"\nenabled = false");
    d.write_config(c);
    REQUIRE(d.request("reload")["ok"] == true);
    json rows = d.result("connectors").at("connectors");
    const json* spare = find_named(rows, "name", "spare");
    REQUIRE(spare != nullptr);
    CHECK(spare->at("status") == "disabled");
    CHECK(d.result("status").at("connectors_enabled") == 1);
}

TEST_CASE("daemon: a broken config is refused by the reload command and the old one stays", "[daemon][reload]") {
    DaemonFixture d;
    int line = 0;
    d.write_raw_config(broken_config_text(d, line));
    REQUIRE(line > 0);
    const std::string where = d.config_path() + ":" + std::to_string(line) + ":1:";

    json answer = d.request("reload");
    INFO(answer.dump());
    CHECK(answer["ok"] == false);
    CHECK(answer["error"]["code"] == "config_error");
    const std::string message = answer["error"].value("message", "");
    CHECK(message.find(where) != std::string::npos);
    CHECK(message.find("favourite_colour") != std::string::npos);

    // Still the old config: three users, no eve.
    json users = d.result("users").at("users");
    CHECK(users.size() == 3);
    CHECK(find_named(users, "username", "eve") == nullptr);
    json status = d.result("status");
    CHECK(status.at("users") == 3);
    json lr = status.at("last_reload");
    REQUIRE(lr.is_object());
    CHECK(lr.at("ok") == false);
    REQUIRE(lr.at("errors").is_array());
    REQUIRE_FALSE(lr.at("errors").empty());
    CHECK(lr.at("errors")[0].get<std::string>().find(where) != std::string::npos);
    CHECK(d.log().find(where) != std::string::npos);

    // Fixed, it loads, and status says the last reload was fine.
    d.write_config(changed_config());
    REQUIRE(d.request("reload")["ok"] == true);
    check_changed_config_in_force(d);
    CHECK(d.result("status").at("last_reload").at("ok") == true);
}

TEST_CASE("daemon: a broken config is refused on SIGHUP and the old one stays", "[daemon][reload]") {
    DaemonFixture d;
    int line = 0;
    d.write_raw_config(broken_config_text(d, line));
    d.reload_via_sighup();
    CHECK(d.running());
    const std::string where = d.config_path() + ":" + std::to_string(line) + ":1:";
    json status = d.result("status");
    CHECK(status.at("users") == 3);
    json lr = status.at("last_reload");
    REQUIRE(lr.is_object());
    CHECK(lr.at("ok") == false);
    REQUIRE_FALSE(lr.at("errors").empty());
    CHECK(lr.at("errors")[0].get<std::string>().find(where) != std::string::npos);
    CHECK(d.log().find(where) != std::string::npos);
}

TEST_CASE("daemon: a reload with TOML syntax errors or a missing file is refused", "[daemon][reload]") {
    DaemonFixture d;
    SECTION("syntax error") {
        std::string text = d.config_text(standard_config());
        text += "\n[[user]\n";
        const int line = line_of(text, "[[user]\n");
        d.write_raw_config(text);
        json answer = d.request("reload");
        INFO(answer.dump());
        CHECK(answer["error"]["code"] == "config_error");
        CHECK(answer["error"]["message"].get<std::string>().find(d.config_path() + ":" + std::to_string(line) + ":") !=
              std::string::npos);
    }
    SECTION("file removed") {
        REQUIRE(::unlink(d.config_path().c_str()) == 0);
        json answer = d.request("reload");
        INFO(answer.dump());
        CHECK(answer["error"]["code"] == "config_error");
        CHECK(answer["error"]["message"].get<std::string>().find(d.config_path()) != std::string::npos);
    }
    CHECK(d.result("status").at("users") == 3);
    CHECK(d.result("status").at("last_reload").at("ok") == false);
}

TEST_CASE("daemon: a reload that changes start-only settings says a restart is required", "[daemon][reload]") {
    DaemonFixture d;
    const std::string new_socket = d.dir().file("other.sock");
    std::string text = replace_all(d.config_text(standard_config()), d.socket_path(), new_socket);
    text = replace_all(text, "[daemon]\n", "[daemon]\ncontrol_mode = \"0600\"\n");
    d.write_raw_config(text);

    json answer = d.request("reload");
    INFO(answer.dump());
    REQUIRE(answer["ok"] == true);
    const auto required = answer["result"]["restart_required"].get<std::vector<std::string>>();
    CHECK(std::find(required.begin(), required.end(), "daemon.control_socket") != required.end());
    CHECK(std::find(required.begin(), required.end(), "daemon.control_mode") != required.end());
    CHECK(required.size() == 2);
    // Nothing moved: the old socket answers, no new one appeared, and status
    // names the socket in use, not the one in the file.
    json status = d.result("status");
    CHECK_FALSE(exists(new_socket));
    CHECK(status.at("control_socket") == d.socket_path());
    const auto in_status = status.at("last_reload").at("restart_required").get<std::vector<std::string>>();
    CHECK(in_status == required);

    // A second reload still reports the pending change: it compares with
    // what the daemon started with, not with the previous reload.
    json again = d.request("reload");
    INFO(again.dump());
    REQUIRE(again["ok"] == true);
    CHECK(again["result"]["restart_required"].get<std::vector<std::string>>() == required);

    // Back to the start-up values: nothing pending.
    d.write_config(standard_config());
    json back = d.request("reload");
    INFO(back.dump());
    REQUIRE(back["ok"] == true);
    CHECK(back["result"]["restart_required"].empty());
    CHECK_FALSE(d.result("status").at("last_reload").contains("restart_required"));
}

TEST_CASE("daemon: -v raises the log level above the configured one", "[daemon][config]") {
    DaemonFixture d(standard_config(), false);
    d.start({"-v"});
    CHECK(d.result("status").at("log_level") == "debug");
    // It still applies on top of a reloaded log_level.
    DaemonConfig quieter = standard_config();
    quieter.daemon_extra = "log_level = \"warn\"\n";
    d.write_config(quieter);
    REQUIRE(d.request("reload")["ok"] == true);
    CHECK(d.result("status").at("log_level") == "info");
    REQUIRE(d.stop() == 0);

    d.write_config(standard_config());
    d.start({"-v", "-v", "-v"});  // info + 3, capped at trace
    CHECK(d.result("status").at("log_level") == "trace");
}

TEST_CASE("daemon: presenced -h prints usage and bad options exit 1", "[daemon][config]") {
    const RunResult help = run_presenced({"-h"});
    CHECK(help.exit_code == 0);
    CHECK(help.out.find("usage: presenced") == 0);
    for (const std::vector<std::string>& args : {std::vector<std::string>{"-x"}, {"-f"}, {"-n", "stray"}}) {
        const RunResult r = run_presenced(args);
        INFO(args[0] << ": " << r.err);
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("usage: presenced") != std::string::npos);
        CHECK(r.out.empty());
    }
}

TEST_CASE("daemon: SIGTERM stops the daemon cleanly and removes the socket", "[daemon][signals]") {
    DaemonFixture d;
    ControlClient idle = d.connect();  // an open client must not keep the daemon alive
    REQUIRE(exists(d.socket_path()));
    const auto status = d.stop();
    REQUIRE(status.has_value());
    CHECK(*status == 0);
    CHECK_FALSE(exists(d.socket_path()));
    CHECK(idle.wait_closed(kStopTimeoutMs));
    CHECK(d.log().find("SIGTERM") != std::string::npos);
}

TEST_CASE("daemon: SIGINT stops the daemon cleanly and removes the socket", "[daemon][signals]") {
    DaemonFixture d;
    REQUIRE(d.process().signal(SIGINT));
    const auto status = d.wait_exit();
    REQUIRE(status.has_value());
    CHECK(*status == 0);
    CHECK_FALSE(exists(d.socket_path()));
}

TEST_CASE("daemon: the socket's mode follows control_mode", "[daemon][socket]") {
    for (const char* mode : {"0600", "0660", "640"}) {
        DaemonFixture d({std::string("control_mode = \"") + mode + "\"\n", standard_config().body});
        struct stat st {};
        REQUIRE(::lstat(d.socket_path().c_str(), &st) == 0);
        CHECK(S_ISSOCK(st.st_mode));
        INFO("control_mode " << mode);
        CHECK((st.st_mode & 07777) == std::stoul(mode, nullptr, 8));
        CHECK(st.st_uid == ::geteuid());
    }
}

TEST_CASE("daemon: the socket's group follows control_group", "[daemon][socket]") {
    const std::string name = other_group();
    if (name.empty()) {
        WARN("no group other than the test's own is available; control_group is not tested");
        return;
    }
    const group* g = ::getgrnam(name.c_str());
    REQUIRE(g != nullptr);
    const gid_t gid = g->gr_gid;
    DaemonFixture d({"control_group = \"" + name + "\"\ncontrol_mode = \"0660\"\n", standard_config().body});
    struct stat st {};
    REQUIRE(::lstat(d.socket_path().c_str(), &st) == 0);
    CHECK(st.st_gid == gid);
    CHECK((st.st_mode & 0777) == 0660);
}

TEST_CASE("daemon: start-up is refused while another daemon answers on the socket", "[daemon][socket]") {
    DaemonFixture first;
    DaemonFixture second(standard_config(), false);
    second.write_raw_config(
        replace_all(second.config_text(standard_config()), second.socket_path(), first.socket_path()));
    second.spawn();
    const auto status = second.wait_exit();
    REQUIRE(status.has_value());
    CHECK(*status == 1);
    CHECK(second.log().find("another daemon answers") != std::string::npos);
    CHECK(second.log().find(first.socket_path()) != std::string::npos);
    // The first daemon keeps its socket and keeps answering.
    CHECK(exists(first.socket_path()));
    CHECK(first.result("status").at("pid") == first.process().pid());
}

TEST_CASE("daemon: a stale socket file is removed at start-up", "[daemon][socket]") {
    SECTION("left by a killed daemon") {
        DaemonFixture d;
        d.process().kill();  // SIGKILL: no chance to remove the socket
        REQUIRE(exists(d.socket_path()));
        d.start();
        CHECK(d.result("status").at("pid") == d.process().pid());
        CHECK(d.log().find("stale") != std::string::npos);
    }
    SECTION("bound but never listened on") {
        DaemonFixture d(standard_config(), false);
        make_dead_socket(d.socket_path());
        d.start();
        CHECK(d.result("status").at("pid") == d.process().pid());
    }
}

TEST_CASE("daemon: start-up is refused when the socket path is not a socket", "[daemon][socket]") {
    DaemonFixture d(standard_config(), false);
    d.dir().write("control.sock", "precious data\n");
    d.spawn();
    const auto status = d.wait_exit();
    REQUIRE(status.has_value());
    CHECK(*status == 1);
    CHECK(d.log().find("not a socket") != std::string::npos);
    CHECK(read_file(d.socket_path()) == "precious data\n");
}

TEST_CASE("daemon: start-up with a config error exits 1 and names file line and column", "[daemon][config]") {
    DaemonFixture d(standard_config(), false);
    std::string text = d.config_text(standard_config());
    text += "\n[[connector]]\nname = \"Bad Name\"\n";
    const int line = line_of(text, "name = \"Bad Name\"");
    d.write_raw_config(text);
    d.spawn();
    const auto status = d.wait_exit();
    REQUIRE(status.has_value());
    CHECK(*status == 1);
    const std::string log = d.log();
    INFO(log);
    // name is the first key of its line: its value starts at column 8.
    CHECK(log.find(d.config_path() + ":" + std::to_string(line) + ":8: ") != std::string::npos);
    CHECK(log.find("Bad Name") != std::string::npos);
    CHECK_FALSE(exists(d.socket_path()));
}

TEST_CASE("daemon: presenced -n checks a config without starting", "[daemon][config]") {
    DaemonFixture d(standard_config(), false);
    SECTION("a good config exits 0") {
        const RunResult r = run_presenced({"-n", "-f", d.config_path()});
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.err.find("configuration OK") != std::string::npos);
        CHECK(r.out.empty());
        CHECK_FALSE(exists(d.socket_path()));
    }
    SECTION("a bad config exits 1 with the error") {
        DaemonConfig bad = standard_config();
        bad.body = "[sip]\nlisten = \"nowhere\"\n\n" + bad.body;
        const std::string text = d.config_text(bad);
        const int line = line_of(text, "listen = \"nowhere\"");
        d.write_raw_config(text);
        const RunResult r = run_presenced({"-n", "-f", d.config_path()});
        INFO(r.err);
        CHECK(r.exit_code == 1);
        CHECK(r.err.find(d.config_path() + ":" + std::to_string(line) + ":") != std::string::npos);
        CHECK(r.err.find("listen") != std::string::npos);
        CHECK_FALSE(exists(d.socket_path()));
    }
    SECTION("a missing file exits 1 and names it") {
        const std::string missing = d.dir().file("missing.toml");
        const RunResult r = run_presenced({"-n", "-f", missing});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find(missing) != std::string::npos);
    }
}
