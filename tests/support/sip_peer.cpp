// Raw loopback SIP peer for integration tests.
#include "support/sip_peer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <stdexcept>

namespace presenced::test {

SipPeer::SipPeer(bool tcp, const std::string& bind_ip) : tcp_(tcp), ip_(bind_ip) {
    fd_ = ::socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, bind_ip.c_str(), &a.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("SipPeer: bind failed");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    local_port_ = ntohs(a.sin_port);
}

SipPeer::~SipPeer() {
    if (fd_ >= 0) ::close(fd_);
}

void SipPeer::send(int port, const std::string& bytes) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (tcp_) {
        if (!connected_) {
            if (::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
                throw std::runtime_error("SipPeer: connect failed");
            connected_ = true;
        }
        size_t off = 0;
        while (off < bytes.size()) {
            const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
            if (n <= 0) throw std::runtime_error("SipPeer: send failed");
            off += static_cast<size_t>(n);
        }
        return;
    }
    ::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
}

std::optional<std::string> SipPeer::receive(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (tcp_) {
            // Frame: headers to the blank line, then Content-Length bytes.
            const auto end = buffer_.find("\r\n\r\n");
            if (end != std::string::npos) {
                const std::string len = header_of(buffer_.substr(0, end + 2), "Content-Length");
                const size_t body = len.empty() ? 0 : std::stoul(len);
                if (buffer_.size() >= end + 4 + body) {
                    std::string msg = buffer_.substr(0, end + 4 + body);
                    buffer_.erase(0, end + 4 + body);
                    return msg;
                }
            }
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) return std::nullopt;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
        char buf[70000];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return std::nullopt;
        if (!tcp_) return std::string(buf, static_cast<size_t>(n));
        buffer_.append(buf, static_cast<size_t>(n));
    }
}

std::string fill(std::string text, const std::string& name, const std::string& value) {
    const std::string key = "{" + name + "}";
    for (size_t pos; (pos = text.find(key)) != std::string::npos;) text.replace(pos, key.size(), value);
    return text;
}

int status_of(const std::string& response) {
    if (response.rfind("SIP/2.0 ", 0) != 0 || response.size() < 11) return 0;
    return std::atoi(response.substr(8, 3).c_str());
}

std::string header_of(const std::string& message, const std::string& name) {
    auto lower = [](std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    const std::string want = lower(name);
    size_t pos = message.find("\r\n");
    while (pos != std::string::npos && pos + 2 < message.size()) {
        const size_t start = pos + 2;
        const size_t end = message.find("\r\n", start);
        const std::string line = message.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (line.empty()) break;
        const auto colon = line.find(':');
        if (colon != std::string::npos) {
            std::string n = line.substr(0, colon);
            while (!n.empty() && n.back() == ' ') n.pop_back();
            if (lower(n) == want) {
                std::string v = line.substr(colon + 1);
                v.erase(0, v.find_first_not_of(" \t"));
                return v;
            }
        }
        pos = end;
    }
    return {};
}

}  // namespace presenced::test
