// Daemon life cycle: start (loop, model, control socket, signals), reload
// (SIGHUP or the reload command: a valid config is applied, a broken one
// refused), and a clean shutdown on SIGTERM/SIGINT.
#include "presenced/daemon.hpp"

#include <csignal>

#include "build_info.hpp"
#include "util/log.hpp"

namespace presenced::daemon {

using util::cat;

log::Level effective_log_level(const config::Config& config, const Options& options) {
    int level = static_cast<int>(config.daemon.log_level) + options.verbose;
    if (level > static_cast<int>(log::Level::trace)) level = static_cast<int>(log::Level::trace);
    return static_cast<log::Level>(level);
}

Daemon::Daemon(Options options, std::shared_ptr<const config::Config> config)
    : options_(std::move(options)), config_(std::move(config)), started_with_(config_) {
    uv_loop_init(&loop_);
    started_at_ = now();
    apply(config_);
}

Daemon::~Daemon() {
    control_.reset();
    if (!loop_closed_) {
        // Give pending close callbacks one pass so the loop can be closed.
        uv_run(&loop_, UV_RUN_NOWAIT);
        uv_loop_close(&loop_);
    }
}

std::time_t Daemon::now() const { return std::time(nullptr); }

void Daemon::apply(std::shared_ptr<const config::Config> config) {
    config_ = std::move(config);
    log::configure(effective_log_level(*config_, options_), options_.foreground_debug);
    directory_ = presence::Directory::from_config(*config_);
    connectors_ = connector::build_connectors(*config_, connectors_, now());
}

int Daemon::run() {
    std::signal(SIGPIPE, SIG_IGN);  // a control client that vanishes must not kill us
    control_ = std::make_unique<control::Server>(&loop_, *this);
    const auto& d = config_->daemon;
    control_socket_ = d.control_socket;
    if (auto started = control_->start({d.control_socket, d.control_mode, d.control_group}); !started) {
        log::error(started.error().message);
        control_.reset();
        uv_run(&loop_, UV_RUN_NOWAIT);
        return 1;
    }
    for (auto [handle, signum] : {std::pair{&sighup_, SIGHUP}, {&sigterm_, SIGTERM}, {&sigint_, SIGINT}}) {
        uv_signal_init(&loop_, handle);
        handle->data = this;
        uv_signal_start(handle, on_signal, signum);
    }
    log::info("presenced ", build::version, " started: config ", config_->path, ", control socket ", d.control_socket,
              ", ", connectors_.size(), " connectors, ", directory_.users().size(), " users");
    for (const auto& k : connectors_)
        log::info("connector ", k.config.name, ": ", connector::status_name(k.health.status), " (", k.health.cause,
                  ")");

    uv_run(&loop_, UV_RUN_DEFAULT);

    const int rc = uv_loop_close(&loop_);
    loop_closed_ = rc == 0;
    if (rc != 0) {
        log::error("shutdown: the event loop still has open handles (", uv_strerror(rc), ")");
        return 1;
    }
    log::info("presenced stopped");
    return 0;
}

void Daemon::on_signal(uv_signal_t* handle, int signum) {
    auto* self = static_cast<Daemon*>(handle->data);
    if (signum == SIGHUP) {
        log::info("SIGHUP: reloading ", self->config_->path);
        self->reload();
        return;
    }
    log::info(signum == SIGTERM ? "SIGTERM" : "SIGINT", ": shutting down");
    self->shutdown();
}

void Daemon::shutdown() {
    if (stopping_) return;
    stopping_ = true;
    // Order: stop taking requests, then close the signal handles, so the
    // loop runs out of handles and uv_run returns.
    control_->stop();
    for (uv_signal_t* h : {&sighup_, &sigterm_, &sigint_}) uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
}

control::ReloadReport Daemon::reload() {
    control::ReloadReport report;
    report.at = now();
    auto loaded = config::load_file(config_->path);
    if (!loaded.ok()) {
        for (const auto& e : loaded.errors) report.errors.push_back(e.str());
        log::error("reload refused, the old configuration stays in force:");
        for (const auto& e : report.errors) log::error("  ", e);
        last_reload_ = report;
        return report;
    }
    // The socket, the state database and the SIP listener are opened once at
    // start; compare with what is open and say so rather than pretend a
    // change took effect.
    const auto& before = started_with_->daemon;
    const auto& after = loaded.config->daemon;
    if (before.control_socket != after.control_socket) report.restart_required.push_back("daemon.control_socket");
    if (before.control_mode != after.control_mode) report.restart_required.push_back("daemon.control_mode");
    if (before.control_group != after.control_group) report.restart_required.push_back("daemon.control_group");
    if (before.state_db != after.state_db) report.restart_required.push_back("daemon.state_db");
    if (started_with_->sip.listen != loaded.config->sip.listen) report.restart_required.push_back("sip.listen");
    for (const auto& key : report.restart_required)
        log::warn("reload: ", key, " changed; it takes effect at the next restart");

    apply(loaded.config);
    report.ok = true;
    last_reload_ = report;
    log::info("reloaded ", config_->path, ": ", connectors_.size(), " connectors, ", directory_.users().size(),
              " users");
    return report;
}

}  // namespace presenced::daemon
