// A real presenced for one test case: its config, control socket, state
// database and log all live in a private TempDir. start() returns once the
// socket answers a status request; the destructor kills a daemon still
// running. Waits are bounded by deadlines, never fixed sleeps.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/control_client.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace presenced::test {

// Deadlines, generous enough for a sanitizer build on a busy machine.
inline constexpr int kStartTimeoutMs = 15'000;
inline constexpr int kStopTimeoutMs = 15'000;
inline constexpr int kCommandTimeoutMs = 15'000;

// What goes into the config file besides the fixture's own [daemon] keys
// (control_socket and state_db inside the temp dir). Unless body has a
// [sip] table of its own, the fixture adds one listening on 127.0.0.1:0, so
// daemons of tests running in parallel never compete for port 5060.
struct DaemonConfig {
    std::string daemon_extra;  // more lines for the [daemon] table, e.g. control_mode = "0600"
    std::string body;          // the rest: [sip], [presence], [[connector]], [[user]] ...
};

// A small directory exercising every derived value (see the definition).
DaemonConfig standard_config();

class DaemonFixture {
public:
    // Writes the config; starts the daemon unless start_now is false.
    explicit DaemonFixture(const DaemonConfig& config = standard_config(), bool start_now = true);
    ~DaemonFixture();
    DaemonFixture(const DaemonFixture&) = delete;
    DaemonFixture& operator=(const DaemonFixture&) = delete;

    const TempDir& dir() const { return dir_; }
    const std::string& socket_path() const { return socket_path_; }
    const std::string& config_path() const { return config_path_; }
    const std::string& log_path() const { return log_path_; }

    // The config file text for config (with the fixture's [daemon] keys).
    std::string config_text(const DaemonConfig& config) const;
    void write_config(const DaemonConfig& config) const;
    void write_raw_config(std::string_view text) const;

    // Spawns presenced -d -f <config> [extra_args], stdout and stderr
    // appended to the log.
    void spawn(const std::vector<std::string>& extra_args = {});
    // Polls until the socket answers a status request (true), the daemon
    // exits, or the deadline passes (false).
    bool wait_ready(int timeout_ms = kStartTimeoutMs);
    // spawn() + wait_ready(); throws with the log when the daemon is not ready.
    void start(const std::vector<std::string>& extra_args = {}, int timeout_ms = kStartTimeoutMs);

    Process& process();
    bool running() const { return process_ && process_->running(); }
    std::optional<int> wait_exit(int timeout_ms = kStopTimeoutMs);
    // SIGTERM, then wait; the exit status, or nullopt on timeout.
    std::optional<int> stop(int timeout_ms = kStopTimeoutMs);
    // SIGHUP, then wait until the daemon has handled it (its log says so and
    // a later request is answered), so the caller sees the result.
    void reload_via_sighup(int timeout_ms = kCommandTimeoutMs);

    // A fresh connection to the control socket.
    ControlClient connect(int timeout_ms = kCommandTimeoutMs) const;
    // One request on a fresh connection; the whole answer.
    json request(std::string_view cmd, const json& args = json::object()) const;
    // Same, but throws unless ok is true; returns the result.
    json result(std::string_view cmd, const json& args = json::object()) const;

    std::string log() const;

    // presencectl -s <socket> args...
    RunResult presencectl(const std::vector<std::string>& args, const Env& env = {}) const;

private:
    TempDir dir_;
    std::string socket_path_, config_path_, log_path_;
    std::unique_ptr<Process> process_;
};

// presencectl args... with no -s added.
RunResult run_presencectl(const std::vector<std::string>& args, const Env& env = {});
// presenced args... (e.g. -n -f file).
RunResult run_presenced(const std::vector<std::string>& args);

// Creates a socket file at path with nobody listening: bound, then closed
// (what a daemon killed with SIGKILL leaves behind). Throws on failure.
void make_dead_socket(const std::string& path);

// How many times needle occurs in haystack.
size_t count_of(const std::string& haystack, std::string_view needle);

}  // namespace presenced::test
