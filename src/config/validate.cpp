// The schema of presenced.toml(5): every table, key, type, default and
// range, and the error message for each rule. Unknown keys are errors so a
// typo never passes silently; every message names file, line, column, the
// table (connector "pbx") and the key.
#include <grp.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "config/schema.hpp"
#include "util/text.hpp"

namespace presenced::config {
namespace detail {
namespace {

using util::cat;

// Limits: a config is read by an admin; these only stop nonsense.
constexpr size_t kMaxConnectors = 32;
constexpr size_t kMaxTextLength = 256;      // display names, departments, user agent
constexpr size_t kMaxUnixPathLength = 107;  // sun_path is 108 bytes with the NUL
constexpr int kMinExpires = 60, kMaxExpires = 86400;
constexpr int kMinForceSeconds = 1, kMaxForceSeconds = 3600;
// Back-off of one subscription (rfc-checklist 16.12): a floor of at least 1 s
// so a failing server is never hammered, a cap of at most a day.
constexpr int kMinRetryMin = 1, kMaxRetryMin = 3600;
constexpr int kMinFlushIntervalMs = 10, kMaxFlushIntervalMs = 60'000;
constexpr int kMinCacheHorizon = 60, kMaxCacheHorizon = 366 * 86400;
constexpr int kMinRetryMax = 10, kMaxRetryMax = 86400;
constexpr int kMinLinger = 0, kMaxLinger = 3600;
// Unsubscribing at shutdown must not hold up a stop (systemd gives 90 s by default).
constexpr int kMinShutdownTimeout = 0, kMaxShutdownTimeout = 60;
constexpr int kMinListRetry = 10, kMaxListRetry = 7 * 86400;  // a week: a list that broke is retried at least weekly
// Pacing toward one server (interop.md item 2).
constexpr int kMinSubscribeRate = 1, kMaxSubscribeRate = 10'000;
constexpr int kMinInFlight = 1, kMaxInFlight = 10'000;

const std::regex kConnectorName("[a-z0-9_-]{1,32}");
const std::regex kUsername("[A-Za-z0-9._@+-]{1,64}");
const std::regex kExtension("[A-Za-z0-9*#+._-]{1,32}");
const std::regex kOctalMode("0?[0-7]{3}");

std::string type_phrase(toml::node_type t) {
    switch (t) {
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a floating-point number";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::date:
            return "a date";
        case toml::node_type::time:
            return "a time";
        case toml::node_type::date_time:
            return "a date-time";
        default:
            return "nothing";
    }
}

std::string quoted(std::string_view s) { return cat('"', util::escape_control(s), '"'); }

struct Sink {
    const std::string& file;
    std::vector<Diagnostic>& errors;
    void add(const toml::source_region& where, std::string message) {
        errors.push_back(
            {file, static_cast<int>(where.begin.line), static_cast<int>(where.begin.column), std::move(message)});
    }
};

// Reads one table: typed getters mark keys as known, finish() reports the
// rest as unknown. Messages are prefixed with the table's context.
class TableReader {
public:
    TableReader(const toml::table& table, std::string context, Sink& sink)
        : table_(table), context_(std::move(context)), sink_(sink) {}

    const toml::node* take(std::string_view key) {
        seen_.insert(std::string(key));
        return table_.get(key);
    }

    void error_at(std::string_view key, std::string message) {
        const toml::node* node = table_.get(key);
        sink_.add(node ? node->source() : table_.source(), context_ + std::move(message));
    }
    void error_here(std::string message) { sink_.add(table_.source(), context_ + std::move(message)); }

    bool get(std::string_view key, std::string& out) {
        const toml::node* node = take(key);
        if (!node) return false;
        if (auto v = node->value<std::string>(); v && node->is_string()) {
            out = *v;
            return true;
        }
        wrong_type(key, *node, "a string");
        return false;
    }
    bool get(std::string_view key, bool& out) {
        const toml::node* node = take(key);
        if (!node) return false;
        if (node->is_boolean()) {
            out = *node->value<bool>();
            return true;
        }
        wrong_type(key, *node, "a boolean (true or false)");
        return false;
    }
    bool get(std::string_view key, int& out, int lo, int hi) {
        const toml::node* node = take(key);
        if (!node) return false;
        if (!node->is_integer()) {
            wrong_type(key, *node, "an integer");
            return false;
        }
        const int64_t v = *node->value<int64_t>();
        if (v < lo || v > hi) {
            error_at(key, cat(key, " must be between ", lo, " and ", hi, ", not ", v));
            return false;
        }
        out = static_cast<int>(v);
        return true;
    }
    // A string limited to a fixed set of words.
    bool get_choice(std::string_view key, std::string& out, const std::vector<std::string>& choices) {
        std::string value;
        if (!get(key, value)) return false;
        if (std::find(choices.begin(), choices.end(), value) != choices.end()) {
            out = value;
            return true;
        }
        std::string list;
        for (size_t i = 0; i < choices.size(); ++i) {
            if (i) list += i + 1 == choices.size() ? (choices.size() == 2 ? " or " : ", or ") : ", ";
            list += quoted(choices[i]);
        }
        error_at(key, cat(key, " must be ", list, ", not ", quoted(value)));
        return false;
    }
    bool has(std::string_view key) const { return table_.contains(key); }

    void finish() {
        for (auto&& [key, node] : table_) {
            if (seen_.count(std::string(key.str()))) continue;
            sink_.add(key.source(), cat(context_, "unknown key ", quoted(key.str())));
        }
    }

private:
    void wrong_type(std::string_view key, const toml::node& node, std::string_view wanted) {
        sink_.add(node.source(), cat(context_, key, " must be ", wanted, ", not ", type_phrase(node.type())));
    }

    const toml::table& table_;
    std::string context_;
    Sink& sink_;
    std::set<std::string> seen_;
};

// Plain text fields (names, departments): bounded, no control characters.
void check_text(TableReader& r, std::string_view key, const std::string& value, size_t max = kMaxTextLength) {
    if (value.size() > max)
        r.error_at(key, cat(key, " must be at most ", max, " bytes long"));
    else if (util::has_control(value))
        r.error_at(key, cat(key, " must not contain control characters"));
}

void check_uri(TableReader& r, std::string_view key, const std::string& value) {
    std::string why;
    if (!value.empty() && !is_sip_uri(value, why))
        r.error_at(key, cat(key, " ", quoted(value), " is not a SIP URI: it ", why));
}

void check_absolute_path(TableReader& r, std::string_view key, const std::string& value, size_t max) {
    if (value.empty() || value.front() != '/')
        r.error_at(key, cat(key, " must be an absolute path, not ", quoted(value)));
    else if (value.size() > max)
        r.error_at(key, cat(key, " must be at most ", max, " bytes long"));
}

void read_daemon(const toml::table& t, Config& c, Sink& sink) {
    TableReader r(t, "daemon: ", sink);
    DaemonSection& d = c.daemon;
    if (r.get("control_socket", d.control_socket))
        check_absolute_path(r, "control_socket", d.control_socket, kMaxUnixPathLength);
    std::string mode;
    if (r.get("control_mode", mode)) {
        if (std::regex_match(mode, kOctalMode))
            d.control_mode = static_cast<unsigned>(std::stoul(mode, nullptr, 8));
        else
            r.error_at("control_mode",
                       cat("control_mode must be an octal string such as \"0660\", not ", quoted(mode)));
    }
    if (r.get("control_group", d.control_group) && !d.control_group.empty()) {
        group grp{}, *found = nullptr;
        char buf[4096];
        if (getgrnam_r(d.control_group.c_str(), &grp, buf, sizeof buf, &found) != 0 || !found)
            r.error_at("control_group",
                       cat("control_group ", quoted(d.control_group), " is not a group on this system"));
    }
    // "" keeps no state at all (a read-only appliance, a benchmark): every start is cold.
    if (r.get("state_db", d.state_db) && !d.state_db.empty()) check_absolute_path(r, "state_db", d.state_db, 4096);
    r.get("flush_interval_ms", d.flush_interval_ms, kMinFlushIntervalMs, kMaxFlushIntervalMs);
    std::string level;
    if (r.get_choice("log_level", level, {"error", "warn", "info", "debug", "trace"}))
        d.log_level = *log::parse_level(level);
    r.finish();
}

void read_sip(const toml::table& t, Config& c, Sink& sink) {
    TableReader r(t, "sip: ", sink);
    SipSection& s = c.sip;
    if (r.get("listen", s.listen)) {
        std::string why;
        auto hp = parse_host_port(s.listen, true, why);
        if (!hp)
            r.error_at("listen", cat("listen ", quoted(s.listen), " ", why));
        else if (hp->kind == HostKind::fqdn)
            r.error_at("listen",
                       cat("listen must be an IP address with a port, such as \"0.0.0.0:5060\" or \"[::]:5060\", not ",
                           quoted(s.listen)));
        else
            s.listen_address = *hp;
    }
    if (r.get("contact_host", s.contact_host) && !s.contact_host.empty()) {
        std::string_view h = s.contact_host;
        const bool bracketed = h.size() > 2 && h.front() == '[' && h.back() == ']';
        if (bracketed) h = h.substr(1, h.size() - 2);
        if (!(is_ipv4(h) || is_ipv6(h) || (!bracketed && is_hostname(h))))
            r.error_at("contact_host", cat("contact_host must be an IP address or a DNS name without a port, not ",
                                           quoted(s.contact_host)));
    }
    if (r.get("user_agent", s.user_agent)) {
        if (s.user_agent.empty())
            r.error_at("user_agent", "user_agent must not be empty");
        else
            check_text(r, "user_agent", s.user_agent);
    }
    r.get("t1_ms", s.t1_ms, 50, 10'000);
    r.get("t2_ms", s.t2_ms, 500, 60'000);
    if (s.t2_ms < s.t1_ms)  // checked on the values in force, defaults included
        r.error_at(r.has("t2_ms") ? "t2_ms" : "t1_ms",
                   cat("t2_ms (", s.t2_ms, ") must not be less than t1_ms (", s.t1_ms, ")"));
    r.get("t4_ms", s.t4_ms, 500, 60'000);
    r.get("udp_receive_buffer", s.udp_receive_buffer, 65'536, 64 * 1024 * 1024);
    r.get("max_header_bytes", s.max_header_bytes, 4096, 1024 * 1024);
    r.get("max_body_bytes", s.max_body_bytes, 4096, 64 * 1024 * 1024);
    r.get("source_check", s.source_check);
    r.get("probe_interval", s.probe_interval, 5, 3600);
    r.get("probe_retry_interval", s.probe_retry_interval, 1, 600);
    if (s.probe_retry_interval > s.probe_interval)
        r.error_at(r.has("probe_retry_interval") ? "probe_retry_interval" : "probe_interval",
                   cat("probe_retry_interval (", s.probe_retry_interval, ") must not be more than probe_interval (",
                       s.probe_interval, ")"));
    r.get("tcp_keepalive_interval", s.tcp_keepalive_interval, 0, 3600);
    r.finish();
}

// preferred_connector is checked after the connectors are known.
void read_presence(const toml::table& t, Config& c, Sink& sink) {
    TableReader r(t, "presence: ", sink);
    PresenceSection& p = c.presence;
    r.get("preferred_connector", p.preferred_connector);
    std::string policy;
    if (r.get_choice("subscribe", policy, {"all", "on_demand"}))
        p.subscribe = policy == "all" ? SubscribePolicy::all : SubscribePolicy::on_demand;
    r.get("force_subscribe_seconds", p.force_subscribe_seconds, kMinForceSeconds, kMaxForceSeconds);
    r.get("expires", p.expires, kMinExpires, kMaxExpires);
    r.get("retry_min", p.retry_min, kMinRetryMin, kMaxRetryMin);
    r.get("retry_max", p.retry_max, kMinRetryMax, kMaxRetryMax);
    if (p.retry_max < p.retry_min)  // checked on the values in force, defaults included
        r.error_at(r.has("retry_max") ? "retry_max" : "retry_min",
                   cat("retry_max (", p.retry_max, ") must not be less than retry_min (", p.retry_min, ")"));
    r.get("on_demand_linger", p.on_demand_linger, kMinLinger, kMaxLinger);
    r.get("shutdown_timeout", p.shutdown_timeout, kMinShutdownTimeout, kMaxShutdownTimeout);
    r.get("list_retry", p.list_retry, kMinListRetry, kMaxListRetry);
    r.get("cache_horizon", p.cache_horizon, kMinCacheHorizon, kMaxCacheHorizon);
    if (r.get("users_csv", p.users_csv) && !p.users_csv.empty()) check_absolute_path(r, "users_csv", p.users_csv, 4096);
    r.finish();
}

void read_connector(const toml::table& t, size_t index, Config& c, Sink& sink, std::map<std::string, int>& names) {
    Connector k;
    k.line = static_cast<int>(t.source().begin.line);
    std::string context = cat("connector #", index + 1, ": ");
    {
        // The name is read first so every later message can say which connector.
        TableReader probe(t, context, sink);
        if (!t.contains("name")) {
            probe.error_here("name is required");
        } else if (const auto* node = t.get("name"); node->is_string()) {
            k.name = *node->value<std::string>();
            if (std::regex_match(k.name, kConnectorName)) context = cat("connector ", quoted(k.name), ": ");
        }
    }
    TableReader r(t, context, sink);
    if (r.get("name", k.name)) {
        if (!std::regex_match(k.name, kConnectorName))
            r.error_at("name", cat("name must be 1-32 characters of a-z, 0-9, _ and -, not ", quoted(k.name)));
        else if (auto [it, fresh] = names.emplace(k.name, k.line); !fresh)
            r.error_at("name", cat("name ", quoted(k.name), " is already used by the connector at line ", it->second));
    }
    r.get("enabled", k.enabled);
    if (r.get("server", k.server) && !k.server.empty()) {
        std::string why;
        k.server_address = parse_host_port(k.server, false, why);
        if (!k.server_address) r.error_at("server", cat("server ", quoted(k.server), " ", why));
    }
    std::string transport;
    if (r.get_choice("transport", transport, {"udp", "tcp"}))
        k.transport = transport == "udp" ? Transport::udp : Transport::tcp;
    r.get("uri", k.uri);
    r.get("auth_id", k.auth_id);
    r.get("password", k.password);
    r.get("domain", k.domain);
    std::string event;
    if (r.get_choice("telephony_event", event, {"dialog", "presence"}))
        k.telephony_event = event == "dialog" ? TelephonyEvent::dialog : TelephonyEvent::presence;
    r.get("rich_list_uri", k.rich_list_uri);
    r.get("telephony_list_uri", k.telephony_list_uri);
    r.get("subscribe_rate", k.subscribe_rate, kMinSubscribeRate, kMaxSubscribeRate);
    r.get("max_in_flight", k.max_in_flight, kMinInFlight, kMaxInFlight);
    check_uri(r, "uri", k.uri);
    check_uri(r, "rich_list_uri", k.rich_list_uri);
    check_uri(r, "telephony_list_uri", k.telephony_list_uri);
    check_text(r, "auth_id", k.auth_id);
    check_text(r, "password", k.password);
    if (!k.domain.empty() && !(is_hostname(k.domain) || is_ipv4(k.domain) || is_ipv6(k.domain)))
        r.error_at("domain", cat("domain must be a DNS name or an IP address, not ", quoted(k.domain)));
    // The credentials are needed only to talk to a server: a connector
    // without a server is valid and reports not_configured (product.md).
    if (!k.server.empty()) {
        for (auto [key, value] : {std::pair{"uri", &k.uri}, {"auth_id", &k.auth_id}, {"domain", &k.domain}}) {
            if (!value->empty()) continue;
            if (r.has(key))
                r.error_at(key, cat(key, " must not be empty when server is set"));
            else
                r.error_here(cat(key, " is required when server is set"));
        }
    }
    r.finish();
    c.connectors.push_back(std::move(k));
}

void read_user(const toml::table& t, size_t index, Config& c, Sink& sink, std::map<std::string, int>& names) {
    User u;
    const int line = static_cast<int>(t.source().begin.line);
    std::string context = cat("user #", index + 1, ": ");
    if (const auto* node = t.get("username");
        node && node->is_string() && std::regex_match(*node->value<std::string>(), kUsername))
        context = cat("user ", quoted(*node->value<std::string>()), ": ");
    TableReader r(t, context, sink);
    if (!r.get("username", u.username)) {
        if (!t.contains("username")) r.error_here("username is required");
    } else if (!std::regex_match(u.username, kUsername)) {
        r.error_at("username",
                   cat("username must be 1-64 characters of A-Z, a-z, 0-9 and . _ @ + -, not ", quoted(u.username)));
    } else if (auto [it, fresh] = names.emplace(u.username, line); !fresh) {
        r.error_at("username",
                   cat("username ", quoted(u.username), " is already used by the user at line ", it->second));
    }
    if (r.get("display_name", u.display_name)) check_text(r, "display_name", u.display_name);
    if (r.get("department", u.department)) check_text(r, "department", u.department);
    if (r.get("extension", u.extension) && !u.extension.empty() && !std::regex_match(u.extension, kExtension))
        r.error_at("extension", cat("extension must be 1-32 characters of A-Z, a-z, 0-9 and * # + . _ -, not ",
                                    quoted(u.extension)));
    if (r.get("rich_uri", u.rich_uri)) check_uri(r, "rich_uri", u.rich_uri);
    if (r.get("telephony_uri", u.telephony_uri)) check_uri(r, "telephony_uri", u.telephony_uri);
    r.finish();
    c.users.push_back(std::move(u));
}

// Reads [[name]] arrays of tables; a plain [name] table or a value is an error.
template <class Fn>
void read_array_of_tables(const toml::table& root, std::string_view key, Sink& sink, Fn&& each) {
    const toml::node* node = root.get(key);
    if (!node) return;
    const toml::array* array = node->as_array();
    if (!array || !array->is_array_of_tables()) {
        sink.add(node->source(), cat(key, " must be an array of tables, written [[", key, "]]"));
        return;
    }
    for (size_t i = 0; i < array->size(); ++i) each(*array->get(i)->as_table(), i);
}

void check_preferred(const toml::table& root, Config& c, Sink& sink) {
    // Only valid, distinct names: their own errors are reported already.
    std::vector<std::string> enabled;
    int second_enabled_line = 0;
    for (const auto& k : c.connectors) {
        if (!k.enabled || !std::regex_match(k.name, kConnectorName)) continue;
        if (std::find(enabled.begin(), enabled.end(), k.name) != enabled.end()) continue;
        enabled.push_back(k.name);
        if (enabled.size() == 2) second_enabled_line = k.line;
    }
    const std::string& preferred = c.presence.preferred_connector;
    const toml::table* presence = root.get_as<toml::table>("presence");
    // Point at the key, else the [presence] table, else the connector that
    // made the choice necessary.
    auto where = [&]() -> toml::source_region {
        if (presence) {
            if (const auto* n = presence->get("preferred_connector")) return n->source();
            return presence->source();
        }
        toml::source_region region = root.source();
        region.begin = {static_cast<toml::source_index>(second_enabled_line), 1};
        return region;
    };
    std::string names;
    for (size_t i = 0; i < enabled.size(); ++i) names += (i ? ", " : "") + quoted(enabled[i]);
    if (!preferred.empty()) {
        const Connector* k = c.find_connector(preferred);
        if (!k)
            sink.add(where(),
                     cat("presence: preferred_connector ", quoted(preferred), " is not a configured connector"));
        else if (!k->enabled && enabled.size() > 1)
            sink.add(where(), cat("presence: preferred_connector ", quoted(preferred),
                                  " is disabled; name one of the enabled connectors (", names, ")"));
    } else if (enabled.size() > 1) {
        sink.add(where(), cat("presence: preferred_connector must name one of the enabled connectors (", names,
                              ") when several are enabled"));
    }
}

}  // namespace

LoadOutcome build_config(const toml::table& root, const std::string& file) {
    auto config = std::make_shared<Config>();
    config->path = file;
    LoadOutcome out;
    Sink sink{file, out.errors};

    std::map<std::string, int> connector_names, user_names;
    for (auto&& [key, node] : root) {
        const std::string name(key.str());
        if (name == "daemon" || name == "sip" || name == "presence") {
            const toml::table* t = node.as_table();
            if (!t) {
                sink.add(node.source(), cat(name, " must be a table, written [", name, "]"));
                continue;
            }
            if (name == "daemon") read_daemon(*t, *config, sink);
            if (name == "sip") read_sip(*t, *config, sink);
            if (name == "presence") read_presence(*t, *config, sink);
        } else if (name != "connector" && name != "user") {
            sink.add(key.source(), cat("unknown table or key ", quoted(name)));
        }
    }
    read_array_of_tables(root, "connector", sink, [&](const toml::table& t, size_t i) {
        if (i == kMaxConnectors) sink.add(t.source(), cat("at most ", kMaxConnectors, " connectors are allowed"));
        if (i >= kMaxConnectors) return;
        read_connector(t, i, *config, sink, connector_names);
    });
    read_array_of_tables(root, "user", sink,
                         [&](const toml::table& t, size_t i) { read_user(t, i, *config, sink, user_names); });
    check_preferred(root, *config, sink);

    std::stable_sort(out.errors.begin(), out.errors.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    if (out.errors.empty()) out.config = std::move(config);
    return out;
}

}  // namespace detail

const std::vector<std::string>& known_keys() {
    static const std::vector<std::string> keys = {
        "daemon.control_socket",
        "daemon.control_mode",
        "daemon.control_group",
        "daemon.state_db",
        "daemon.flush_interval_ms",
        "daemon.log_level",
        "sip.listen",
        "sip.contact_host",
        "sip.user_agent",
        "sip.t1_ms",
        "sip.t2_ms",
        "sip.t4_ms",
        "sip.udp_receive_buffer",
        "sip.max_header_bytes",
        "sip.max_body_bytes",
        "sip.source_check",
        "sip.probe_interval",
        "sip.probe_retry_interval",
        "sip.tcp_keepalive_interval",
        "presence.preferred_connector",
        "presence.subscribe",
        "presence.force_subscribe_seconds",
        "presence.expires",
        "presence.cache_horizon",
        "presence.users_csv",
        "presence.retry_min",
        "presence.retry_max",
        "presence.on_demand_linger",
        "presence.shutdown_timeout",
        "presence.list_retry",
        "connector.name",
        "connector.enabled",
        "connector.server",
        "connector.transport",
        "connector.uri",
        "connector.auth_id",
        "connector.password",
        "connector.domain",
        "connector.telephony_event",
        "connector.rich_list_uri",
        "connector.telephony_list_uri",
        "connector.subscribe_rate",
        "connector.max_in_flight",
        "user.username",
        "user.display_name",
        "user.department",
        "user.extension",
        "user.rich_uri",
        "user.telephony_uri",
    };
    return keys;
}

}  // namespace presenced::config
