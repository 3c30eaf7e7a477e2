// Resource-list subscriptions (RFC 4662) of the presence service: one
// SUBSCRIBE per connector and kind serves every member of a list; see
// presenced(8) Resource lists.
//
// Modes of a list (ListState):
//   starting  no full state of the list yet: at daemon start members wait
//             for it (start-up sends one SUBSCRIBE, not one per user); a
//             list added by a reload keeps their own subscriptions until it
//   listing   the list serves its members; configured users outside it
//             have subscriptions of their own
//   fallback  the list broke (refused, never answered, not a list body,
//             repeated bad bodies): every user is subscribed individually
//             until presence.list_retry has passed, then the list is tried
//             again; the individual subscriptions end only once the new
//             list subscription delivered a full state (make before break)
#include <algorithm>
#include <span>

#include "presence/service.hpp"
#include "sip/uri_key.hpp"
#include "util/log.hpp"
#include "util/random.hpp"
#include "util/text.hpp"

namespace presenced::presence {

using subscription::Subscription;
using util::cat;

namespace {

constexpr uint64_t kMsPerS = 1000;
// Bodies refused in a row before the list is given up (interop.md §2 item 9:
// servers get list bodies wrong; one bad NOTIFY is not yet a broken server).
constexpr int kListParseErrorsBeforeFallback = 3;
// Failed attempts in a row (retrying) before falling back, once the list
// has worked; before that the first failure is enough: users would
// otherwise wait with no presence at all.
constexpr int kListFailuresBeforeFallback = 2;
constexpr int kExtensionRequired = 421, kBadExtension = 420;

std::string list_id(const std::string& connector, Kind kind) { return cat(connector, "/", kind_name(kind)); }

const std::string& list_uri_of(const config::Connector& c, Kind kind) {
    return kind == Kind::rich ? c.rich_list_uri : c.telephony_list_uri;
}

// The instance a resource's state comes from: an active one with a part,
// else active, pending, terminated, in that order (RFC 4662 §5.4: one per
// back-end subscription; servers send one).
const ListEntry* best_instance(std::span<const ListEntry> instances) {
    const ListEntry* best = nullptr;
    auto rank = [](const ListEntry& e) {
        if (e.instance.state == InstanceState::active) return e.part ? 0 : 1;
        return e.instance.state == InstanceState::pending ? 2 : 3;
    };
    for (const auto& e : instances)
        if (!best || rank(e) < rank(*best)) best = &e;
    return best;
}

}  // namespace

Service::ListState* Service::list_for(const std::string& connector, Kind kind) {
    auto it = lists_.find(list_id(connector, kind));
    return it == lists_.end() ? nullptr : &it->second;
}

const Service::ListState* Service::list_for(const std::string& connector, Kind kind) const {
    auto it = lists_.find(list_id(connector, kind));
    return it == lists_.end() ? nullptr : &it->second;
}

Service::ListState* Service::list_of(const Subscription& s) {
    const Kind kind = s.key().kind == "rich" ? Kind::rich : Kind::telephony;
    ListState* ls = list_for(s.key().connector, kind);
    // A subscription that is leaving (replaced, fallen back) speaks no more for the list.
    if (!ls || manager_.find(s.key()) != &s) return nullptr;
    return ls;
}

void Service::apply_lists(bool members_wait) {
    // Lists whose connector left or whose URI changed end; their members
    // are reconciled by the caller (apply, restart_connector).
    for (auto it = lists_.begin(); it != lists_.end();) {
        ListState& ls = it->second;
        const config::Connector* c = config_->find_connector(ls.connector);
        const bool kept = c && std::find(connectors_.begin(), connectors_.end(), ls.connector) != connectors_.end() &&
                          list_uri_of(*c, ls.kind) == ls.uri;
        if (kept) {
            ++it;
            continue;
        }
        manager_.release(list_key(ls.connector, ls.kind), true);
        if (ls.retry_timer) clock_.cancel(ls.retry_timer);
        it = lists_.erase(it);
    }
    for (const auto& name : connectors_) {
        const config::Connector& c = *config_->find_connector(name);
        for (Kind kind : kKinds) {
            if (list_uri_of(c, kind).empty()) continue;
            auto [it, fresh] = lists_.try_emplace(list_id(name, kind));
            ListState& ls = it->second;
            if (fresh) {
                ls.connector = name;
                ls.kind = kind;
                ls.uri = list_uri_of(c, kind);
                ls.members_wait = members_wait;
            }
            if (!ls.fallback) ensure_list(ls);
        }
    }
}

void Service::reset_lists(const std::string& connector) {
    for (auto it = lists_.begin(); it != lists_.end();) {
        if (it->second.connector != connector) {
            ++it;
            continue;
        }
        if (it->second.retry_timer) clock_.cancel(it->second.retry_timer);
        it = lists_.erase(it);
    }
}

void Service::ensure_list(ListState& ls) {
    if (shutting_down_) return;
    const config::Connector* c = config_->find_connector(ls.connector);
    if (!c) return;
    // RFC 4662 §4.1: Supported: eventlist, and every type a list NOTIFY
    // carries: the multipart wrapper, RLMI and the package's own documents.
    Subscription::Spec spec;
    spec.resource_uri = ls.uri;
    spec.eventlist = true;
    std::string document = "application/pidf+xml";
    spec.event = "presence";
    if (ls.kind == Kind::telephony && c->telephony_event == config::TelephonyEvent::dialog) {
        spec.event = "dialog";
        document = "application/dialog-info+xml";
    }
    spec.accept = cat("multipart/related, ", kRlmiMediaType, ", ", document);
    manager_.ensure(list_key(ls.connector, ls.kind), spec);
}

bool Service::served_by_list(const UserState& u, Kind kind, const Source& src) const {
    const ListState* ls = list_for(src.connector, kind);
    if (!ls || ls->fallback || shutting_down_) return false;
    // Not serving (yet): at daemon start members wait for the first full
    // state; a list added by a reload or retried after a fallback is made
    // before the users' own subscriptions are broken.
    if (!ls->serving) return ls->members_wait;
    const std::string& uri = kind == Kind::rich ? u.entry.rich_uri : u.entry.telephony_uri;
    const auto key = sip::uri_key(uri);
    if (!key || !ls->members.count(*key)) return false;
    // An instance the server ended for a reason the tables retry: the user
    // gets a subscription of its own until the list shows it again.
    return !(src.list_instance == "terminated" && src.list_parked.empty());
}

std::string Service::list_source_status(Kind kind, const Source& src) const {
    if (!src.list_parked.empty()) return src.list_parked;
    const Subscription* sub = manager_.find(list_key(src.connector, kind));
    if (!sub) return "none";
    if (src.list_instance == "pending" && sub->status() == subscription::Status::active) return "pending";
    return std::string(subscription::status_name(sub->status()));
}

void Service::update_list_users(const ListState& ls) {
    for (auto& [name, u] : users_)
        for (const auto& src : kind_state(u, ls.kind).sources)
            if (src.connector == ls.connector && src.via_list) {
                update_shown(u, ls.kind);
                break;
            }
}

void Service::on_list_status(Subscription& s, ListState& ls) {
    const auto info = s.info();
    if (s.is_parked()) {
        return list_fallback(ls, cat("list subscription ", subscription::status_name(s.status()), ": ", info.why));
    }
    if (s.status() == subscription::Status::retrying) {
        if (info.last_code == kExtensionRequired || info.last_code == kBadExtension)
            return list_fallback(ls, cat("list subscription refused: ", info.last_code, " ", info.last_reason));
        const int limit = ls.membership_known ? kListFailuresBeforeFallback : 1;
        if (info.retries >= limit)
            return list_fallback(ls, cat("list subscription failed ", info.retries, " time(s): ", info.why));
    }
    update_list_users(ls);  // active or not: its members' staleness follows it
}

void Service::on_list_restarted(ListState& ls) {
    // A new dialog: RLMI versions start again (RFC 4662 §5.2), and so do
    // the dialog-info versions of its back-end subscriptions.
    ls.version.reset();
    for (auto& [name, u] : users_)
        for (auto& src : kind_state(u, ls.kind).sources)
            if (src.connector == ls.connector && src.via_list) reset_tracking(src);
}

void Service::list_fallback(ListState& ls, std::string cause) {
    if (ls.fallback) return;
    log::warn("connector ", ls.connector, ": resource list ", ls.uri, " (", kind_name(ls.kind),
              ") falls back to one subscription per user: ", cause);
    ls.fallback = true;
    ls.serving = false;
    ls.members_wait = false;
    ls.version.reset();
    ls.parse_errors = 0;
    ls.cause = std::move(cause);
    const uint64_t delay = static_cast<uint64_t>(config_->presence.list_retry) * kMsPerS;
    ls.retry_at_ms = clock_.now_ms() + delay;
    const std::string id = list_id(ls.connector, ls.kind);
    ls.retry_timer = clock_.start(delay, [this, id] {
        auto it = lists_.find(id);
        if (it == lists_.end()) return;
        ListState& l = it->second;
        l.retry_timer = 0;
        l.retry_at_ms = 0;
        l.fallback = false;
        log::info("connector ", l.connector, ": trying resource list ", l.uri, " again");
        ensure_list(l);  // members keep their own subscriptions until it serves (served_by_list)
    });
    // Not from inside the subscription's own callback: release it from a timer.
    const Subscription::Key key = list_key(ls.connector, ls.kind);
    clock_.start(0, [this, key, id] {
        auto it = lists_.find(id);
        if (it == lists_.end() || !it->second.fallback) return;
        manager_.release(key, true);
    });
    for (auto& [name, u] : users_) reconcile(u);
}

void Service::list_refused_body(Subscription& s, ListState& ls, const std::string& why) {
    ++ls.parse_errors;
    log::info("connector ", ls.connector, ": list NOTIFY refused (", ls.parse_errors, " in a row): ", why);
    if (ls.parse_errors >= kListParseErrorsBeforeFallback)
        return list_fallback(ls, cat(ls.parse_errors, " list NOTIFYs refused in a row, the last: ", why));
    s.refresh_now();  // RFC 4662 §5.2: a refresh brings the full state again
}

void Service::on_list_body(Subscription& s, ListState& ls, const sip::Message& notify) {
    // A server that answers the list URI as a single resource (Kamailio
    // when no list matches) sends a package document or nothing at all.
    // The whole header: boundary, type and start are parameters (RFC 2387 §3).
    const std::string content_type = notify.header("Content-Type").value_or("");
    const bool multipart = notify.content_type() == "multipart/related";
    if (!multipart) {
        return list_fallback(ls, cat("the server does not serve ", ls.uri, " as a list: NOTIFY ",
                                     notify.body().empty() ? std::string("without a body")
                                                           : cat("with ", util::escape_control(content_type))));
    }
    auto parsed = parse_list_notify(content_type, notify.body());
    if (!parsed) return list_refused_body(s, ls, cat(parsed.error().code, ": ", parsed.error().message));
    const ListNotify& body = *parsed;
    ls.parse_errors = 0;

    // RFC 4662 §5.2: versions grow by one per NOTIFY of a dialog; an older
    // one is a reordered duplicate, a jump past one lost partial state.
    const uint32_t version = body.list.version;
    bool gap = false;
    if (ls.version && version <= *ls.version) {
        log::debug("connector ", ls.connector, ": list version ", version, " after ", *ls.version, ": ignored");
        return;
    }
    if (!body.list.full_state) gap = ls.version ? version != *ls.version + 1 : true;
    ls.version = version;

    std::unordered_set<std::string> seen;
    std::vector<std::string> touched;
    apply_list(s, ls, body, 0, seen, touched);
    if (body.list.full_state) {
        // Full state replaces the picture: who left the list is served individually now.
        ls.members = std::move(seen);
        ls.not_users = 0;
        const auto& index = users_by_uri_[ls.kind == Kind::rich ? 0 : 1];
        for (const auto& key : ls.members)
            if (!index.count(key)) ++ls.not_users;
        const bool first = !ls.serving;
        ls.membership_known = ls.serving = true;
        if (first)
            log::info("connector ", ls.connector, ": resource list ", ls.uri, " serves ",
                      ls.members.size() - ls.not_users, " users (", ls.not_users, " members are no configured user)");
        for (auto& [name, u] : users_) reconcile(u);
    } else {
        for (const auto& key : seen)
            if (ls.members.insert(key).second && !users_by_uri_[ls.kind == Kind::rich ? 0 : 1].count(key))
                ++ls.not_users;
        for (const auto& name : touched)
            if (auto it = users_.find(name); it != users_.end()) reconcile(it->second);
    }
    for (const auto& name : touched)
        if (auto it = users_.find(name); it != users_.end()) update_shown(it->second, ls.kind);
    if (gap) {
        log::info("connector ", ls.connector, ": list version ", version,
                  " is not the next one: refreshing for full state");
        s.refresh_now();
    }
}

void Service::apply_list(Subscription& s, ListState& ls, const ListNotify& body, int depth,
                         std::unordered_set<std::string>& seen, std::vector<std::string>& touched) {
    // Entries come in document order, one per instance: each resource's
    // instances are the next resource.instances.size() of them, so one pass
    // pairs them (10,000 members must not cost 10,000 scans).
    size_t next = 0;
    for (const auto& resource : body.list.resources) {
        const size_t count = std::min(resource.instances.size(), body.entries.size() - next);
        const std::span<const ListEntry> instances(body.entries.data() + next, count);
        next += count;
        const ListEntry* nested = nullptr;
        for (const auto& e : instances)
            if (e.nested && e.part) nested = &e;
        if (nested) {
            // RFC 4662 §5: a nested list is a part of its own; its members
            // are members of ours. Deeper than the parser allows: refused.
            auto inner = parse_nested_list(body, *nested);
            if (inner) {
                apply_list(s, ls, *inner, depth + 1, seen, touched);
            } else {
                log::info("connector ", ls.connector, ": nested list ", util::escape_control(resource.uri),
                          " refused: ", inner.error().code, ": ", inner.error().message);
            }
            continue;
        }
        if (auto key = sip::uri_key(resource.uri)) seen.insert(*key);
        apply_list_resource(s, ls, resource, best_instance(instances), touched);
    }
}

void Service::apply_list_resource(Subscription& s, ListState& ls, const RlmiResource& resource, const ListEntry* entry,
                                  std::vector<std::string>& touched) {
    const auto key = sip::uri_key(resource.uri);
    if (!key) return;
    const auto& index = users_by_uri_[ls.kind == Kind::rich ? 0 : 1];
    auto users = index.find(*key);
    if (users == index.end()) return;  // counted in not_users, never invented as a user
    const std::time_t now = std::time(nullptr);
    for (const auto& name : users->second) {
        auto it = users_.find(name);
        if (it == users_.end()) continue;
        UserState& u = it->second;
        auto& sources = kind_state(u, ls.kind).sources;
        auto src =
            std::find_if(sources.begin(), sources.end(), [&](const Source& x) { return x.connector == ls.connector; });
        if (src == sources.end()) continue;
        touched.push_back(name);
        if (!entry) {
            src->list_instance.clear();  // a member with no state yet (Kamailio's first NOTIFY)
            src->list_reason.clear();
            src->list_parked.clear();
            continue;
        }
        src->list_reason = entry->instance.reason;
        src->list_parked.clear();
        src->list_instance = std::string(instance_state_name(entry->instance.state));
        switch (entry->instance.state) {
            case InstanceState::active: {
                if (!entry->part) break;  // state unknown for now (rfc-checklist 14.9): the last one stays
                if (!entry->refused.empty()) {
                    log::info("presence ", name, "/", kind_name(ls.kind), "@", ls.connector,
                              ": list part refused: ", entry->refused);
                    break;
                }
                const ApplyResult r = ls.kind == Kind::rich
                                          ? apply_rich(*src, entry->content_type, entry->body, now)
                                          : apply_telephony(*src, entry->content_type, entry->body, now);
                if (r.error.empty() && !r.ignored) {
                    src->restored = false;
                    persist_source(u, ls.kind, *src, s, entry->content_type, entry->body);
                } else if (!r.error.empty()) {
                    log::info("presence ", name, "/", kind_name(ls.kind), "@", ls.connector,
                              ": list part refused, previous state kept: ", r.error);
                }
                break;
            }
            case InstanceState::pending:
                // Not authorised yet: nothing is known (issue 7: pending shows unknown).
                src->known = false;
                src->rich = RichState::unknown;
                src->telephony = TelephonyState::unknown;
                src->message.clear();
                src->entries.clear();
                src->restored = false;
                break;
            case InstanceState::terminated: {
                // The reason table of single subscriptions (RFC 6665 §4.1.3,
                // policy.hpp): parked reasons show as the subscription
                // status; the others give the user a subscription of its own.
                const auto d = subscription::on_terminated(entry->instance.reason, std::nullopt, util::random_u64());
                using A = subscription::Action;
                if (d.action == A::park_rejected) src->list_parked = "rejected";
                if (d.action == A::park_no_such_user) src->list_parked = "no_such_user";
                if (d.action == A::park_unsupported) src->list_parked = "unsupported";
                break;
            }
        }
    }
}

std::vector<connector::ListInfo> Service::list_infos(const std::string& connector) const {
    std::vector<connector::ListInfo> out;
    for (Kind kind : kKinds) {
        const ListState* ls = list_for(connector, kind);
        if (!ls) continue;
        connector::ListInfo i;
        i.kind = std::string(kind_name(kind));
        i.uri = ls->uri;
        i.mode = ls->fallback ? "fallback" : ls->serving ? "listing" : "starting";
        if (const Subscription* sub = manager_.find(list_key(connector, kind)))
            i.subscription = std::string(subscription::status_name(sub->status()));
        else
            i.subscription = "none";
        i.members = ls->members.size();
        i.not_users = ls->not_users;
        for (const auto& [name, u] : users_) {
            const std::string& uri = kind == Kind::rich ? u.entry.rich_uri : u.entry.telephony_uri;
            if (uri.empty()) continue;
            for (const auto& src : kind_state(u, kind).sources) {
                if (src.connector != connector) continue;
                ++(src.via_list ? i.served : i.outside);
            }
        }
        i.version = ls->version.value_or(0);
        i.cause = ls->cause;
        if (ls->retry_at_ms) {
            const uint64_t now = clock_.now_ms();
            i.retry_at = std::time(nullptr) +
                         static_cast<std::time_t>(ls->retry_at_ms > now ? (ls->retry_at_ms - now + 999) / 1000 : 0);
        }
        out.push_back(std::move(i));
    }
    return out;
}

}  // namespace presenced::presence
