// The presence service: which (user, kind, connector) subscriptions are
// wanted and why (policy "all", watching control clients, forced
// subscribes), the bodies of their NOTIFYs into the model, the aggregation
// per user and kind, and the change events for watchers. It owns the
// subscription manager; the daemon owns it, feeds it the config on start
// and reload and the connectors' health, and serves its views.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/config.hpp"
#include "connector/health.hpp"
#include "ev/clock.hpp"
#include "presence/directory.hpp"
#include "presence/model.hpp"
#include "presence/rlmi.hpp"
#include "presence/view.hpp"
#include "subscription/manager.hpp"
#include "util/error.hpp"

namespace presenced::presence {

// One source as the state cache keeps it (store/), for warm start.
struct CachedSource {
    std::string username, kind, connector, state, message;
    std::string detail;  // "<content type>\n<last body>", or "" (too large or none)
    std::time_t received_at = 0;
    int last_code = 0;
    std::string last_reason;
};

class Service {
public:
    struct Network {
        // The server of a connector as resolved now (nullopt: not yet / not resolvable).
        std::function<std::optional<sip::Target>(const std::string& connector)> target;
        // Sends a request in a new client transaction (sip::Endpoint::send_request).
        std::function<void(sip::RequestSpec, const sip::Target&, sip::Endpoint::Done)> send;
        // Our Contact toward a target: "<sip:presenced@host:port;transport=tcp>".
        std::function<std::string(const sip::Target&)> contact;
        // The state cache: a source's new state (after each body applied),
        // and a user gone from the directory. Optional.
        std::function<void(CachedSource)> persist;  // by value: moved into the store, no copy of the document
        std::function<void(const std::string& username)> forget;
    };

    Service(ev::Clock& clock, Network network);
    ~Service();
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    // Start and reload: users, connectors and policy; subscribes what is
    // wanted (paced), unsubscribes what no longer is, leaves the rest alone.
    void apply(std::shared_ptr<const config::Config> config, const Directory& directory);
    // Warm start: cached states of the users apply() created, shown stale
    // ("restoring") until a NOTIFY confirms them; older than
    // presence.cache_horizon: unknown, the old value kept as cached_state.
    void restore(const std::vector<CachedSource>& rows, std::time_t now);
    // Operator notes (presencectl note).
    void set_notes(std::unordered_map<std::string, std::string> notes) { notes_ = std::move(notes); }
    util::Status set_note(const std::string& username, const std::string& text);
    // presencectl connector restart: its subscriptions end (unsubscribed) and start again, paced.
    void restart_connector(const std::string& name);
    bool has_user(const std::string& username) const { return users_.count(username) != 0; }

    // A connector's health changed (positive or not feeds aggregation).
    void connector_changed(const connector::Connector& connector);

    // The endpoint's NOTIFY hook.
    std::optional<sip::Answer> on_notify(const sip::Message& notify) { return manager_.on_notify(notify); }

    std::vector<UserView> user_views() const;
    std::optional<UserView> user_view(std::string_view username) const;
    util::Result<ForceReport> force_subscribe(std::string_view username, int seconds);
    using Sink = std::function<void(const Event&)>;
    util::Result<uint64_t> watch(const std::vector<std::string>& usernames, Sink sink);
    void unwatch(uint64_t id);
    std::map<std::string, size_t> subscription_counts(const std::string& connector) const {
        return manager_.counts(connector);
    }
    // The connector's resource lists, for `connectors` (service_lists.cpp).
    std::vector<connector::ListInfo> list_infos(const std::string& connector) const;

    // Unsubscribes everything (paced, bounded by presence.shutdown_timeout), then done.
    void shutdown(std::function<void()> done);

private:
    struct KindState {
        std::vector<Source> sources;  // one per enabled connector, config order
        Shown shown;
    };
    struct UserState {
        UserEntry entry;
        KindState rich, telephony;
        int watchers = 0;
        uint64_t forced_until_ms = 0;  // monotonic; 0 = not forced
        ev::TimerId forced_timer = 0, linger_timer = 0;
        bool lingering = false;
    };
    struct Watcher {
        std::set<std::string> users;  // empty = all
        Sink sink;
    };

    bool wanted(const UserState& u) const;
    void reconcile(UserState& u);
    void schedule_reconcile();
    void release_all(UserState& u);
    subscription::Subscription::Spec spec_for(const UserState& u, Kind kind, const config::Connector& c) const;
    KindState& kind_state(UserState& u, Kind kind) { return kind == Kind::rich ? u.rich : u.telephony; }
    const KindState& kind_state(const UserState& u, Kind kind) const {
        return kind == Kind::rich ? u.rich : u.telephony;
    }
    Source* source_of(const subscription::Subscription& s, UserState** user = nullptr, Kind* kind = nullptr);
    void on_status(subscription::Subscription& s);
    void on_body(subscription::Subscription& s, const sip::Message& notify);
    void on_restarted(subscription::Subscription& s);
    void update_shown(UserState& u, Kind kind);
    void emit(const Event& e);
    void set_connector(const config::Connector& c);
    KindView kind_view(const UserState& u, Kind kind) const;
    UserView view_of(const UserState& u) const;
    void hold_released(UserState& u);
    void persist_source(const UserState& u, Kind kind, const Source& src, const subscription::Subscription& s,
                        std::string_view content_type, std::string_view body);

    // ---- resource lists (RFC 4662; service_lists.cpp) ----
    // One (connector, kind) with a list URI. Its subscription has the key
    // {"", kind, connector}: no username is empty.
    struct ListState {
        std::string connector;
        Kind kind = Kind::rich;
        std::string uri;
        bool fallback = false;  // served per user until retry_at_ms
        // A full state arrived since the daemon started: the list has worked,
        // so one failure is not yet a fallback.
        bool membership_known = false;
        // While not serving, members wait with no subscription of their own:
        // only for a list that came with the daemon's start (or a connector
        // restart), when they have none to keep anyway; cleared by a fallback.
        bool members_wait = false;
        bool serving = false;                     // the last full state was applied and no fallback since
        std::optional<uint32_t> version;          // the last RLMI version of the current dialog
        std::unordered_set<std::string> members;  // uri keys (sip::uri_key) of the members
        size_t not_users = 0;                     // members that are no configured user
        int parse_errors = 0;                     // consecutive bodies refused
        std::string cause;                        // why it last fell back ("" = never)
        uint64_t retry_at_ms = 0;                 // monotonic; 0 = not in fallback
        ev::TimerId retry_timer = 0;
    };
    static subscription::Subscription::Key list_key(const std::string& connector, Kind kind) {
        return {"", std::string(kind_name(kind)), connector};
    }
    ListState* list_for(const std::string& connector, Kind kind);
    const ListState* list_for(const std::string& connector, Kind kind) const;
    ListState* list_of(const subscription::Subscription& s);
    void apply_lists(bool members_wait);
    void reset_lists(const std::string& connector);
    void ensure_list(ListState& ls);
    bool served_by_list(const UserState& u, Kind kind, const Source& src) const;
    void on_list_status(subscription::Subscription& s, ListState& ls);
    void on_list_body(subscription::Subscription& s, ListState& ls, const sip::Message& notify);
    void on_list_restarted(ListState& ls);
    void list_fallback(ListState& ls, std::string cause);
    void list_refused_body(subscription::Subscription& s, ListState& ls, const std::string& why);
    void apply_list(subscription::Subscription& s, ListState& ls, const ListNotify& body, int depth,
                    std::unordered_set<std::string>& seen, std::vector<std::string>& touched);
    // entry: the instance the resource's state comes from (nullptr: none yet).
    void apply_list_resource(subscription::Subscription& s, ListState& ls, const RlmiResource& resource,
                             const ListEntry* entry, std::vector<std::string>& touched);
    void update_list_users(const ListState& ls);
    // The subscription status shown for a source served through its list.
    std::string list_source_status(Kind kind, const Source& src) const;
    // The subscription a source's state comes through: its own, or its list's.
    subscription::Subscription::Key source_key(const UserState& u, Kind kind, const Source& src) const {
        if (src.via_list) return list_key(src.connector, kind);
        return {u.entry.username, std::string(kind_name(kind)), src.connector};
    }

    ev::Clock& clock_;
    Network network_;
    std::shared_ptr<const config::Config> config_;
    subscription::Manager manager_;
    std::vector<std::string> order_;  // usernames in directory order
    std::unordered_map<std::string, UserState> users_;
    std::vector<std::string> connectors_;                    // enabled connectors with a server, config order
    std::unordered_map<std::string, bool> positive_;         // connector name -> health positive
    std::unordered_map<std::string, std::string> statuses_;  // connector name -> status name (for events)
    int all_watchers_ = 0;
    std::vector<std::string> pending_reconcile_;  // users whose subscriptions apply() has yet to make
    ev::TimerId reconcile_timer_ = 0;
    std::unordered_map<std::string, std::string> notes_;  // watches of every user
    std::unordered_map<uint64_t, Watcher> watchers_;
    uint64_t next_watch_ = 1;
    bool shutting_down_ = false;
    std::map<std::string, ListState> lists_;  // by "connector/kind"
    // uri key -> usernames with that rich (index 0) or telephony (1) URI.
    std::unordered_map<std::string, std::vector<std::string>> users_by_uri_[2];
};

}  // namespace presenced::presence
