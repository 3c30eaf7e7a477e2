// A connector's health status (the seed's connector status), with
// since-when and the last cause. Status names are part of the interface.
#pragma once

#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace presenced::connector {

enum class Status { not_configured, disabled, forbidden, connection_error, connected, credentials_not_found };

std::string_view status_name(Status s);
const std::vector<std::string_view>& status_names();
// connected and credentials_not_found: presence is being monitored.
bool is_positive(Status s);

struct Health {
    Status status = Status::not_configured;
    std::time_t since = 0;  // epoch seconds of the last status change
    std::string cause;      // response code and reason, errno name, or why
};

// What a connector has done since start (presencectl connectors -j).
struct Counters {
    uint64_t requests = 0;       // probe requests sent (auth retries included)
    uint64_t responses[7] = {};  // final responses by class: index = code / 100
    uint64_t retransmissions = 0;
    uint64_t timeouts = 0;          // Timer F fired
    uint64_t transport_errors = 0;  // refused, reset, unreachable, DNS
};

// The status a connector has before its Link starts probing it:
// disabled, not_configured, or connection_error "not started".
Health initial_health(const config::Connector& connector, std::time_t now);

// A resource list of a connector (RFC 4662), as `connectors` shows it.
struct ListInfo {
    std::string kind;          // "rich" | "telephony"
    std::string uri;           // the list URI
    std::string mode;          // "starting", "listing" or "fallback" (presenced(8) RESOURCE LISTS)
    std::string subscription;  // the list subscription's status name, "none" in fallback
    size_t members = 0;        // resources of the last full state
    size_t served = 0;         // configured users served through the list now
    size_t outside = 0;        // configured users (with a URI of that kind) subscribed individually
    size_t not_users = 0;      // members that are no configured user (counted, never invented)
    uint32_t version = 0;      // the last RLMI version applied (0 = none on this dialog)
    std::string cause;         // why it fell back, or the last one ("" = never)
    std::time_t retry_at = 0;  // fallback: when the list is tried again (0 = not in fallback)
};

// One configured connector at run time.
struct Connector {
    config::Connector config;
    Health health;
    Counters counters;
    std::map<std::string, size_t> subscriptions;  // subscription status name -> how many (filled by the daemon)
    std::vector<ListInfo> lists;                  // its resource lists (filled by the daemon)
};

// Builds the connector list for a (re)loaded config. A connector whose
// status does not change keeps its since-when, so a reload does not make a
// stable status look new.
std::vector<Connector> build_connectors(const config::Config& config, const std::vector<Connector>& previous,
                                        std::time_t now);

}  // namespace presenced::connector
