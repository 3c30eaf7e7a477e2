// The project's Kamailio fixture (scripts/kamailio) from C++ tests: started
// on a free loopback port in its own temp dir, stopped by PID at the end.
#pragma once

#include <string>
#include <vector>

namespace presenced::test {

class Kamailio {
public:
    // mode: "digest" or "trusted"; defines: -A values (WITH_PROXY_AUTH, ...).
    explicit Kamailio(const std::string& mode = "digest", const std::vector<std::string>& defines = {});
    ~Kamailio();
    Kamailio(const Kamailio&) = delete;
    Kamailio& operator=(const Kamailio&) = delete;

    int port() const { return port_; }
    const std::string& dir() const { return dir_; }
    std::string log() const;
    // "fixture: REQ <METHOD> " lines in its log: requests it received.
    size_t requests(const std::string& method) const;
    // Requests of method addressed to user (sip:user@...), over transport
    // ("udp", "tcp" or "" for both): the fixture's own readiness pings
    // (sip:host:port, no user) are not counted.
    size_t requests_to(const std::string& method, const std::string& user, const std::string& transport = "") const;
    void stop();

private:
    std::string dir_;
    int port_ = 0;
    bool running_ = false;
};

// A UDP or TCP port on 127.0.0.1 that nothing listens on right now.
int closed_port();

}  // namespace presenced::test
