// The command table of the control socket, and the interface the daemon
// offers to it. control/ only dispatches and shapes answers; the daemon owns
// the state (nothing depends on control/).
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "connector/health.hpp"
#include "control/protocol.hpp"
#include "presence/directory.hpp"
#include "sip/endpoint.hpp"

namespace presenced::control {

struct ReloadReport {
    bool ok = false;
    std::time_t at = 0;
    std::vector<std::string> errors;            // "file:line:col: message" lines when !ok
    std::vector<std::string> restart_required;  // keys that changed but apply only at start
};

// What the control commands may see and do; implemented by the daemon.
class Services {
public:
    virtual ~Services() = default;
    virtual const config::Config& config() const = 0;
    // The socket the daemon listens on: fixed at start, even when a reload
    // names another one (which then applies at the next restart).
    virtual const std::string& control_socket() const = 0;
    virtual const presence::Directory& directory() const = 0;
    // A snapshot: connectors change on the loop between requests.
    virtual std::vector<connector::Connector> connectors() const = 0;
    // The SIP address actually bound ("" when the SIP engine is not running).
    virtual std::string sip_listen() const = 0;
    // What the SIP endpoint has seen (zero when it is not running).
    virtual sip::Endpoint::Counters sip_counters() const = 0;
    virtual std::time_t started_at() const = 0;
    virtual std::time_t now() const = 0;
    virtual const ReloadReport& last_reload() const = 0;  // at == 0: never reloaded
    virtual ReloadReport reload() = 0;
};

using Handler = util::Result<json> (*)(Services&, const Args&);

struct Command {
    std::string_view name;
    Handler handler;
};

const std::vector<Command>& command_table();

// One request line in, one answer line out (no newline).
std::string dispatch(Services& services, std::string_view line);

// Handlers, one group per file (cmd_<group>.cpp).
util::Result<json> cmd_version(Services&, const Args&);
util::Result<json> cmd_status(Services&, const Args&);
util::Result<json> cmd_connectors(Services&, const Args&);
util::Result<json> cmd_users(Services&, const Args&);
util::Result<json> cmd_reload(Services&, const Args&);

}  // namespace presenced::control
