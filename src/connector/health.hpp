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

// One configured connector at run time.
struct Connector {
    config::Connector config;
    Health health;
    Counters counters;
    std::map<std::string, size_t> subscriptions;  // subscription status name -> how many (filled by the daemon)
};

// Builds the connector list for a (re)loaded config. A connector whose
// status does not change keeps its since-when, so a reload does not make a
// stable status look new.
std::vector<Connector> build_connectors(const config::Config& config, const std::vector<Connector>& previous,
                                        std::time_t now);

}  // namespace presenced::connector
