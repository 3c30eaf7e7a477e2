// Real-daemon fixture for integration tests (see daemon_fixture.hpp).
#include "support/daemon_fixture.hpp"

#include <signal.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace presenced::test {

namespace {

using Clock = std::chrono::steady_clock;

// While waiting for the daemon, how long one idle step lasts; the step is a
// wait for the daemon's exit, so a daemon that dies is noticed at once.
constexpr int kPollStepMs = 5;

// Loopback, and a port the kernel picks: parallel daemons never collide.
constexpr const char* kSipListen = "127.0.0.1:0";

int ms_left(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
}

}  // namespace

DaemonConfig standard_config() {
    // spare: enabled, no server (not_configured); listed first and with a
    //   domain of its own, so a URI derived from it instead of from the
    //   preferred connector shows.
    // pbx: enabled with a server (connection_error, "not started"), preferred.
    // presence: disabled.
    // alice: telephony derived from extension and pbx's domain; rich set.
    // bob: explicit telephony_uri, no rich_uri (rich not_configured).
    // carol: no extension, no telephony_uri (telephony not_configured).
    return {"", R"([presence]
preferred_connector = "pbx"

[[connector]]
name = "spare"
domain = "spare.example.org"

[[connector]]
name = "pbx"
server = "127.0.0.10:9"
transport = "udp"
uri = "sip:1000@127.0.0.10"
auth_id = "1000"
password = "secret"
domain = "pbx.example.com"

[[connector]]
name = "presence"
enabled = false
server = "127.0.0.30:5060"
transport = "tcp"
uri = "sip:presence@example.com"
auth_id = "presence"
domain = "example.com"

[[user]]
username = "alice"
display_name = "Alice Example"
department = "Sales"
extension = "1001"
rich_uri = "sip:alice@example.com"

[[user]]
username = "bob"
display_name = "Bob Builder"
department = "Support"
extension = "1002"
telephony_uri = "sip:1002@127.0.0.10"

[[user]]
username = "carol"
display_name = "Carol Jones"
rich_uri = "sip:carol@example.com"
)"};
}

DaemonFixture::DaemonFixture(const DaemonConfig& config, bool start_now)
    : socket_path_(dir_.file("control.sock")),
      config_path_(dir_.file("presenced.toml")),
      log_path_(dir_.file("presenced.log")) {
    write_config(config);
    if (start_now) start();
}

DaemonFixture::~DaemonFixture() = default;  // ~Process kills a daemon still running, before the dir goes

std::string DaemonFixture::config_text(const DaemonConfig& config) const {
    std::string text =
        "[daemon]\ncontrol_socket = \"" + socket_path_ + "\"\nstate_db = \"" + dir_.file("state.db") + "\"\n";
    text += config.daemon_extra;
    if (!text.empty() && text.back() != '\n') text += '\n';
    const bool has_sip = config.body.rfind("[sip]", 0) == 0 || config.body.find("\n[sip]") != std::string::npos;
    if (!has_sip) text += "\n[sip]\nlisten = \"" + std::string(kSipListen) + "\"\n";
    text += "\n" + config.body;
    return text;
}

void DaemonFixture::write_config(const DaemonConfig& config) const { write_raw_config(config_text(config)); }

// Tests send SIP only to loopback (127.0.0.0/8, ::1): a daemon started from
// a config naming any other server would probe it. Refuse to write one.
void DaemonFixture::write_raw_config(std::string_view text) const {
    size_t pos = 0;
    while ((pos = text.find("server = \"", pos)) != std::string_view::npos) {
        pos += 10;
        const std::string_view value = text.substr(pos, text.find('"', pos) - pos);
        if (!value.empty() && value.rfind("127.", 0) != 0 && value.rfind("[::1]", 0) != 0)
            throw std::runtime_error("test config names a server that is not on loopback: " + std::string(value));
    }
    write_file(config_path_, text);
}

void DaemonFixture::spawn(const std::vector<std::string>& extra_args) {
    if (running()) throw std::logic_error("DaemonFixture::spawn: the daemon is already running");
    std::vector<std::string> argv = {PRESENCED_BIN, "-d", "-f", config_path_};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    process_ =
        std::make_unique<Process>(SpawnOptions{argv, {}, Output::to_file(log_path_), Output::to_file(log_path_)});
}

bool DaemonFixture::wait_ready(int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (running()) {
        const int left = ms_left(deadline);
        if (left == 0) return false;
        if (auto client = ControlClient::try_connect(socket_path_, left)) {
            try {
                if (client->request("status", json::object(), nullptr, std::max(ms_left(deadline), 1))
                        .value("ok", false))
                    return true;
            } catch (const std::exception&) {
                // closed or timed out: the daemon is not ready (or is dying); look again
            }
        }
        if (process_->wait_for_exit(std::min(kPollStepMs, std::max(ms_left(deadline), 1)))) return false;
    }
    return false;
}

void DaemonFixture::start(const std::vector<std::string>& extra_args, int timeout_ms) {
    spawn(extra_args);
    if (!wait_ready(timeout_ms)) {
        std::string state = running() ? "still running" : describe_status(*process_->wait_for_exit(0));
        throw std::runtime_error("presenced did not answer on " + socket_path_ + " (" + state + "); its log:\n" +
                                 log());
    }
}

Process& DaemonFixture::process() {
    if (!process_) throw std::logic_error("DaemonFixture: the daemon was never started");
    return *process_;
}

std::optional<int> DaemonFixture::wait_exit(int timeout_ms) { return process().wait_for_exit(timeout_ms); }

std::optional<int> DaemonFixture::stop(int timeout_ms) {
    process().signal(SIGTERM);
    return process().wait_for_exit(timeout_ms);
}

void DaemonFixture::reload_via_sighup(int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    const size_t logged_before = count_of(log(), "SIGHUP");
    const json reload_before = result("status").value("last_reload", json());
    if (!process().signal(SIGHUP)) throw std::runtime_error("reload_via_sighup: the daemon is not running");
    // The daemon logs "SIGHUP: ..." (at level info) and reloads in the same
    // loop callback, so once the line is there, the next request is answered
    // after the reload. With a quieter log level, status's last_reload
    // changing says the same.
    for (;;) {
        if (count_of(log(), "SIGHUP") > logged_before) {
            (void)request("status");
            return;
        }
        if (result("status").value("last_reload", json()) != reload_before) return;
        if (ms_left(deadline) == 0)
            throw std::runtime_error("the daemon did not handle the SIGHUP; its log:\n" + log());
        if (process().wait_for_exit(kPollStepMs))
            throw std::runtime_error("the daemon exited on SIGHUP; its log:\n" + log());
    }
}

ControlClient DaemonFixture::connect(int timeout_ms) const { return ControlClient(socket_path_, timeout_ms); }

json DaemonFixture::request(std::string_view cmd, const json& args) const {
    ControlClient client = connect();
    return client.request(cmd, args, nullptr, kCommandTimeoutMs);
}

json DaemonFixture::result(std::string_view cmd, const json& args) const {
    json answer = request(cmd, args);
    if (!answer.value("ok", false) || !answer.contains("result"))
        throw std::runtime_error(std::string(cmd) + " failed: " + answer.dump());
    return answer["result"];
}

std::string DaemonFixture::log() const { return read_file(log_path_); }

RunResult DaemonFixture::presencectl(const std::vector<std::string>& args, const Env& env) const {
    std::vector<std::string> full = {"-s", socket_path_};
    full.insert(full.end(), args.begin(), args.end());
    return run_presencectl(full, env);
}

RunResult run_presencectl(const std::vector<std::string>& args, const Env& env) {
    std::vector<std::string> argv = {PRESENCECTL_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, kCommandTimeoutMs, env);
}

RunResult run_presenced(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {PRESENCED_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, kCommandTimeoutMs);
}

size_t count_of(const std::string& haystack, std::string_view needle) {
    size_t n = 0;
    for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + needle.size()))
        ++n;
    return n;
}

void make_dead_socket(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("make_dead_socket: socket() failed");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::close(fd);
    if (rc != 0) throw std::runtime_error("make_dead_socket: cannot bind " + path);
}

}  // namespace presenced::test
