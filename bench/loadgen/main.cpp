// presence_loadgen: a SIP presence server on loopback for benchmarking
// presenced (and the peer watcher baresip). It answers SUBSCRIBEs, then
// sends stamped NOTIFYs at a rate or as fast as a window of outstanding
// NOTIFYs allows, and measures NOTIFY -> `watch` event latency. The phases:
//   subscribe  until --expect dialogs are active or --subscribe-timeout
//   load       --notifies M NOTIFYs (skipped when M = 0)
//   latency    a short grace for the last watch events (with --watch)
//   hold       --hold S seconds of serving refreshes and OPTIONS
//   summary    all counters, then exit 0
// stdout carries one JSON object per line (the harness' contract, see
// bench/README.md); stderr a human-readable log. With --list the generator
// also serves a resource list (RFC 4662, list_notify.cpp), and --expect
// counts presentities with a state delivered (list members included).
#include <uv.h>

#include <csignal>
#include <iostream>
#include <memory>

#include "notifier.hpp"
#include "options.hpp"
#include "stats.hpp"
#include "transport.hpp"
#include "watch_client.hpp"

namespace loadgen {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;
constexpr uint64_t kNsPerMs = 1'000'000;
// Timers run every millisecond during the load phase (smooth pacing at a
// given rate), else every 10 ms (Timer E needs no finer grain).
constexpr uint64_t kLoadTickMs = 1;
constexpr uint64_t kIdleTickMs = 10;
// How long the load phase waits for the watch to be answered, and how long
// after the last NOTIFY answer it waits for the last watch events.
constexpr uint64_t kWatchReadyWaitNs = 10 * kNsPerSecond;
constexpr uint64_t kLatencyGraceNs = 2 * kNsPerSecond;

double seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

nlohmann::json notify_json(const NotifyCounters& c) {
    nlohmann::json other = nlohmann::json::object();
    for (const auto& [code, n] : c.other) other[std::to_string(code)] = n;
    return {{"sent", c.sent},
            {"answered", c.answered},
            {"retransmissions", c.retransmissions},
            {"timeouts", c.timeouts},
            {"transport_errors", c.transport_errors},
            {"other_responses", other}};
}

nlohmann::json messages_json(const MessageCounters& m) {
    nlohmann::json responses = nlohmann::json::object();
    for (const auto& [code, n] : m.out_responses) responses[std::to_string(code)] = n;
    const uint64_t in = m.in_subscribe + m.in_options + m.in_other_requests + m.in_responses;
    const uint64_t out = m.out_notify + m.out_notify_retransmissions + m.out_responses_total;
    return {{"in",
             {{"SUBSCRIBE", m.in_subscribe},
              {"OPTIONS", m.in_options},
              {"other_requests", m.in_other_requests},
              {"responses", m.in_responses},
              {"total", in}}},
            {"out",
             {{"NOTIFY", m.out_notify},
              {"NOTIFY_retransmissions", m.out_notify_retransmissions},
              {"NOTIFY_bytes", m.out_notify_bytes},
              {"responses", responses},
              {"total", out}}},
            {"total", in + out}};
}

nlohmann::json list_json(const Notifier& n) {
    const ListCounters& l = n.list_counters();
    return {{"dialogs_active", n.list_dialogs_active()},
            {"members_known", n.members_known()},
            {"queued", n.list_queued()},
            {"subscribes_421", l.subscribes_421},
            {"full_state_notifies", l.full_state_notifies},
            {"partial_notifies", l.partial_notifies},
            {"states_sent", l.states_sent},
            {"changes", l.changes},
            {"changes_answered", l.changes_answered},
            {"coalesced", l.coalesced},
            {"dropped", l.dropped},
            {"tcp_for_size", l.tcp_for_size},
            {"max_body_bytes", l.max_body_bytes},
            {"max_states_per_notify", l.max_states_per_notify}};
}

class Run {
public:
    Run(const Options& options, uv_loop_t* loop) : options_(options), loop_(loop), transport_(loop) {}

    int start() {
        std::string error;
        if (!transport_.listen(options_.listen_ip, options_.listen_port, error)) {
            std::cerr << "presence_loadgen: " << error << "\n";
            return 1;
        }
        start_ns_ = now_ns();
        Notifier::Hooks hooks;
        hooks.active_changed = [this](uint64_t active) {
            if (!subscribed_done_ && subscribed_at_ns_ == 0 && active >= options_.expect) subscribed_at_ns_ = now_ns();
        };
        hooks.load_done = [this] { load_done_pending_ = true; };
        notifier_ = std::make_unique<Notifier>(options_, transport_, latency_, std::move(hooks));
        transport_.set_handlers([this](const Route& r, std::string_view d) { notifier_->on_message(r, d); },
                                [this] { notifier_->before_flush(); },
                                [this](uint64_t tag) { notifier_->on_written(tag); },
                                [this](uint32_t conn) { notifier_->on_connection_closed(conn); });
        emit({{"event", "listening"}, {"port", transport_.port()}});
        std::cerr << "loadgen: listening on " << options_.listen_ip << ":" << transport_.port() << " (UDP+TCP)"
                  << (options_.digest ? ", digest on" : "") << "\n";
        if (!options_.list_uri.empty())
            std::cerr << "loadgen: serving " << options_.list_uri << " as a list of " << options_.list_members
                      << " members\n";
        if (!options_.watch.empty()) {
            watch_ = std::make_unique<WatchClient>(loop_, options_.watch, latency_);
            watch_->start(start_ns_ + static_cast<uint64_t>(options_.subscribe_timeout_s * 1e9));
        }
        uv_timer_init(loop_, &tick_);
        tick_.data = this;
        uv_timer_start(
            &tick_, [](uv_timer_t* t) { static_cast<Run*>(t->data)->on_tick(); }, kIdleTickMs, kIdleTickMs);
        for (int i = 0; i < 2; ++i) {
            uv_signal_init(loop_, &signals_[i]);
            signals_[i].data = this;
            uv_signal_start(
                &signals_[i], [](uv_signal_t* s, int sig) { static_cast<Run*>(s->data)->finish(sig); },
                i == 0 ? SIGTERM : SIGINT);
        }
        return 0;
    }

    // Whether the loop should spin rather than sleep (--busy-poll, load phase only).
    bool spinning() const { return options_.busy_poll && phase_ == Phase::load; }

private:
    enum class Phase { subscribe, wait_watch, load, grace, hold, done };

    void on_tick() {
        notifier_->tick();
        const uint64_t now = now_ns();
        if (options_.stats_interval_s > 0 && phase_ != Phase::done &&
            now - last_stats_ns_ >= static_cast<uint64_t>(options_.stats_interval_s * 1e9)) {
            last_stats_ns_ = now;
            emit_stats(now);
        }
        if (phase_ != Phase::done && now - start_ns_ >= static_cast<uint64_t>(options_.max_seconds * 1e9)) {
            max_reached_ = true;
            return finish(0);
        }
        switch (phase_) {
            case Phase::subscribe: {
                const bool reached = options_.expect > 0 && notifier_->covered() >= options_.expect;
                const bool timed_out = now - start_ns_ >= static_cast<uint64_t>(options_.subscribe_timeout_s * 1e9);
                if (reached || timed_out) report_subscribed(!reached, now);
                break;
            }
            case Phase::wait_watch:
                if (watch_->ready() || watch_->failed() || now - phase_ns_ >= kWatchReadyWaitNs) begin_load(now);
                break;
            case Phase::load:
                if (load_done_pending_) report_load_done(now);
                break;
            case Phase::grace:
                if (latency_.matched() >= latency_.stamped_sent() || now - phase_ns_ >= kLatencyGraceNs)
                    report_latency_then_hold(now);
                break;
            case Phase::hold:
                if (now - phase_ns_ >= static_cast<uint64_t>(options_.hold_s * 1e9)) finish(0);
                break;
            case Phase::done:
                break;
        }
    }

    void report_subscribed(bool timeout, uint64_t now) {
        subscribed_done_ = true;
        const uint64_t at = timeout ? now : subscribed_at_ns_;
        const RateWindow& arrivals = notifier_->subscribe_arrivals();
        const uint64_t first = arrivals.total() ? arrivals.first_ns() : at;
        nlohmann::json j = {{"event", "subscribed"},
                            {"active", notifier_->covered()},
                            {"dialogs_active", notifier_->active()},
                            {"seconds", seconds(at - start_ns_)},
                            {"first_to_last_s", seconds(at > first ? at - first : 0)},
                            {"max_per_second", arrivals.max_per_second()},
                            {"median_per_second", arrivals.median_per_second()},
                            {"subscribe_retransmissions", notifier_->requests().retransmissions},
                            {"notify_retransmissions", notifier_->all_notifies().retransmissions},
                            {"challenges", notifier_->requests().challenges},
                            {"refreshes", notifier_->requests().refreshes},
                            {"messages", messages_json(notifier_->messages())}};
        if (!options_.list_uri.empty()) j["list"] = list_json(*notifier_);
        if (timeout) j["timeout"] = true;
        emit(j);
        std::cerr << "loadgen: " << notifier_->active() << " dialogs active, " << notifier_->covered()
                  << " presentities with a state" << (timeout ? " (timeout)" : "") << "\n";
        phase_ns_ = now;
        if (options_.notifies == 0) return enter_grace_or_hold(now);
        phase_ = watch_ ? Phase::wait_watch : Phase::load;
        if (!watch_) begin_load(now);
    }

    void begin_load(uint64_t now) {
        if (watch_ && !watch_->ready()) std::cerr << "loadgen: the watch is not ready; latency will be missing\n";
        phase_ = Phase::load;
        phase_ns_ = now;
        latency_.reset(options_.notifies);
        LoadPlan plan;
        plan.count = options_.notifies;
        plan.rate = options_.rate;
        plan.window = options_.window;
        plan.duration_ns = static_cast<uint64_t>(options_.duration_s * 1e9);
        plan.random = options_.order == Order::random;
        uv_timer_set_repeat(&tick_, kLoadTickMs);
        uv_timer_again(&tick_);
        emit({{"event", "load_start"}});
        load_emitted_ = true;
        notifier_->start_load(plan);
    }

    void report_load_done(uint64_t now) {
        load_done_pending_ = false;
        load_reported_ = true;
        uv_timer_set_repeat(&tick_, kIdleTickMs);
        uv_timer_again(&tick_);
        const NotifyCounters& c = notifier_->load_notifies();
        const uint64_t span = notifier_->load_finished_ns() - notifier_->load_started_ns();
        nlohmann::json j = notify_json(c);
        j["event"] = "load_done";
        j["seconds"] = seconds(span);
        j["rate"] = span ? static_cast<double>(c.answered) / seconds(span) : 0.0;
        emit(j);
        std::cerr << "loadgen: load done: " << c.answered << "/" << c.sent << " answered in " << seconds(span) << " s, "
                  << c.timeouts << " timeouts\n";
        enter_grace_or_hold(now);
    }

    void enter_grace_or_hold(uint64_t now) {
        phase_ns_ = now;
        if (watch_ && options_.notifies > 0) {
            phase_ = Phase::grace;
            return;
        }
        report_latency_then_hold(now);
    }

    void report_latency_then_hold(uint64_t now) {
        if (watch_ && !latency_emitted_) {
            latency_emitted_ = true;
            nlohmann::json j = latency_.summary();
            j["presence_events"] = watch_->presence_events();
            j["watch_ready"] = watch_->ready();
            emit(j);
        }
        phase_ = Phase::hold;
        phase_ns_ = now;
    }

    // Counters every --stats seconds: the harness measures a refresh cycle with them.
    void emit_stats(uint64_t now) {
        const RequestCounters& r = notifier_->requests();
        nlohmann::json j = {{"event", "stats"},
                            {"seconds", seconds(now - start_ns_)},
                            {"active", notifier_->covered()},
                            {"dialogs_active", notifier_->active()},
                            {"subscribes", r.subscribes},
                            {"new_dialogs", r.new_dialogs},
                            {"refreshes", r.refreshes},
                            {"outstanding", notifier_->outstanding()},
                            {"messages", messages_json(notifier_->messages())}};
        if (!options_.list_uri.empty()) j["list"] = list_json(*notifier_);
        emit(j);
    }

    void finish(int signal) {
        if (phase_ == Phase::done) return;
        phase_ = Phase::done;
        if (load_emitted_ && !load_reported_) {
            // Interrupted in the load phase: report what was done so far.
            load_done_pending_ = false;
            report_load_done(now_ns());
            phase_ = Phase::done;
        }
        if (watch_ && !latency_emitted_) report_latency_then_hold(now_ns());
        phase_ = Phase::done;
        nlohmann::json j = {{"event", "summary"}};
        const RequestCounters& r = notifier_->requests();
        j["seconds"] = seconds(now_ns() - start_ns_);
        j["dialogs"] = notifier_->dialogs();
        j["active"] = notifier_->covered();
        j["dialogs_active"] = notifier_->active();
        j["subscribes"] = r.subscribes;
        j["new_dialogs"] = r.new_dialogs;
        j["subscribe_retransmissions"] = r.retransmissions;
        j["challenges"] = r.challenges;
        j["auth_failures"] = r.auth_failures;
        j["refreshes"] = r.refreshes;
        j["unsubscribes"] = r.unsubscribes;
        j["expired"] = r.expired;
        j["lost_with_connection"] = r.lost_with_connection;
        j["no_dialog_481"] = r.no_dialog;
        j["bad_event_489"] = r.bad_event;
        j["options"] = r.options;
        j["other_requests"] = r.other_requests;
        j["malformed"] = r.malformed;
        j["stray_responses"] = r.stray_responses;
        j["max_subscribes_per_second"] = notifier_->subscribe_arrivals().max_per_second();
        j["notifies"] = notify_json(notifier_->all_notifies());
        j["load"] = notify_json(notifier_->load_notifies());
        j["messages"] = messages_json(notifier_->messages());
        if (!options_.list_uri.empty()) j["list"] = list_json(*notifier_);
        const Transport::Counters& t = transport_.counters();
        j["transport"] = {{"udp_received", t.udp_received},
                          {"tcp_received", t.tcp_received},
                          {"truncated", t.truncated},
                          {"send_errors", t.send_errors},
                          {"tcp_connections", t.tcp_connections},
                          {"tcp_closed", t.tcp_closed},
                          {"framing_errors", t.framing_errors},
                          {"tcp_connects", t.tcp_connects},
                          {"connect_failures", t.connect_failures}};
        if (watch_) j["watch"] = {{"ready", watch_->ready()}, {"presence_events", watch_->presence_events()}};
        if (signal) j["interrupted"] = signal == SIGTERM ? "SIGTERM" : "SIGINT";
        if (max_reached_) j["max_seconds_reached"] = true;
        emit(j);
        std::cerr << "loadgen: done\n";
        if (watch_) watch_->close();
        transport_.close();
        uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
        for (auto& s : signals_) uv_close(reinterpret_cast<uv_handle_t*>(&s), nullptr);
    }

    const Options& options_;
    uv_loop_t* loop_;
    Transport transport_;
    LatencyBook latency_;
    std::unique_ptr<Notifier> notifier_;
    std::unique_ptr<WatchClient> watch_;
    uv_timer_t tick_{};
    uv_signal_t signals_[2]{};
    Phase phase_ = Phase::subscribe;
    uint64_t start_ns_ = 0;
    uint64_t phase_ns_ = 0;
    uint64_t subscribed_at_ns_ = 0;
    uint64_t last_stats_ns_ = 0;
    bool subscribed_done_ = false;
    bool load_done_pending_ = false;
    bool load_emitted_ = false;
    bool load_reported_ = false;
    bool latency_emitted_ = false;
    bool max_reached_ = false;
};

}  // namespace
}  // namespace loadgen

int main(int argc, char** argv) {
    loadgen::Options options;
    std::string message;
    int code = 0;
    if (!loadgen::parse_options(argc, argv, options, message, code)) {
        (code == 0 ? std::cout : std::cerr) << message;
        return code;
    }
    std::signal(SIGPIPE, SIG_IGN);
    uv_loop_t* loop = uv_default_loop();
    loadgen::Run run(options, loop);
    if (run.start() != 0) return 1;
    // One iteration at a time so --busy-poll can spin (UV_RUN_NOWAIT polls
    // with a zero timeout) only while the load phase runs.
    while (uv_run(loop, run.spinning() ? UV_RUN_NOWAIT : UV_RUN_ONCE) != 0) {
    }
    uv_loop_close(loop);
    return 0;
}
