// Snapshots of the presence service for the control socket (view.hpp).
#include "presence/service.hpp"

namespace presenced::presence {

using subscription::Subscription;

namespace {

void copy_info(const subscription::Subscription::Info& info, SourceView& sv) {
    sv.last_code = info.last_code;
    sv.last_reason = info.last_reason;
    sv.last_state_reason = info.last_state_reason;
    sv.why = info.why;
    sv.last_notify_at = info.last_notify_at;
    sv.expires_at = info.expires_at;
    sv.next_refresh_at = info.next_refresh_at;
    sv.retries = info.retries;
    sv.next_retry_at = info.next_retry_at;
    sv.notifies = info.notifies;
}

std::string source_state_name(Kind kind, const Source& s) {
    if (!s.known) return "unknown";
    return std::string(kind == Kind::rich ? state_name(s.rich) : state_name(s.telephony));
}

}  // namespace

KindView Service::kind_view(const UserState& u, Kind kind) const {
    const KindState& ks = kind_state(u, kind);
    KindView v;
    v.state = std::string(kind == Kind::rich ? state_name(ks.shown.rich) : state_name(ks.shown.telephony));
    v.stale = ks.shown.stale;
    v.source = ks.shown.source;
    const std::time_t now = std::time(nullptr);
    v.age_s = ks.shown.received_at ? static_cast<int64_t>(now - ks.shown.received_at) : -1;
    v.message = ks.shown.message;
    const std::string& uri = kind == Kind::rich ? u.entry.rich_uri : u.entry.telephony_uri;
    for (const auto& src : ks.sources) {
        if (!v.source.empty() && src.connector == v.source) {
            if (kind == Kind::rich)
                v.entries = src.entries;
            else
                v.dialogs = src.dialogs.dialogs();
        }
        SourceView sv;
        sv.connector = src.connector;
        sv.state = source_state_name(kind, src);
        sv.known = src.known;
        sv.message = src.message;
        sv.received_at = src.received_at;
        sv.body_error = src.body_error;
        sv.restored = src.restored;
        sv.cached_state = src.cached_state;
        if (!uri.empty()) {
            // Through its list: the list subscription's dialog, this resource's instance.
            const auto* sub = manager_.find(source_key(u, kind, src));
            if (sub) copy_info(sub->info(), sv);
            if (src.via_list) {
                const ListState* ls = list_for(src.connector, kind);
                sv.list = ls ? ls->uri : "";
                sv.list_instance = src.list_instance.empty() ? "none" : src.list_instance;
                sv.list_reason = src.list_reason;
                if (!src.list_reason.empty()) sv.last_state_reason = src.list_reason;
                sv.subscription = list_source_status(kind, src);
            } else if (sub) {
                sv.subscription = std::string(subscription::status_name(sub->status()));
            }
            const bool unanswered =
                sv.subscription == "none" || sv.subscription == "queued" || sv.subscription == "subscribing";
            if (src.restored && unanswered) sv.subscription = "restoring";
        }
        v.sources.push_back(std::move(sv));
    }
    return v;
}

UserView Service::view_of(const UserState& u) const {
    UserView v;
    v.user = u.entry;
    if (auto n = notes_.find(u.entry.username); n != notes_.end()) v.note = n->second;
    v.rich = kind_view(u, Kind::rich);
    v.telephony = kind_view(u, Kind::telephony);
    const uint64_t now = clock_.now_ms();
    v.forced = u.forced_until_ms > now;
    v.forced_remaining_s = v.forced ? static_cast<int64_t>((u.forced_until_ms - now + 999) / 1000) : 0;
    v.watchers = u.watchers + all_watchers_;  // clients watching everyone count too
    return v;
}

std::vector<UserView> Service::user_views() const {
    std::vector<UserView> out;
    out.reserve(order_.size());
    for (const auto& name : order_)
        if (auto it = users_.find(name); it != users_.end()) out.push_back(view_of(it->second));
    return out;
}

std::optional<UserView> Service::user_view(std::string_view username) const {
    auto it = users_.find(std::string(username));
    if (it == users_.end()) return std::nullopt;
    return view_of(it->second);
}

}  // namespace presenced::presence
