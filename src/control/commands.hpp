// The command table of the control socket, and the interface the daemon
// offers to it. control/ only dispatches and shapes answers; the daemon owns
// the state (nothing depends on control/).
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "connector/health.hpp"
#include "control/protocol.hpp"
#include "presence/directory.hpp"
#include "presence/view.hpp"
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

    // Presence (presencectl(8)). Snapshots: built on the loop per request.
    virtual std::vector<presence::UserView> user_views() const = 0;
    virtual std::optional<presence::UserView> user_view(std::string_view username) const = 0;
    // Forced subscribe (the seed's diagnostic): not_found for an unknown user.
    virtual util::Result<presence::ForceReport> force_subscribe(std::string_view username, int seconds) = 0;
    // A watch: sink gets every change of a shown state of the named users
    // (all users when empty) and every connector status change, until
    // unwatch(id). The sink runs on the loop and must not block.
    using WatchSink = std::function<void(const presence::Event&)>;
    virtual util::Result<uint64_t> watch(const std::vector<std::string>& usernames, WatchSink sink) = 0;
    virtual void unwatch(uint64_t id) = 0;
    // Operator note of a user ("" removes it), kept in the state database:
    // not_found for an unknown user.
    virtual util::Status set_note(const std::string& username, const std::string& text) = 0;
    // Users from a CSV file the daemon reads (presencectl(8) users import):
    // with errors and !partial nothing changes (report.applied false).
    virtual util::Result<presence::ImportReport> import_users(const std::string& path, bool partial) = 0;
    // Restarts one connector: its probe and its subscriptions (not_found,
    // or invalid_argument when it is disabled or has no server).
    virtual util::Status restart_connector(const std::string& name) = 0;
};

// The connection a request came on, for the commands that change it
// (watch); the server implements it. Everything runs on the loop.
class Session {
public:
    virtual ~Session() = default;
    // Makes id this connection's watch; the server ends the one it replaces
    // (Services::unwatch) and ends this one when the connection closes.
    virtual void set_watch(uint64_t id) = 0;
    // Queues one event line (no newline). Lines queued while a request is
    // being handled follow its answer; a connection that does not read them
    // is cut off (server.hpp), never waited for.
    virtual void send_event(std::string line) = 0;
};

using Handler = util::Result<json> (*)(Services&, const Args&);
// A command that acts on its connection; without one (dispatch() with no
// session, as in tests of the command layer) it answers internal.
using SessionHandler = util::Result<json> (*)(Services&, const Args&, Session&);

struct Command {
    std::string_view name;
    Handler handler = nullptr;  // exactly one of the two
    SessionHandler session_handler = nullptr;
};

const std::vector<Command>& command_table();

// One request line in, one answer line out (no newline).
std::string dispatch(Services& services, std::string_view line, Session* session = nullptr);

// A Services error passed on to a client: its code when it is one of the
// closed set (wire.hpp), else internal with the same message.
util::Error pass_through(const util::Error& error);

// Handlers, one group per file (cmd_<group>.cpp).
util::Result<json> cmd_version(Services&, const Args&);
util::Result<json> cmd_status(Services&, const Args&);
util::Result<json> cmd_connectors(Services&, const Args&);
util::Result<json> cmd_users(Services&, const Args&);
util::Result<json> cmd_reload(Services&, const Args&);
util::Result<json> cmd_user(Services&, const Args&);
util::Result<json> cmd_subscribe(Services&, const Args&);
util::Result<json> cmd_watch(Services&, const Args&, Session&);
util::Result<json> cmd_note(Services&, const Args&);
util::Result<json> cmd_import_users(Services&, const Args&);
util::Result<json> cmd_connector_restart(Services&, const Args&);

}  // namespace presenced::control
