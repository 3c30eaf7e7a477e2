// A control::Services over a fixed, real Config, for tests of the command
// layer and the socket server without a daemon: presence views, the forced
// subscribe's report and watch registrations are plain data the tests set
// and inspect, and emit() plays the presence service's event delivery.
#pragma once

#include <catch2/catch.hpp>

#include <map>

#include "control/commands.hpp"

namespace presenced::control {

// The wall clock the fake reports (Services::now()).
inline constexpr std::time_t kFakeNow = 1042;

class FakeServices : public Services {
public:
    FakeServices() {
        auto o = config::load_string(R"([presence]
preferred_connector = "pbx"
[[connector]]
name = "pbx"
server = "192.0.2.10"
uri = "sip:p@example.com"
auth_id = "p"
domain = "example.com"
[[connector]]
name = "off"
enabled = false
[[user]]
username = "alice"
display_name = "Alice Example"
department = "Sales"
extension = "1001"
rich_uri = "sip:alice@example.com"
[[user]]
username = "bob"
display_name = "Bob"
department = "Support"
)",
                                     "test.toml");
        REQUIRE(o.ok());
        config_ = o.config;
        directory_ = presence::Directory::from_config(*config_);
        connector_rows = connector::build_connectors(*config_, {}, 1000);
        connector_rows[0].subscriptions = {{"active", 9}, {"retrying", 1}};
        views = default_views(directory_);
        force_report = {
            "alice", 60, {{"rich", "pbx", "started", "subscribing"}, {"telephony", "pbx", "existing", "active"}}};
    }
    const config::Config& config() const override { return *config_; }
    const std::string& control_socket() const override { return config_->daemon.control_socket; }
    const presence::Directory& directory() const override { return directory_; }
    std::vector<connector::Connector> connectors() const override { return connector_rows; }
    std::string sip_listen() const override { return "127.0.0.1:5060"; }
    sip::Endpoint::Counters sip_counters() const override { return {}; }
    std::time_t started_at() const override { return 1000; }
    std::time_t now() const override { return kFakeNow; }
    const ReloadReport& last_reload() const override { return report_; }
    ReloadReport reload() override {
        ++reloads;
        report_ = {false, 1042, {"test.toml:3:1: broken"}, {}};
        return report_;
    }

    std::vector<presence::UserView> user_views() const override { return views; }
    std::optional<presence::UserView> user_view(std::string_view username) const override {
        for (const auto& v : views)
            if (v.user.username == username) return v;
        return std::nullopt;
    }
    util::Result<presence::ForceReport> force_subscribe(std::string_view username, int seconds) override {
        forced_calls.emplace_back(std::string(username), seconds);
        if (force_error) return *force_error;
        return force_report;
    }
    util::Result<uint64_t> watch(const std::vector<std::string>& usernames, WatchSink sink) override {
        if (watch_error) return *watch_error;
        const uint64_t id = next_watch_id++;
        watches[id] = {usernames, std::move(sink)};
        if (on_watch) on_watch(id);  // e.g. a service that reports something at once
        return id;
    }
    util::Status set_note(const std::string& name, const std::string& text) override {
        if (!directory_.find(name)) return util::Error{"not_found", "no user \"" + name + "\""};
        notes[name] = text;
        return util::Ok{};
    }
    util::Result<presence::ImportReport> import_users(const std::string& path, bool partial) override {
        if (path == "/missing.csv") return util::Error{"not_found", "cannot read " + path};
        presence::ImportReport r;
        r.path = path;
        r.rows = 3;
        r.errors.push_back({3, "bad_uri", "line 3: rich_uri is not a SIP URI"});
        r.applied = partial;
        r.imported = partial ? 2 : 0;
        return r;
    }
    util::Status restart_connector(const std::string& name) override {
        restarted.push_back(name);
        if (name != "pbx") return util::Error{"not_found", "no connector \"" + name + "\""};
        return util::Ok{};
    }
    std::map<std::string, std::string> notes;
    std::vector<std::string> restarted;
    void unwatch(uint64_t id) override {
        // A sink must never end its own watch from inside the delivery.
        if (emitting_) ++unwatched_while_emitting;
        unwatched.push_back(id);
        watches.erase(id);
    }

    // Delivers e to every sink, as the service does: unfiltered here, so
    // tests see the command's own filtering by username.
    void emit(const presence::Event& e) {
        emitting_ = true;
        for (auto& [id, w] : std::map<uint64_t, Watch>(watches))
            if (watches.count(id) != 0) w.sink(e);
        emitting_ = false;
    }

    // What the tests set.
    std::vector<presence::UserView> views;
    presence::ForceReport force_report;
    std::optional<util::Error> force_error, watch_error;
    std::function<void(uint64_t)> on_watch;
    uint64_t next_watch_id = 1;
    std::vector<connector::Connector> connector_rows;
    // What the tests inspect.
    struct Watch {
        std::vector<std::string> usernames;
        WatchSink sink;
    };
    std::map<uint64_t, Watch> watches;
    std::vector<uint64_t> unwatched;
    std::vector<std::pair<std::string, int>> forced_calls;
    int unwatched_while_emitting = 0;
    int reloads = 0;

    // alice: rich away (stale, from pbx) with a person and a tuple,
    // telephony ringing with one dialog, a source per enabled connector
    // and kind; bob: rich not_configured, telephony unknown, no sources.
    static std::vector<presence::UserView> default_views(const presence::Directory& directory) {
        std::vector<presence::UserView> out;
        for (const auto& u : directory.users()) {
            presence::UserView v;
            v.user = u;
            v.rich.state = std::string(presence::state_name(u.rich));
            v.telephony.state = std::string(presence::state_name(u.telephony));
            out.push_back(v);
        }
        presence::UserView& a = out.at(0);
        a.note = "back at 3";
        a.rich = {"away", true, "pbx", 300, "Lunch", {}, {}, {}};
        presence::RichEntry person;
        person.kind = presence::RichEntry::Kind::person;
        person.id = "p1";
        person.activities = {"away"};
        person.note = "Lunch";
        person.timestamp = "2026-01-01T12:00:00Z";
        presence::RichEntry tuple;
        tuple.id = "t1";
        tuple.open = true;
        tuple.contact = "sip:alice@192.0.2.5";
        tuple.device_id = "urn:x-mac:0003ba4811e3";
        tuple.idle = true;
        a.rich.entries = {person, tuple};
        presence::SourceView rich_source;
        rich_source.connector = "pbx";
        rich_source.subscription = "retrying";
        rich_source.state = "away";
        rich_source.known = true;
        rich_source.message = "Lunch";
        rich_source.received_at = kFakeNow - 300;
        rich_source.last_code = 503;
        rich_source.last_reason = "Service Unavailable";
        rich_source.last_state_reason = "timeout";
        rich_source.why = "retry after back-off";
        rich_source.last_notify_at = kFakeNow - 300;
        rich_source.retries = 2;
        rich_source.next_retry_at = kFakeNow + 40;
        rich_source.notifies = 7;
        a.rich.sources = {rich_source};

        a.telephony = {"ringing", false, "pbx", 5, "Bob", {}, {}, {}};
        presence::DialogEntry d;
        d.id = "d1";
        d.call_id = "c1@pbx";
        d.local_tag = "lt";
        d.remote_tag = "rt";
        d.direction = "recipient";
        d.state = "early";
        d.event = "";
        d.code = 180;
        d.local_identity = "sip:1001@example.com";
        d.local_display = "Alice";
        d.remote_identity = "sip:bob@example.com";
        d.remote_display = "Bob";
        d.local_rendering = "unknown";
        d.remote_rendering = "";
        a.telephony.dialogs = {d};
        presence::SourceView tel_source;
        tel_source.connector = "pbx";
        tel_source.subscription = "active";
        tel_source.state = "ringing";
        tel_source.known = true;
        tel_source.message = "Bob";
        tel_source.received_at = kFakeNow - 5;
        tel_source.last_code = 200;
        tel_source.last_reason = "OK";
        tel_source.why = "";
        tel_source.last_notify_at = kFakeNow - 5;
        tel_source.expires_at = kFakeNow + 3000;
        tel_source.next_refresh_at = kFakeNow + 2500;
        tel_source.notifies = 3;
        a.telephony.sources = {tel_source};
        a.forced = true;
        a.forced_remaining_s = 42;
        a.watchers = 2;
        return out;
    }

private:
    std::shared_ptr<const config::Config> config_;
    presence::Directory directory_;
    ReloadReport report_;
    bool emitting_ = false;
};

}  // namespace presenced::control
