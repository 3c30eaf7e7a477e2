// A blocking control-socket client: presencectl sends one request and reads
// one answer, so it needs no event loop; `watch` then reads event lines
// until the daemon hangs up or the user interrupts.
#pragma once

#include <signal.h>

#include <nlohmann/json.hpp>
#include <string>

namespace presenced::ctl {

using json = nlohmann::json;

enum class ConnectFailure { none, not_running, other };

class Client {
public:
    enum class Read { line, closed, interrupted, failed };

    ~Client();
    // On failure sets why and returns not_running (no socket, refused) or other.
    ConnectFailure connect(const std::string& path, std::string& why);
    // Sends one request, waits up to timeout_ms for its answer line.
    bool call(const json& request, json& answer, int timeout_ms, std::string& why);
    // Waits, without a deadline, for the next line (bytes left over from
    // call() first). The wait runs with the signal mask wait_mask (ppoll),
    // so a signal blocked otherwise is taken only here; when it has set
    // stop, returns interrupted.
    Read read_line(std::string& line, const volatile sig_atomic_t& stop, const sigset_t& wait_mask, std::string& why);

private:
    int fd_ = -1;
    std::string pending_;
};

}  // namespace presenced::ctl
