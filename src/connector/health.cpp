// Connector status names and the start-of-life status.
#include "connector/health.hpp"

namespace presenced::connector {

const std::vector<std::string_view>& status_names() {
    static const std::vector<std::string_view> names = {"not_configured",   "disabled",  "forbidden",
                                                        "connection_error", "connected", "credentials_not_found"};
    return names;
}

std::string_view status_name(Status s) { return status_names()[static_cast<size_t>(s)]; }

bool is_positive(Status s) { return s == Status::connected || s == Status::credentials_not_found; }

Health initial_health(const config::Connector& connector, std::time_t now) {
    if (!connector.enabled) return {Status::disabled, now, "enabled = false"};
    if (connector.server.empty()) return {Status::not_configured, now, "no server"};
    return {Status::connection_error, now, "not started"};  // until its Link starts probing
}

std::vector<Connector> build_connectors(const config::Config& config, const std::vector<Connector>& previous,
                                        std::time_t now) {
    std::vector<Connector> out;
    out.reserve(config.connectors.size());
    for (const auto& k : config.connectors) {
        Connector c{k, initial_health(k, now), {}, {}, {}};
        for (const auto& old : previous)
            if (old.config.name == k.name && old.health.status == c.health.status && old.health.cause == c.health.cause)
                c.health.since = old.health.since;
        out.push_back(std::move(c));
    }
    return out;
}

}  // namespace presenced::connector
