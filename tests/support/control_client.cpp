// Blocking Unix-socket client with deadlines (see control_client.hpp).
#include "support/control_client.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

namespace presenced::test {

namespace {

using Clock = std::chrono::steady_clock;

// Between connect attempts while a daemon is starting: short, so tests see
// the socket soon after it appears.
constexpr auto kConnectRetry = std::chrono::milliseconds(5);
// Between looks at the send queue while the daemon works through it.
constexpr auto kQueueRetry = std::chrono::milliseconds(1);

int ms_left(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
}

}  // namespace

std::optional<ControlClient> ControlClient::try_connect(const std::string& path, int timeout_ms, int* error) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) {
        if (error) *error = ENAMETOOLONG;
        return std::nullopt;
    }
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        if (error) *error = errno;
        return std::nullopt;
    }
    // A Unix-socket connect blocks while the listen backlog is full; the
    // send timeout bounds that wait (Linux uses it for connect too). Zero
    // would mean no bound at all.
    timeout_ms = std::max(timeout_ms, 1);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    int rc;
    do rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        if (error) *error = errno;
        ::close(fd);
        return std::nullopt;
    }
    timeval none{0, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);  // every wait below is a poll with a deadline
    return ControlClient(fd);
}

ControlClient ControlClient::adopt(int fd) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return ControlClient(fd);
}

ControlClient::ControlClient(const std::string& path, int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    int error = 0;
    for (;;) {
        if (auto c = try_connect(path, std::max(ms_left(deadline), 1), &error)) {
            *this = std::move(*c);
            return;
        }
        if (ms_left(deadline) == 0)
            throw std::runtime_error("cannot connect to " + path + " within " + std::to_string(timeout_ms) +
                                     " ms: " + std::strerror(error));
        std::this_thread::sleep_for(kConnectRetry);
    }
}

ControlClient::ControlClient(ControlClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), next_id_(other.next_id_), pending_(std::move(other.pending_)) {}

ControlClient& ControlClient::operator=(ControlClient&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        next_id_ = other.next_id_;
        pending_ = std::move(other.pending_);
    }
    return *this;
}

ControlClient::~ControlClient() {
    if (fd_ >= 0) ::close(fd_);
}

size_t ControlClient::send_raw(std::string_view bytes, int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    size_t off = 0;
    while (off < bytes.size()) {
        const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            const int left = ms_left(deadline);
            if (left == 0) break;
            pollfd p{fd_, POLLOUT, 0};
            ::poll(&p, 1, left);
            continue;
        }
        break;  // EPIPE, ECONNRESET: the daemon closed the connection
    }
    return off;
}

void ControlClient::send_all(std::string_view bytes, int timeout_ms) {
    const size_t sent = send_raw(bytes, timeout_ms);
    if (sent != bytes.size())
        throw std::runtime_error("sent only " + std::to_string(sent) + " of " + std::to_string(bytes.size()) +
                                 " bytes");
}

size_t ControlClient::unread_by_peer() const {
    int queued = 0;
    if (::ioctl(fd_, SIOCOUTQ, &queued) != 0) return 0;  // closed: nothing will be read
    return static_cast<size_t>(queued);
}

bool ControlClient::wait_taken(int timeout_ms) const {
    // No event says "the peer read it"; look at the queue until it is empty.
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (unread_by_peer() > 0) {
        if (ms_left(deadline) == 0) return false;
        std::this_thread::sleep_for(kQueueRetry);
    }
    return true;
}

ControlClient::ReadResult ControlClient::read_line(int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    char buffer[64 * 1024];
    for (;;) {
        if (const auto nl = pending_.find('\n'); nl != std::string::npos) {
            ReadResult r{Read::line, pending_.substr(0, nl), 0};
            pending_.erase(0, nl + 1);
            return r;
        }
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n > 0) {
            pending_.append(buffer, static_cast<size_t>(n));
            continue;
        }
        if (n == 0) return {Read::eof, {}, 0};
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return {Read::error, {}, errno};
        const int left = ms_left(deadline);
        if (left == 0) return {Read::timeout, {}, 0};
        pollfd p{fd_, POLLIN, 0};
        ::poll(&p, 1, left);
    }
}

json ControlClient::read_answer(int timeout_ms) {
    const ReadResult r = read_line(timeout_ms);
    switch (r.status) {
        case Read::line:
            break;
        case Read::eof:
            throw std::runtime_error("the daemon closed the connection instead of answering");
        case Read::timeout:
            throw std::runtime_error("no answer within " + std::to_string(timeout_ms) + " ms");
        case Read::error:
            throw std::runtime_error(std::string("reading the answer: ") + std::strerror(r.error));
    }
    json doc = json::parse(r.line, nullptr, false);
    if (doc.is_discarded()) throw std::runtime_error("the answer is not JSON: " + r.line);
    return doc;
}

bool ControlClient::wait_closed(int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    pending_.clear();
    char buffer[64 * 1024];
    for (;;) {
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n > 0) continue;
        if (n == 0) return true;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return true;  // ECONNRESET: closed too
        const int left = ms_left(deadline);
        if (left == 0) return false;
        pollfd p{fd_, POLLIN, 0};
        ::poll(&p, 1, left);
    }
}

std::string ControlClient::request_line(std::string_view cmd, const json& args, const json& id) {
    json request = {{"v", 1}, {"id", id}, {"cmd", std::string(cmd)}};
    if (!args.is_null()) request["args"] = args;
    return request.dump() + "\n";
}

json ControlClient::request(std::string_view cmd, const json& args, const json& id, int timeout_ms) {
    const json used_id = id.is_null() ? json(next_id_++) : id;
    send_all(request_line(cmd, args, used_id), timeout_ms);
    json answer = read_answer(timeout_ms);
    if (!answer.is_object() || answer.value("id", json()) != used_id)
        throw std::runtime_error("answer does not match request id " + used_id.dump() + ": " + answer.dump());
    return answer;
}

}  // namespace presenced::test
