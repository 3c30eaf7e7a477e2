// Presence views to JSON: raw units only (epoch seconds, seconds), every
// value present even when empty, so scripts can rely on the keys.
#include "control/presence_json.hpp"

#include <algorithm>

namespace presenced::control {

namespace {

std::string_view entry_kind_name(presence::RichEntry::Kind k) {
    switch (k) {
        case presence::RichEntry::Kind::tuple:
            return "tuple";
        case presence::RichEntry::Kind::person:
            return "person";
        case presence::RichEntry::Kind::device:
            return "device";
    }
    return "tuple";
}

json rich_entry_json(const presence::RichEntry& e) {
    // RFC 3863 §4.1.4: <basic> is open or closed; a tuple without it (or a
    // person or device, which never has one) says nothing: null.
    json basic = nullptr;
    if (e.open) basic = *e.open ? "open" : "closed";
    return json{
        {"kind", entry_kind_name(e.kind)},
        {"id", e.id},
        {"basic", std::move(basic)},
        {"activities", e.activities},
        {"note", e.note},
        {"contact", e.contact},
        {"timestamp", e.timestamp},
        {"device_id", e.device_id},
        {"idle", e.idle},
    };
}

json dialog_json(const presence::DialogEntry& d) {
    return json{
        {"id", d.id},
        {"call_id", d.call_id},
        {"local_tag", d.local_tag},
        {"remote_tag", d.remote_tag},
        {"direction", d.direction},
        {"state", d.state},
        {"event", d.event},
        {"code", d.code ? json(*d.code) : json(nullptr)},
        {"local_identity", d.local_identity},
        {"local_display", d.local_display},
        {"remote_identity", d.remote_identity},
        {"remote_display", d.remote_display},
        {"local_rendering", d.local_rendering},
        {"remote_rendering", d.remote_rendering},
    };
}

// Seconds from now until at; kNoTime when at is 0 (nothing scheduled), 0
// when it is already due.
long long until(std::time_t at, std::time_t now) {
    if (at == 0) return kNoTime;
    return std::max<long long>(0, static_cast<long long>(at - now));
}

long long since(std::time_t at, std::time_t now) {
    if (at == 0) return kNoTime;
    return std::max<long long>(0, static_cast<long long>(now - at));
}

std::string_view body_status(const presence::SourceView& s) {
    if (!s.body_error.empty()) return "bad_body";
    return s.known ? "ok" : "none";
}

json source_json(const presence::SourceView& s, std::time_t now) {
    return json{
        {"connector", s.connector},
        {"subscription", s.subscription},
        {"state", s.state},
        {"known", s.known},
        {"message", s.message},
        {"received_at", s.received_at},
        {"age_s", since(s.received_at, now)},
        {"body", body_status(s)},
        {"body_error", s.body_error},
        {"restored", s.restored},
        {"cached_state", s.cached_state},
        {"last_code", s.last_code},
        {"last_reason", s.last_reason},
        {"last_state_reason", s.last_state_reason},
        {"why", s.why},
        {"last_notify_at", s.last_notify_at},
        {"expires_at", s.expires_at},
        {"expires_in_s", until(s.expires_at, now)},
        {"next_refresh_at", s.next_refresh_at},
        {"next_refresh_in_s", until(s.next_refresh_at, now)},
        {"retries", s.retries},
        {"next_retry_at", s.next_retry_at},
        {"next_retry_in_s", until(s.next_retry_at, now)},
        {"notifies", s.notifies},
        {"list", s.list},
        {"list_instance", s.list_instance},
        {"list_reason", s.list_reason},
    };
}

json kind_json(const presence::KindView& k, presence::Kind kind, std::time_t now, bool detail) {
    json out = {
        {"state", k.state}, {"stale", k.stale}, {"source", k.source}, {"age_s", k.age_s}, {"message", k.message},
    };
    json rows = json::array();
    if (kind == presence::Kind::rich) {
        for (const auto& e : k.entries) rows.push_back(rich_entry_json(e));
        out["entries"] = std::move(rows);
    } else {
        for (const auto& d : k.dialogs) rows.push_back(dialog_json(d));
        out["dialogs"] = std::move(rows);
    }
    if (detail) {
        json sources = json::array();
        for (const auto& s : k.sources) sources.push_back(source_json(s, now));
        out["sources"] = std::move(sources);
    }
    return out;
}

}  // namespace

json user_json(const presence::UserView& view, std::time_t now, bool detail) {
    const presence::UserEntry& u = view.user;
    json out = {
        {"username", u.username},
        {"display_name", u.display_name},
        {"department", u.department},
        {"extension", u.extension},
        {"rich_uri", u.rich_uri},
        {"telephony_uri", u.telephony_uri},
        {"note", view.note},
        {"rich", kind_json(view.rich, presence::Kind::rich, now, detail)},
        {"telephony", kind_json(view.telephony, presence::Kind::telephony, now, detail)},
    };
    if (detail) {
        out["forced"] = view.forced;
        out["forced_remaining_s"] = view.forced ? std::max<int64_t>(0, view.forced_remaining_s) : 0;
        out["watchers"] = view.watchers;
    }
    return out;
}

json event_json(const presence::Event& e) {
    if (e.type == presence::Event::Type::connector)
        return json{{"event", "connector"},   {"connector", e.connector}, {"status", e.state},
                    {"previous", e.previous}, {"cause", e.cause},         {"at", e.at}};
    return json{{"event", "presence"}, {"username", e.username}, {"kind", e.kind},
                {"state", e.state},    {"previous", e.previous}, {"source", e.source},
                {"stale", e.stale},    {"message", e.message},   {"at", e.at}};
}

std::string event_line(const presence::Event& event) {
    return event_json(event).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace presenced::control
