// A raw SIP peer for tests: sends exact bytes over UDP or TCP on loopback
// and reads what comes back, with deadlines. It plays a server or a spoofer
// talking to the real daemon.
#pragma once

#include <optional>
#include <string>

namespace presenced::test {

class SipPeer {
public:
    // tcp=false: a UDP socket bound to bind_ip:0; tcp=true: connects to
    // bind_ip's peer on send().
    explicit SipPeer(bool tcp = false, const std::string& bind_ip = "127.0.0.1");
    ~SipPeer();
    SipPeer(const SipPeer&) = delete;
    SipPeer& operator=(const SipPeer&) = delete;

    int local_port() const { return local_port_; }
    const std::string& local_ip() const { return ip_; }
    // Sends bytes to 127.0.0.1:port (TCP: connects first if needed).
    void send(int port, const std::string& bytes);
    // The next whole message (TCP: framed by Content-Length), or nullopt.
    std::optional<std::string> receive(int timeout_ms);

private:
    bool tcp_;
    std::string ip_;
    int fd_ = -1;
    int local_port_ = 0;
    bool connected_ = false;
    std::string buffer_;
};

// Replaces every "{name}" in text with value (tests build messages from templates).
std::string fill(std::string text, const std::string& name, const std::string& value);

// The status code of a response, or 0.
int status_of(const std::string& response);
// The first value of a header (long name, case-insensitive), or "".
std::string header_of(const std::string& message, const std::string& name);

}  // namespace presenced::test
