// A blocking control-socket client: presencectl sends one request and reads
// one answer, so it needs no event loop.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace presenced::ctl {

using json = nlohmann::json;

enum class ConnectFailure { none, not_running, other };

class Client {
public:
    ~Client();
    // On failure sets why and returns not_running (no socket, refused) or other.
    ConnectFailure connect(const std::string& path, std::string& why);
    // Sends one request, waits up to timeout_ms for its answer line.
    bool call(const json& request, json& answer, int timeout_ms, std::string& why);

private:
    int fd_ = -1;
    std::string pending_;
};

}  // namespace presenced::ctl
