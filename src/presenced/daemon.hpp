// The daemon: owns the loop, the config, the model and the control socket.
// Start-up and shutdown order live here, in one place.
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <unordered_map>

#include "connector/link.hpp"
#include "control/server.hpp"
#include "ev/clock.hpp"
#include "presence/service.hpp"
#include "presenced/options.hpp"
#include "sip/endpoint.hpp"
#include "store/store.hpp"

namespace presenced::daemon {

class Daemon final : public control::Services {
public:
    Daemon(Options options, std::shared_ptr<const config::Config> config);
    ~Daemon() override;

    // Runs until SIGTERM/SIGINT; returns the process exit status.
    int run();

    // control::Services
    const config::Config& config() const override { return *config_; }
    const std::string& control_socket() const override { return control_socket_; }
    const presence::Directory& directory() const override { return directory_; }
    std::vector<connector::Connector> connectors() const override;
    std::string sip_listen() const override;
    sip::Endpoint::Counters sip_counters() const override {
        return endpoint_ ? endpoint_->counters() : sip::Endpoint::Counters{};
    }
    std::time_t started_at() const override { return started_at_; }
    std::time_t now() const override;
    const control::ReloadReport& last_reload() const override { return last_reload_; }
    control::ReloadReport reload() override;
    std::vector<presence::UserView> user_views() const override;
    std::optional<presence::UserView> user_view(std::string_view username) const override;
    util::Result<presence::ForceReport> force_subscribe(std::string_view username, int seconds) override;
    util::Result<uint64_t> watch(const std::vector<std::string>& usernames, WatchSink sink) override;
    void unwatch(uint64_t id) override;
    util::Status set_note(const std::string& username, const std::string& text) override;
    util::Result<presence::ImportReport> import_users(const std::string& path, bool partial) override;
    util::Status restart_connector(const std::string& name) override;

private:
    static void on_signal(uv_signal_t* handle, int signum);
    void apply(std::shared_ptr<const config::Config> config);
    void shutdown();
    util::Status start_sip();
    void shutdown_handles();
    // Keeps the Link of every connector whose settings did not change;
    // replaces the others (a changed connector restarts alone).
    void rebuild_links();
    void update_trusted_sources();
    void start_presence();
    // The state cache (daemon_store.cpp).
    util::Status open_store();
    void read_users_csv();  // presence.users_csv, at start and reload
    std::vector<config::User> imported_users() const;
    void build_directory();
    std::optional<sip::Target> target_of(const std::string& connector) const;
    std::string contact_toward(const sip::Target& target) const;

    Options options_;
    std::shared_ptr<const config::Config> config_;
    std::shared_ptr<const config::Config> started_with_;  // what the socket and listeners were opened with
    presence::Directory directory_;
    // Users imported from CSV, by source ("import:<path>", "csv:<path>"), in the store too.
    std::map<std::string, std::vector<store::UserRow>> imported_;
    // Read at start, handed to presence_ once the users exist.
    std::vector<presence::CachedSource> cached_;
    std::unordered_map<std::string, std::string> pending_notes_;
    std::vector<std::unique_ptr<connector::Link>> links_;
    control::ReloadReport last_reload_;
    std::string control_socket_;  // the path bound at start
    std::time_t started_at_ = 0;

    uv_loop_t loop_{};
    std::unique_ptr<ev::LoopClock> clock_;
    std::unique_ptr<sip::Endpoint> endpoint_;
    bool users_loaded_ = false;                    // open_store ran: reloads read users_csv again
    std::unique_ptr<store::Store> store_;          // before presence_: presence_ persists into it
    std::unique_ptr<presence::Service> presence_;  // after the endpoint: it sends through it
    uv_signal_t sighup_{}, sigterm_{}, sigint_{};
    std::unique_ptr<control::Server> control_;
    bool stopping_ = false;
    bool loop_closed_ = false;
};

// Log level in force: the config's, raised by -v.
log::Level effective_log_level(const config::Config& config, const Options& options);

}  // namespace presenced::daemon
