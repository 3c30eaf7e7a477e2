// connectors: one row per configured connector with its health status and
// how many of its subscriptions are in each status.
#include "control/commands.hpp"
#include "subscription/status.hpp"

namespace presenced::control {

namespace {
json counters_json(const connector::Counters& c) {
    json responses = json::object();
    for (int cls = 1; cls <= 6; ++cls) responses[std::to_string(cls) + "xx"] = c.responses[cls];
    return json{{"requests", c.requests},
                {"responses", responses},
                {"retransmissions", c.retransmissions},
                {"timeouts", c.timeouts},
                {"transport_errors", c.transport_errors}};
}

// Every status name but "none" (a source without a subscription is not one
// of the connector's), zeros included, so scripts can rely on the keys.
// Names the daemon counts that this version does not know are left out:
// every key shown is documented.
json subscriptions_json(const std::map<std::string, size_t>& counts) {
    json out = json::object();
    for (auto name : subscription::status_names()) {
        if (name == "none" || name == "restoring") continue;  // states of a source, not of a subscription
        const auto it = counts.find(std::string(name));
        out[std::string(name)] = it == counts.end() ? size_t{0} : it->second;
    }
    return out;
}
json lists_json(const std::vector<connector::ListInfo>& lists) {
    json out = json::array();
    for (const auto& l : lists)
        out.push_back({{"kind", l.kind},
                       {"uri", l.uri},
                       {"mode", l.mode},
                       {"subscription", l.subscription},
                       {"members", l.members},
                       {"served", l.served},
                       {"outside", l.outside},
                       {"not_users", l.not_users},
                       {"version", l.version},
                       {"cause", l.cause},
                       {"retry_at", l.retry_at}});
    return out;
}
}  // namespace

util::Result<json> cmd_connectors(Services& s, const Args& args) {
    if (auto st = args.only({}); !st) return st.error();
    const config::Connector* preferred = s.config().preferred();
    json rows = json::array();
    for (const auto& k : s.connectors()) {
        rows.push_back({
            {"name", k.config.name},
            {"enabled", k.config.enabled},
            {"server", k.config.server},
            {"transport", config::transport_name(k.config.transport)},
            {"uri", k.config.uri},
            {"domain", k.config.domain},
            {"status", connector::status_name(k.health.status)},
            {"positive", connector::is_positive(k.health.status)},
            {"since", k.health.since},
            {"cause", k.health.cause},
            {"preferred", preferred != nullptr && preferred->name == k.config.name},
            {"counters", counters_json(k.counters)},
            {"subscriptions", subscriptions_json(k.subscriptions)},
            {"lists", lists_json(k.lists)},
        });
    }
    return json{{"connectors", std::move(rows)}};
}

}  // namespace presenced::control
