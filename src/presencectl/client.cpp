// Unix-socket client for presencectl: connect, write a line, read a line.
#include "presencectl/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "control/wire.hpp"

namespace presenced::ctl {

Client::~Client() {
    if (fd_ >= 0) ::close(fd_);
}

ConnectFailure Client::connect(const std::string& path, std::string& why) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) {
        why = "socket path too long: " + path;
        return ConnectFailure::other;
    }
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        why = std::strerror(errno);
        return ConnectFailure::other;
    }
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        const int err = errno;
        why = path + ": " + std::strerror(err);
        return (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR) ? ConnectFailure::not_running
                                                                        : ConnectFailure::other;
    }
    return ConnectFailure::none;
}

bool Client::call(const json& request, json& answer, int timeout_ms, std::string& why) {
    std::string line = request.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    size_t off = 0;
    while (off < line.size()) {
        const ssize_t n = ::send(fd_, line.data() + off, line.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            why = std::string("sending the request: ") + std::strerror(errno);
            return false;
        }
        off += static_cast<size_t>(n);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[16 * 1024];
    for (;;) {
        if (const auto nl = pending_.find('\n'); nl != std::string::npos) {
            answer = json::parse(pending_.substr(0, nl), nullptr, false);
            pending_.erase(0, nl + 1);
            if (answer.is_discarded() || !answer.is_object()) {
                why = "the daemon sent an answer that is not a JSON object";
                return false;
            }
            return true;
        }
        if (pending_.size() > 64 * control::kMaxLineBytes) {
            why = "the daemon's answer is too long";
            return false;
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) {
            why = "no answer from the daemon within " + std::to_string(timeout_ms / 1000) + " s";
            return false;
        }
        pollfd p{fd_, POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(left));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) continue;
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            why = n == 0 ? "the daemon closed the connection without answering" : std::string(std::strerror(errno));
            return false;
        }
        pending_.append(buf, static_cast<size_t>(n));
    }
}

Client::Read Client::read_line(std::string& line, const volatile sig_atomic_t& stop, const sigset_t& wait_mask,
                               std::string& why) {
    char buf[16 * 1024];
    for (;;) {
        if (const auto nl = pending_.find('\n'); nl != std::string::npos) {
            line = pending_.substr(0, nl);
            pending_.erase(0, nl + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            return Read::line;
        }
        if (stop) return Read::interrupted;
        if (pending_.size() > control::kMaxLineBytes) {
            why = "the daemon sent a line that is too long";
            return Read::failed;
        }
        // The signal is blocked outside ppoll: set between the check above
        // and the wait, it still interrupts the wait (no lost wake-up).
        pollfd p{fd_, POLLIN, 0};
        if (::ppoll(&p, 1, nullptr, &wait_mask) < 0) {
            if (errno == EINTR) continue;
            why = std::strerror(errno);
            return Read::failed;
        }
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) return Read::closed;
        if (n < 0) {
            const int err = errno;
            why = std::strerror(err);
            return err == ECONNRESET ? Read::closed : Read::failed;
        }
        pending_.append(buf, static_cast<size_t>(n));
    }
}

}  // namespace presenced::ctl
