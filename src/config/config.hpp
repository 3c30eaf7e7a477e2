// The validated, immutable daemon configuration (presenced.toml(5)).
// Loaded once at start and on every reload; components hold a
// shared_ptr<const Config> so a reload never changes what they are reading.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/address.hpp"
#include "util/log.hpp"

namespace presenced::config {

enum class Transport { udp, tcp };
enum class SubscribePolicy { all, on_demand };
// The event package of a user's telephony subscription (RFC 4235 dialog, or
// RFC 3856 presence for PBXs that report line state through PIDF).
enum class TelephonyEvent { dialog, presence };

std::string_view transport_name(Transport t);
std::string_view policy_name(SubscribePolicy p);
std::string_view telephony_event_name(TelephonyEvent e);

struct DaemonSection {
    std::string control_socket = "/run/presenced/presenced.sock";
    unsigned control_mode = 0660;
    std::string control_group;  // "" = the daemon's own group
    std::string state_db = "/var/lib/presenced/state.db";
    int flush_interval_ms = 500;  // presence cache writes coalesced for at most this long
    log::Level log_level = log::Level::info;
};

struct SipSection {
    std::string listen = "0.0.0.0:5060";
    HostPort listen_address{"0.0.0.0", 5060, HostKind::ipv4, true};
    std::string contact_host;  // "" = automatic
    std::string user_agent = "presenced";
    // RFC 3261 Table 4 timers; T1 is also the RTT estimate (Timer F = 64*T1).
    int t1_ms = 500;
    int t2_ms = 4000;
    int t4_ms = 5000;
    int udp_receive_buffer = 4 * 1024 * 1024;  // SO_RCVBUF asked for
    int max_header_bytes = 64 * 1024;          // start line + headers of one message
    int max_body_bytes = 1024 * 1024;          // body of one message (RLS NOTIFYs are large)
    bool source_check = true;                  // UDP requests only from configured servers
    int probe_interval = 30;                   // s between OPTIONS probes of a healthy connector
    int probe_retry_interval = 5;              // s before the first re-probe of a failing one
    int tcp_keepalive_interval = 90;           // s between CRLF pings on idle TCP; 0 = off
};

struct PresenceSection {
    std::string preferred_connector;  // "" = none named (valid with at most one enabled)
    SubscribePolicy subscribe = SubscribePolicy::all;
    int force_subscribe_seconds = 60;
    int expires = 3600;
    int retry_min = 10;         // s, floor of the per-subscription back-off (full jitter)
    int retry_max = 900;        // s, its cap
    int on_demand_linger = 30;  // s a subscription outlives its last watcher (on_demand)
    int cache_horizon = 86400;  // s: a cached state older than this shows unknown at start
    std::string users_csv;      // "" = none: a CSV of users loaded at start and reload
    int shutdown_timeout = 5;   // s spent unsubscribing (Expires: 0) before exiting anyway
    int list_retry = 3600;      // s a connector serves a broken list per user before trying the list again
};

struct Connector {
    std::string name;
    bool enabled = true;
    std::string server;                      // "" = not configured
    std::optional<HostPort> server_address;  // parsed form of server, when set
    Transport transport = Transport::udp;
    std::string uri;
    std::string auth_id;
    std::string password;
    std::string domain;
    TelephonyEvent telephony_event = TelephonyEvent::dialog;
    // RFC 4662 resource lists: one SUBSCRIBE serves every member ("" = none).
    std::string rich_list_uri;       // a presence list
    std::string telephony_list_uri;  // a list of the telephony_event package
    int subscribe_rate = 50;         // new SUBSCRIBEs per second toward the server (token bucket)
    int max_in_flight = 64;          // SUBSCRIBE transactions in flight at once toward the server
    int line = 0;                    // where its [[connector]] table starts, for messages
};

struct User {
    std::string username;
    std::string display_name;
    std::string department;
    std::string extension;
    std::string rich_uri;
    std::string telephony_uri;  // as configured; "" = derived (see resolved_telephony_uri)
};

struct Config {
    std::string path;  // the file it came from, as given
    DaemonSection daemon;
    SipSection sip;
    PresenceSection presence;
    std::vector<Connector> connectors;
    std::vector<User> users;

    const Connector* find_connector(std::string_view name) const;
    // The connector whose state wins conflicts: the named preferred one, or
    // the only enabled one; nullptr when there is none.
    const Connector* preferred() const;
    // telephony_uri, or sip:<extension>@<domain of the preferred connector,
    // else of the first enabled connector>; "" when it cannot be derived.
    std::string resolved_telephony_uri(const User& user) const;
};

// One problem found while loading, with its place in the file.
struct Diagnostic {
    std::string file;
    int line = 0;  // 0 when the problem has no position (unreadable file)
    int column = 0;
    std::string message;
    std::string str() const;  // "file:line:col: message", like a compiler
};

struct LoadOutcome {
    std::shared_ptr<const Config> config;  // null when errors is not empty
    std::vector<Diagnostic> errors;
    bool ok() const { return config != nullptr; }
};

LoadOutcome load_file(const std::string& path);
LoadOutcome load_string(std::string_view text, const std::string& source_name);

// The effective configuration as TOML, defaults filled in and passwords
// redacted (presenced -n -v).
std::string print_effective(const Config& config);

// Every key the schema knows, as "table.key" ("connector.name",
// "user.rich_uri"); the contract test checks each one is in the man page.
const std::vector<std::string>& known_keys();

}  // namespace presenced::config
