// The presence service; see service.hpp.
#include "presence/service.hpp"

#include <algorithm>

#include "sip/uri_key.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace presenced::presence {

using subscription::Subscription;
using util::cat;

namespace {

constexpr uint64_t kMsPerS = 1000;
// Users whose subscriptions are (re)made per loop turn after a start or reload.
constexpr size_t kReconcileSlice = 2000;
// Bodies larger than this are not cached (the state and message still are).
constexpr size_t kMaxCachedBody = size_t{16} * 1024;

std::string_view shown_name(Kind kind, const Shown& s) {
    return kind == Kind::rich ? state_name(s.rich) : state_name(s.telephony);
}

// Everything that, changed, makes a connector's subscriptions start over.
bool same_server(const config::Connector& a, const config::Connector& b) {
    return a.server == b.server && a.transport == b.transport && a.uri == b.uri && a.auth_id == b.auth_id &&
           a.password == b.password && a.telephony_event == b.telephony_event;
}

}  // namespace

Service::Service(ev::Clock& clock, Network network)
    : clock_(clock),
      network_(std::move(network)),
      manager_(clock, subscription::Manager::Hooks{
                          [this](Subscription& s) { on_status(s); },
                          [this](Subscription& s, const sip::Message& m) { on_body(s, m); },
                          [this](Subscription& s) { on_restarted(s); },
                      }) {}

Service::~Service() {
    if (reconcile_timer_) clock_.cancel(reconcile_timer_);
    for (auto& [name, u] : users_)
        for (ev::TimerId t : {u.forced_timer, u.linger_timer})
            if (t) clock_.cancel(t);
    for (auto& [id, ls] : lists_)
        if (ls.retry_timer) clock_.cancel(ls.retry_timer);
}

void Service::set_connector(const config::Connector& c) {
    const auto& p = config_->presence;
    subscription::ConnectorSettings s;
    s.name = c.name;
    s.from_uri = c.uri;
    s.credentials = {c.auth_id, c.password};
    s.pacing.rate_per_s = c.subscribe_rate;
    s.pacing.burst = static_cast<uint32_t>(c.subscribe_rate);
    s.pacing.max_in_flight = static_cast<uint32_t>(c.max_in_flight);
    s.backoff = {static_cast<uint64_t>(p.retry_min) * kMsPerS, static_cast<uint64_t>(p.retry_max) * kMsPerS};
    s.timer_n_ms = 64 * static_cast<uint64_t>(config_->sip.t1_ms);
    s.expires = static_cast<uint32_t>(p.expires);
    s.send = [this, name = c.name](sip::RequestSpec spec, sip::Endpoint::Done done) {
        const auto target = network_.target(name);
        if (!target) {
            // Not resolved (yet): a transport error, retried with back-off.
            clock_.start(0, [done = std::move(done)] { done(sip::ClientOutcome::transport_error, nullptr); });
            return;
        }
        if (spec.contact.empty()) spec.contact = network_.contact(*target);
        network_.send(std::move(spec), *target, std::move(done));
    };
    manager_.set_connector(std::move(s));
}

void Service::apply(std::shared_ptr<const config::Config> config, const Directory& directory) {
    const std::shared_ptr<const config::Config> before = config_;
    config_ = std::move(config);

    // Connectors: removed, disabled or pointed elsewhere -> their
    // subscriptions end (unsubscribed); the others keep theirs untouched.
    std::vector<std::string> next;
    for (const auto& c : config_->connectors)
        if (c.enabled && c.server_address) next.push_back(c.name);
    for (const auto& name : connectors_) {
        const config::Connector* now = config_->find_connector(name);
        const config::Connector* old = before ? before->find_connector(name) : nullptr;
        const bool gone = std::find(next.begin(), next.end(), name) == next.end();
        if (gone || (old && now && !same_server(*old, *now))) {
            manager_.remove_connector(name, true);
            reset_lists(name);
        }
    }
    connectors_ = std::move(next);
    for (const auto& name : connectors_) set_connector(*config_->find_connector(name));

    // Users: removed ones are unsubscribed; the others keep their sources.
    std::unordered_map<std::string, UserState> kept;
    order_.clear();
    for (const auto& e : directory.users()) {
        order_.push_back(e.username);
        UserState u;
        if (auto it = users_.find(e.username); it != users_.end()) {
            u = std::move(it->second);
            users_.erase(it);
        }
        u.entry = e;
        for (Kind kind : kKinds) {
            KindState& ks = kind_state(u, kind);
            std::vector<Source> sources;
            for (const auto& name : connectors_) {
                auto it = std::find_if(ks.sources.begin(), ks.sources.end(),
                                       [&](const Source& s) { return s.connector == name; });
                if (it != ks.sources.end()) {
                    sources.push_back(std::move(*it));
                } else {
                    Source s;
                    s.connector = name;
                    sources.push_back(std::move(s));
                }
            }
            ks.sources = std::move(sources);
        }
        kept.emplace(e.username, std::move(u));
    }
    for (auto& [name, u] : users_) {  // what is left was removed
        release_all(u);
        if (network_.forget) network_.forget(name);
    }
    users_ = std::move(kept);
    for (auto& index : users_by_uri_) index.clear();
    for (const auto& [name, u] : users_) {
        for (Kind kind : kKinds) {
            const std::string& uri = kind == Kind::rich ? u.entry.rich_uri : u.entry.telephony_uri;
            if (auto key = sip::uri_key(uri)) users_by_uri_[kind == Kind::rich ? 0 : 1][*key].push_back(name);
        }
    }
    apply_lists(before == nullptr);
    for (auto& [name, u] : users_) {
        for (Kind kind : kKinds) update_shown(u, kind);
        pending_reconcile_.push_back(name);
    }
    schedule_reconcile();
}

void Service::schedule_reconcile() {
    if (reconcile_timer_ || pending_reconcile_.empty()) return;
    reconcile_timer_ = clock_.start(0, [this] {
        reconcile_timer_ = 0;
        // A slice per loop turn: with 100,000 users the control socket still
        // answers at once after a start or reload (the pacer sends far fewer
        // SUBSCRIBEs per second than this makes anyway).
        for (size_t n = 0; n < kReconcileSlice && !pending_reconcile_.empty(); ++n) {
            const std::string name = std::move(pending_reconcile_.back());
            pending_reconcile_.pop_back();
            if (auto it = users_.find(name); it != users_.end()) reconcile(it->second);
        }
        schedule_reconcile();
    });
}

void Service::release_all(UserState& u) {
    for (ev::TimerId* t : {&u.forced_timer, &u.linger_timer}) {
        if (*t) clock_.cancel(*t);
        *t = 0;
    }
    for (Kind kind : kKinds)
        for (const auto& s : kind_state(u, kind).sources)
            manager_.release({u.entry.username, std::string(kind_name(kind)), s.connector}, true);
}

bool Service::wanted(const UserState& u) const {
    if (shutting_down_) return false;
    if (config_->presence.subscribe == config::SubscribePolicy::all) return true;
    return u.watchers > 0 || all_watchers_ > 0 || u.lingering || u.forced_until_ms > clock_.now_ms();
}

Subscription::Spec Service::spec_for(const UserState& u, Kind kind, const config::Connector& c) const {
    if (kind == Kind::rich) return {u.entry.rich_uri, "presence", "application/pidf+xml"};
    // connector.telephony_event: dialog-info, or PIDF for PBXs that report line state through presence.
    if (c.telephony_event == config::TelephonyEvent::presence)
        return {u.entry.telephony_uri, "presence", "application/pidf+xml"};
    return {u.entry.telephony_uri, "dialog", "application/dialog-info+xml"};
}

void Service::reconcile(UserState& u) {
    const bool want = wanted(u);
    for (Kind kind : kKinds) {
        const std::string& uri = kind == Kind::rich ? u.entry.rich_uri : u.entry.telephony_uri;
        bool flipped = false;
        for (auto& s : kind_state(u, kind).sources) {
            const Subscription::Key key{u.entry.username, std::string(kind_name(kind)), s.connector};
            // A list member needs no subscription of its own (RFC 4662 §3).
            const bool via_list = !uri.empty() && served_by_list(u, kind, s);
            flipped = flipped || via_list != s.via_list;
            s.via_list = via_list;
            if (!want || uri.empty() || via_list) {
                manager_.release(key, true);
                continue;
            }
            manager_.ensure(key, spec_for(u, kind, *config_->find_connector(s.connector)));
        }
        if (flipped) update_shown(u, kind);
    }
}

Source* Service::source_of(const Subscription& s, UserState** user, Kind* kind_out) {
    auto it = users_.find(s.key().user);
    if (it == users_.end()) return nullptr;
    const Kind kind = s.key().kind == "rich" ? Kind::rich : Kind::telephony;
    for (auto& src : kind_state(it->second, kind).sources) {
        if (src.connector != s.key().connector) continue;
        if (user) *user = &it->second;
        if (kind_out) *kind_out = kind;
        return &src;
    }
    return nullptr;
}

void Service::on_status(Subscription& s) {
    if (s.key().user.empty()) {
        if (ListState* ls = list_of(s)) on_list_status(s, *ls);
        return;
    }
    UserState* u = nullptr;
    Kind kind{};
    if (source_of(s, &u, &kind)) update_shown(*u, kind);
}

void Service::on_restarted(Subscription& s) {
    if (s.key().user.empty()) {
        if (ListState* ls = list_of(s)) on_list_restarted(*ls);
        return;
    }
    // RFC 4235 §4.3 / rfc-checklist 13.7: versions restart with the dialog.
    if (Source* src = source_of(s)) reset_tracking(*src);
}

void Service::persist_source(const UserState& u, Kind kind, const Source& src, const Subscription& s,
                             std::string_view content_type, std::string_view body) {
    if (!network_.persist) return;
    const auto info = s.info();
    CachedSource row{
        u.entry.username, std::string(kind_name(kind)),
        src.connector,    std::string(kind == Kind::rich ? state_name(src.rich) : state_name(src.telephony)),
        src.message,      "",
        src.received_at,  info.last_code,
        info.last_reason};
    if (body.size() <= kMaxCachedBody) row.detail = cat(content_type, "\n", body);
    network_.persist(std::move(row));
}

void Service::on_body(Subscription& s, const sip::Message& notify) {
    if (s.key().user.empty()) {
        if (ListState* ls = list_of(s)) on_list_body(s, *ls, notify);
        return;
    }
    UserState* u = nullptr;
    Kind kind{};
    Source* src = source_of(s, &u, &kind);
    if (!src) return;
    const std::time_t now = std::time(nullptr);
    const ApplyResult r = kind == Kind::rich ? apply_rich(*src, notify.content_type(), notify.body(), now)
                                             : apply_telephony(*src, notify.content_type(), notify.body(), now);
    if (r.error.empty() && !r.ignored) {
        src->restored = false;  // confirmed or replaced by the server
        persist_source(*u, kind, *src, s, notify.content_type(), notify.body());
    }
    if (!r.error.empty())
        log::info("presence ", u->entry.username, "/", kind_name(kind), "@", src->connector,
                  ": body refused, previous state kept: ", r.error);
    if (r.refresh) s.refresh_now();  // a dialog-info version gap: ask for full state
    update_shown(*u, kind);
}

void Service::update_shown(UserState& u, Kind kind) {
    KindState& ks = kind_state(u, kind);
    for (auto& src : ks.sources) {
        // Through a list: fresh while the list subscription is active and
        // the server says this resource's instance is (RFC 4662 §5.4).
        const Subscription* sub = manager_.find(source_key(u, kind, src));
        const bool instance_active = !src.via_list || src.list_instance == "active";
        // A restored state is stale until a body confirms it, whatever the subscription says.
        src.fresh = sub && sub->status() == subscription::Status::active && instance_active && !src.restored;
        auto p = positive_.find(src.connector);
        src.connector_positive = p != positive_.end() && p->second;
    }
    const std::string& uri = kind == Kind::rich ? u.entry.rich_uri : u.entry.telephony_uri;
    // The named preferred connector, or the only enabled one (presenced.toml(5)).
    const config::Connector* preferred = config_->preferred();
    Shown next = aggregate(kind, ks.sources, preferred ? std::string_view(preferred->name) : std::string_view());
    if (uri.empty()) {
        next = Shown{};
        next.rich = RichState::not_configured;
        next.telephony = TelephonyState::not_configured;
    }
    const Shown before = ks.shown;
    ks.shown = next;
    if (kind == Kind::rich)
        u.entry.rich = next.rich;
    else
        u.entry.telephony = next.telephony;
    const bool changed = shown_name(kind, before) != shown_name(kind, next) || before.source != next.source ||
                         before.stale != next.stale || before.message != next.message;
    if (!changed) return;
    Event e;
    e.type = Event::Type::presence;
    e.username = u.entry.username;
    e.kind = std::string(kind_name(kind));
    e.state = std::string(shown_name(kind, next));
    e.previous = std::string(shown_name(kind, before));
    e.source = next.source;
    e.stale = next.stale;
    e.message = next.message;
    e.at = std::time(nullptr);
    emit(e);
}

void Service::emit(const Event& e) {
    if (watchers_.empty()) return;
    std::vector<uint64_t> ids;
    ids.reserve(watchers_.size());
    for (const auto& [id, w] : watchers_)
        if (e.type == Event::Type::connector || w.users.empty() || w.users.count(e.username)) ids.push_back(id);
    for (uint64_t id : ids) {
        auto it = watchers_.find(id);  // a sink may unwatch others (a client dropped)
        if (it != watchers_.end()) it->second.sink(e);
    }
}

void Service::connector_changed(const connector::Connector& c) {
    const bool positive = connector::is_positive(c.health.status);
    const std::string status(connector::status_name(c.health.status));
    auto prev = statuses_.find(c.config.name);
    const std::string previous = prev == statuses_.end() ? std::string() : prev->second;
    statuses_[c.config.name] = status;
    const bool flipped = positive_[c.config.name] != positive;
    positive_[c.config.name] = positive;
    if (previous != status) {
        Event e;
        e.type = Event::Type::connector;
        e.connector = c.config.name;
        e.state = status;
        e.previous = previous;
        e.cause = c.health.cause;
        e.at = std::time(nullptr);
        emit(e);
    }
    if (!flipped) return;
    for (auto& [name, u] : users_)
        for (Kind kind : kKinds) update_shown(u, kind);
}

void Service::restart_connector(const std::string& name) {
    if (std::find(connectors_.begin(), connectors_.end(), name) == connectors_.end()) return;
    manager_.remove_connector(name, true);
    reset_lists(name);
    set_connector(*config_->find_connector(name));
    apply_lists(true);  // its subscriptions all ended: nothing to keep meanwhile
    for (auto& [user, u] : users_) reconcile(u);
}

void Service::restore(const std::vector<CachedSource>& rows, std::time_t now) {
    const std::time_t horizon = config_ ? config_->presence.cache_horizon : 0;
    size_t restored = 0, expired = 0;
    for (const auto& row : rows) {
        auto it = users_.find(row.username);
        if (it == users_.end()) continue;  // no longer in the directory
        const Kind kind = row.kind == "rich" ? Kind::rich : Kind::telephony;
        auto& sources = kind_state(it->second, kind).sources;
        auto src =
            std::find_if(sources.begin(), sources.end(), [&](const Source& s) { return s.connector == row.connector; });
        if (src == sources.end()) continue;
        // Only the state, message and age are restored: parsing 100,000 cached
        // documents again would cost more than a second at start. The
        // entries and dialogs come back with the first NOTIFY; the document
        // stays in the database for diagnostics.
        src->cached_state = row.state;
        src->message = row.message;
        src->received_at = row.received_at;
        src->body_error.clear();
        src->restored = true;
        if (kind == Kind::rich) {
            src->rich = parse_rich_state(row.state).value_or(RichState::unknown);
        } else {
            src->telephony = parse_telephony_state(row.state).value_or(TelephonyState::unknown);
        }
        // Older than the horizon: not shown (unknown), but kept for `user NAME`.
        src->known = now - row.received_at <= horizon;
        ++(src->known ? restored : expired);
    }
    for (auto& [name, u] : users_)
        for (Kind kind : kKinds) update_shown(u, kind);
    log::info("state cache: ", restored, " sources restored (stale until confirmed), ", expired,
              " older than cache_horizon shown as unknown");
}

util::Status Service::set_note(const std::string& username, const std::string& text) {
    if (!users_.count(username))
        return util::Error{"not_found", cat("no user \"", util::escape_control(username), "\"")};
    if (text.empty())
        notes_.erase(username);
    else
        notes_[username] = text;
    return util::Ok{};
}

util::Result<ForceReport> Service::force_subscribe(std::string_view username, int seconds) {
    auto it = users_.find(std::string(username));
    if (it == users_.end()) return util::Error{"not_found", cat("no user \"", util::escape_control(username), "\"")};
    UserState& u = it->second;
    ForceReport report;
    report.username = u.entry.username;
    report.seconds = seconds;
    bool started = false;
    for (Kind kind : kKinds) {
        const std::string& uri = kind == Kind::rich ? u.entry.rich_uri : u.entry.telephony_uri;
        for (const auto& src : kind_state(u, kind).sources) {
            ForceResult r{std::string(kind_name(kind)), src.connector, "", "none"};
            const Subscription::Key key{u.entry.username, r.kind, src.connector};
            if (uri.empty()) {
                r.action = "not_configured";
            } else if (src.via_list) {
                // Its list serves it: a subscription of its own would only duplicate it.
                r.action = "list";
                r.subscription = list_source_status(kind, src);
            } else if (Subscription* s = manager_.find(key)) {
                // One exists: report it and extend nothing, unless it is
                // parked (rejected / no_such_user / unsupported): that one
                // starts again (the seed's diagnostic).
                const bool restarted = s->is_parked() && s->start(true);
                r.action = restarted ? "started" : "existing";
                started = started || restarted;
                r.subscription = std::string(subscription::status_name(s->status()));
            } else if (Subscription* n =
                           manager_.ensure(key, spec_for(u, kind, *config_->find_connector(src.connector)))) {
                r.action = "started";
                r.subscription = std::string(subscription::status_name(n->status()));
                started = true;
            }
            report.results.push_back(std::move(r));
        }
    }
    if (started) {
        u.forced_until_ms = clock_.now_ms() + static_cast<uint64_t>(seconds) * kMsPerS;
        if (u.forced_timer) clock_.cancel(u.forced_timer);
        const std::string name = u.entry.username;
        u.forced_timer = clock_.start(static_cast<uint64_t>(seconds) * kMsPerS, [this, name] {
            auto f = users_.find(name);
            if (f == users_.end()) return;
            f->second.forced_timer = 0;
            f->second.forced_until_ms = 0;
            reconcile(f->second);  // removed unless something else holds it
        });
        log::info("forced subscribe of ", u.entry.username, " for ", seconds, " s");
    }
    return report;
}

util::Result<uint64_t> Service::watch(const std::vector<std::string>& usernames, Sink sink) {
    for (const auto& name : usernames)
        if (!users_.count(name)) return util::Error{"not_found", cat("no user \"", util::escape_control(name), "\"")};
    const uint64_t id = next_watch_++;
    Watcher w{{usernames.begin(), usernames.end()}, std::move(sink)};
    if (w.users.empty()) {
        ++all_watchers_;
        for (auto& [name, u] : users_) {
            u.lingering = false;
            reconcile(u);
        }
    } else {
        for (const auto& name : w.users) {
            UserState& u = users_.at(name);
            ++u.watchers;
            u.lingering = false;
            reconcile(u);
        }
    }
    watchers_.emplace(id, std::move(w));
    return id;
}

void Service::unwatch(uint64_t id) {
    auto it = watchers_.find(id);
    if (it == watchers_.end()) return;
    const std::set<std::string> names = std::move(it->second.users);
    watchers_.erase(it);
    if (names.empty()) {
        --all_watchers_;
        if (all_watchers_ == 0)
            for (auto& [name, u] : users_) hold_released(u);
        return;
    }
    for (const auto& name : names) {
        auto u = users_.find(name);
        if (u == users_.end()) continue;
        if (u->second.watchers > 0) --u->second.watchers;
        hold_released(u->second);
    }
}

void Service::hold_released(UserState& u) {
    // on_demand: keep the subscription a little while (presence.on_demand_linger),
    // so a client that reconnects does not cost a new SUBSCRIBE.
    if (u.watchers > 0 || all_watchers_ > 0 || config_->presence.subscribe != config::SubscribePolicy::on_demand)
        return;
    const uint64_t linger = static_cast<uint64_t>(config_->presence.on_demand_linger) * kMsPerS;
    u.lingering = linger > 0;
    if (u.linger_timer) clock_.cancel(u.linger_timer);
    u.linger_timer = 0;
    if (!u.lingering) {
        reconcile(u);
        return;
    }
    const std::string name = u.entry.username;
    u.linger_timer = clock_.start(linger, [this, name] {
        auto f = users_.find(name);
        if (f == users_.end()) return;
        f->second.linger_timer = 0;
        f->second.lingering = false;
        reconcile(f->second);
    });
}

void Service::shutdown(std::function<void()> done) {
    shutting_down_ = true;
    pending_reconcile_.clear();
    for (auto& [id, ls] : lists_) {
        if (ls.retry_timer) clock_.cancel(ls.retry_timer);
        ls.retry_timer = 0;
    }
    for (auto& [name, u] : users_)
        for (ev::TimerId* t : {&u.forced_timer, &u.linger_timer}) {
            if (*t) clock_.cancel(*t);
            *t = 0;
        }
    const uint64_t timeout = static_cast<uint64_t>(config_ ? config_->presence.shutdown_timeout : 0) * kMsPerS;
    manager_.shutdown(timeout, std::move(done));
}

}  // namespace presenced::presence
