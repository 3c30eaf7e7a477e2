// presenced -n -v: the effective configuration as TOML, in schema order,
// with every default filled in and passwords redacted.
#include <cstdio>

#include "config/config.hpp"
#include "util/text.hpp"

namespace presenced::config {
namespace {

constexpr const char* kRedacted = "<redacted>";

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string toml_string(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

struct Writer {
    std::string out;
    void key(std::string_view k, const std::string& rendered, std::string_view comment = {}) {
        out += util::cat(k, std::string(k.size() < 24 ? 24 - k.size() : 1, ' '), "= ", rendered);
        if (!comment.empty()) out += util::cat("  # ", comment);
        out += '\n';
    }
    void str(std::string_view k, std::string_view v, std::string_view comment = {}) { key(k, toml_string(v), comment); }
    void num(std::string_view k, long long v) { key(k, std::to_string(v)); }
    void boolean(std::string_view k, bool v) { key(k, v ? "true" : "false"); }
};

}  // namespace

std::string print_effective(const Config& c) {
    Writer w;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", c.daemon.control_mode);
    w.out += util::cat("# effective configuration of ", c.path, "\n\n[daemon]\n");
    w.str("control_socket", c.daemon.control_socket);
    w.str("control_mode", mode);
    w.str("control_group", c.daemon.control_group);
    w.str("state_db", c.daemon.state_db);
    w.num("flush_interval_ms", c.daemon.flush_interval_ms);
    w.str("log_level", log::level_name(c.daemon.log_level));

    w.out += "\n[sip]\n";
    w.str("listen", c.sip.listen);
    w.str("contact_host", c.sip.contact_host, c.sip.contact_host.empty() ? "automatic" : "");
    w.str("user_agent", c.sip.user_agent);
    w.num("t1_ms", c.sip.t1_ms);
    w.num("t2_ms", c.sip.t2_ms);
    w.num("t4_ms", c.sip.t4_ms);
    w.num("udp_receive_buffer", c.sip.udp_receive_buffer);
    w.num("max_header_bytes", c.sip.max_header_bytes);
    w.num("max_body_bytes", c.sip.max_body_bytes);
    w.boolean("source_check", c.sip.source_check);
    w.num("probe_interval", c.sip.probe_interval);
    w.num("probe_retry_interval", c.sip.probe_retry_interval);
    w.num("tcp_keepalive_interval", c.sip.tcp_keepalive_interval);

    w.out += "\n[presence]\n";
    const Connector* preferred = c.preferred();
    w.str("preferred_connector", c.presence.preferred_connector,
          c.presence.preferred_connector.empty() && preferred ? util::cat("in effect: ", preferred->name) : "");
    w.str("subscribe", policy_name(c.presence.subscribe));
    w.num("force_subscribe_seconds", c.presence.force_subscribe_seconds);
    w.num("expires", c.presence.expires);
    w.num("retry_min", c.presence.retry_min);
    w.num("retry_max", c.presence.retry_max);
    w.num("on_demand_linger", c.presence.on_demand_linger);
    w.num("shutdown_timeout", c.presence.shutdown_timeout);
    w.num("cache_horizon", c.presence.cache_horizon);
    w.num("list_retry", c.presence.list_retry);
    w.str("users_csv", c.presence.users_csv, c.presence.users_csv.empty() ? "none" : "");

    for (const auto& k : c.connectors) {
        w.out += "\n[[connector]]\n";
        w.str("name", k.name);
        w.boolean("enabled", k.enabled);
        w.str("server", k.server, k.server_address ? util::cat("address ", k.server_address->str()) : "not configured");
        w.str("transport", transport_name(k.transport));
        w.str("uri", k.uri);
        w.str("auth_id", k.auth_id);
        w.str("password", k.password.empty() ? "" : kRedacted);
        w.str("domain", k.domain);
        w.str("telephony_event", telephony_event_name(k.telephony_event));
        w.str("rich_list_uri", k.rich_list_uri, k.rich_list_uri.empty() ? "none" : "");
        w.str("telephony_list_uri", k.telephony_list_uri, k.telephony_list_uri.empty() ? "none" : "");
        w.num("subscribe_rate", k.subscribe_rate);
        w.num("max_in_flight", k.max_in_flight);
    }
    for (const auto& u : c.users) {
        w.out += "\n[[user]]\n";
        w.str("username", u.username);
        w.str("display_name", u.display_name);
        w.str("department", u.department);
        w.str("extension", u.extension);
        w.str("rich_uri", u.rich_uri);
        const std::string resolved = c.resolved_telephony_uri(u);
        w.str("telephony_uri", u.telephony_uri,
              u.telephony_uri.empty() ? (resolved.empty() ? "not configured" : util::cat("resolved: ", resolved)) : "");
    }
    return w.out;
}

}  // namespace presenced::config
