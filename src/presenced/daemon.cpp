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
    presence_.reset();
    if (store_) store_->close();
    store_.reset();
    links_.clear();
    endpoint_.reset();
    clock_.reset();
    control_.reset();
    if (!loop_closed_) {
        // Give pending close callbacks one pass so the loop can be closed.
        uv_run(&loop_, UV_RUN_NOWAIT);
        uv_loop_close(&loop_);
    }
}

std::time_t Daemon::now() const { return std::time(nullptr); }

namespace {

// Everything that, changed, restarts a connector (line numbers do not count).
bool same_settings(const config::Connector& a, const config::Connector& b) {
    return a.name == b.name && a.enabled == b.enabled && a.server == b.server && a.transport == b.transport &&
           a.uri == b.uri && a.auth_id == b.auth_id && a.password == b.password && a.domain == b.domain;
}

sip::EndpointOptions endpoint_options(const config::Config& c) {
    sip::EndpointOptions o;
    o.timers = {static_cast<uint64_t>(c.sip.t1_ms), static_cast<uint64_t>(c.sip.t2_ms),
                static_cast<uint64_t>(c.sip.t4_ms)};
    o.transport.udp_receive_buffer = c.sip.udp_receive_buffer;
    o.transport.framing.max_header_bytes = static_cast<size_t>(c.sip.max_header_bytes);
    o.transport.framing.max_body_bytes = static_cast<size_t>(c.sip.max_body_bytes);
    o.user_agent = c.sip.user_agent;
    o.source_check = c.sip.source_check;
    return o;
}

}  // namespace

void Daemon::apply(std::shared_ptr<const config::Config> config) {
    config_ = std::move(config);
    log::configure(effective_log_level(*config_, options_), options_.foreground_debug);
    if (users_loaded_) read_users_csv();
    build_directory();
    if (endpoint_) rebuild_links();
    if (presence_) presence_->apply(config_, directory_);
}

std::vector<connector::Connector> Daemon::connectors() const {
    std::vector<connector::Connector> out;
    out.reserve(links_.size());
    if (links_.empty())  // before the SIP engine starts (or when it could not)
        return connector::build_connectors(*config_, {}, started_at_);
    for (const auto& link : links_) {
        out.push_back(link->snapshot());
        if (presence_) {
            out.back().subscriptions = presence_->subscription_counts(link->config().name);
            out.back().lists = presence_->list_infos(link->config().name);
            // A list in fallback is part of the connector's story (issue 7):
            // its cause says so, beside what the probes found.
            for (const auto& l : out.back().lists)
                if (l.mode == "fallback") out.back().health.cause += cat("; ", l.kind, " list in fallback: ", l.cause);
        }
    }
    return out;
}

std::string Daemon::sip_listen() const { return endpoint_ ? endpoint_->local().str() : std::string(); }

util::Status Daemon::start_sip() {
    sip::init_library();
    const auto& hp = config_->sip.listen_address;
    auto local = sip::Address::from_ip(hp.host, hp.port);
    if (!local) return util::make_error("sip_listen", cat("sip.listen ", config_->sip.listen, " is not an IP address"));
    clock_ = std::make_unique<ev::LoopClock>(&loop_);
    endpoint_ = std::make_unique<sip::Endpoint>(&loop_, *clock_, endpoint_options(*config_));
    if (auto listening = endpoint_->listen(*local); !listening)
        return util::make_error("sip_listen",
                                cat("cannot listen for SIP on ", config_->sip.listen, ": ", listening.error().message));
    log::info("sip: listening on ", endpoint_->local().str(), " (UDP and TCP)");
    rebuild_links();
    start_presence();
    return util::Ok{};
}

std::optional<sip::Target> Daemon::target_of(const std::string& connector) const {
    for (const auto& link : links_) {
        if (link->config().name != connector) continue;
        const auto address = link->address();
        if (!address) return std::nullopt;
        sip::Target t;
        t.address = *address;
        t.kind = link->config().transport == config::Transport::tcp ? sip::TransportKind::tcp : sip::TransportKind::udp;
        // A UDP connector may carry a large SUBSCRIBE over TCP (RFC 3261 §18.1.1).
        t.tcp_allowed = false;
        return t;
    }
    return std::nullopt;
}

std::string Daemon::contact_toward(const sip::Target& target) const {
    const std::string& configured = config_->sip.contact_host;
    const std::string host = configured.empty() ? endpoint_->local_ip_toward(target.address) : configured;
    const bool v6 = host.find(':') != std::string::npos && host.front() != '[';
    return cat("<sip:presenced@", v6 ? "[" + host + "]" : host, ":", endpoint_->port(),
               target.kind == sip::TransportKind::tcp ? ";transport=tcp" : "", ">");
}

void Daemon::start_presence() {
    presence::Service::Network net;
    net.target = [this](const std::string& name) { return target_of(name); };
    net.send = [this](sip::RequestSpec spec, const sip::Target& target, sip::Endpoint::Done done) {
        endpoint_->send_request(std::move(spec), target, std::move(done));
    };
    net.contact = [this](const sip::Target& target) { return contact_toward(target); };
    // Without a store (state_db = "") the service does not even build the rows.
    if (store_)
        net.persist = [this](presence::CachedSource c) {
            store_->put_presence({std::move(c.username), std::move(c.kind), std::move(c.connector), std::move(c.state),
                                  std::move(c.message), std::move(c.detail), static_cast<int64_t>(c.received_at),
                                  c.last_code, std::move(c.last_reason)});
        };
    net.forget = [this](const std::string& username) {
        if (store_) store_->forget_user(username);
    };
    presence_ = std::make_unique<presence::Service>(*clock_, std::move(net));
    endpoint_->set_notify_hook(
        [this](const sip::Message& request, const sip::Inbound&) { return presence_->on_notify(request); });
    for (const auto& link : links_) presence_->connector_changed(link->snapshot());
    presence_->apply(config_, directory_);
    // Warm start: in the same loop turn as apply(), so before any SUBSCRIBE
    // has even been sent (the pacer sends from a timer), let alone answered.
    presence_->restore(cached_, now());
    presence_->set_notes(std::move(pending_notes_));
    cached_.clear();
    cached_.shrink_to_fit();
}

void Daemon::rebuild_links() {
    const auto& sip = config_->sip;
    connector::ProbeSettings settings{static_cast<uint64_t>(sip.probe_interval) * 1000,
                                      static_cast<uint64_t>(sip.probe_retry_interval) * 1000, sip.contact_host,
                                      static_cast<uint64_t>(sip.tcp_keepalive_interval) * 1000};
    std::vector<std::unique_ptr<connector::Link>> next;
    for (const auto& k : config_->connectors) {
        std::unique_ptr<connector::Link> kept;
        for (auto& old : links_)
            if (old && same_settings(old->config(), k)) kept = std::move(old);
        if (!kept) {
            kept = std::make_unique<connector::Link>(&loop_, *clock_, *endpoint_, k, settings,
                                                     [this](const connector::Link& link) {
                                                         update_trusted_sources();
                                                         if (presence_) presence_->connector_changed(link.snapshot());
                                                     });
            kept->start();
        }
        next.push_back(std::move(kept));
    }
    links_ = std::move(next);  // links no longer configured are destroyed (stopped) here
    update_trusted_sources();
}

void Daemon::update_trusted_sources() {
    std::vector<sip::Address> sources;
    for (const auto& link : links_)
        if (auto a = link->address()) sources.push_back(*a);
    endpoint_->set_trusted_sources(std::move(sources));
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
    if (auto opened = open_store(); !opened) {
        log::error(opened.error().message);
        shutdown_handles();
        uv_run(&loop_, UV_RUN_DEFAULT);
        return 1;
    }
    if (auto sip = start_sip(); !sip) {
        log::error(sip.error().message);
        shutdown_handles();
        uv_run(&loop_, UV_RUN_DEFAULT);  // runs the close callbacks, then returns
        return 1;
    }
    for (auto [handle, signum] : {std::pair{&sighup_, SIGHUP}, {&sigterm_, SIGTERM}, {&sigint_, SIGINT}}) {
        uv_signal_init(&loop_, handle);
        handle->data = this;
        uv_signal_start(handle, on_signal, signum);
    }
    log::info("presenced ", build::version, " started: config ", config_->path, ", control socket ", d.control_socket,
              ", ", links_.size(), " connectors, ", directory_.users().size(), " users");

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
    for (uv_signal_t* h : {&sighup_, &sigterm_, &sigint_}) uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
    if (control_) control_->stop();
    if (!presence_) {
        shutdown_handles();
        return;
    }
    // RFC 6665 §4.1.2.3 / rfc-checklist 9.10: unsubscribe (paced), bounded by presence.shutdown_timeout.
    presence_->shutdown([this] { shutdown_handles(); });
}

void Daemon::shutdown_handles() {
    // Order: stop probing, close SIP sockets and timers, then the control socket.
    presence_.reset();
    if (store_) store_->close();  // the last changes are written here
    links_.clear();
    if (endpoint_) endpoint_->close();
    if (clock_) clock_->close();
    if (control_) control_->stop();
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
    log::info("reloaded ", config_->path, ": ", links_.size(), " connectors, ", directory_.users().size(), " users");
    return report;
}

}  // namespace presenced::daemon

namespace presenced::daemon {

std::vector<presence::UserView> Daemon::user_views() const {
    return presence_ ? presence_->user_views() : std::vector<presence::UserView>{};
}

std::optional<presence::UserView> Daemon::user_view(std::string_view username) const {
    return presence_ ? presence_->user_view(username) : std::nullopt;
}

util::Result<presence::ForceReport> Daemon::force_subscribe(std::string_view username, int seconds) {
    if (!presence_) return util::Error{"internal", "the SIP engine is not running"};
    return presence_->force_subscribe(username, seconds);
}

util::Result<uint64_t> Daemon::watch(const std::vector<std::string>& usernames, WatchSink sink) {
    if (!presence_) return util::Error{"internal", "the SIP engine is not running"};
    return presence_->watch(usernames, std::move(sink));
}

void Daemon::unwatch(uint64_t id) {
    if (presence_) presence_->unwatch(id);
}

}  // namespace presenced::daemon
