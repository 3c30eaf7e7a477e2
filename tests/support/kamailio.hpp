// The project's Kamailio fixture (scripts/kamailio) from C++ tests: started
// on a free loopback port in its own temp dir, stopped by PID at the end.
// Tests read what it received from its log (one "fixture: REQ" line per
// request, see scripts/kamailio/README.md) and publish states through
// scripts/publish.sh, as a user's phone or client would. The RLS back-end
// traffic the server sends itself is logged as "fixture: BACKEND" and is
// not among the requests below.
#pragma once

#include <string>
#include <vector>

namespace presenced::test {

// One "fixture: REQ ..." line of the Kamailio log: a request it received.
// Absent headers read "<null>", as the fixture logs them.
struct FixtureRequest {
    std::string method;
    std::string request_uri;
    std::string transport;  // "udp" or "tcp"
    std::string from_tag;
    std::string to_tag;  // "<null>" for a request outside a dialog
    std::string event;
    std::string expires;
    std::string call_id;
    // Supported header with its spaces removed ("eventlist",
    // "timer,eventlist"); "<null>" when absent. RFC 4662 list subscriptions
    // carry "eventlist".
    std::string supported;
    double at = 0;  // arrival time, epoch seconds (the line's t=)

    bool in_dialog() const { return to_tag != "<null>"; }
    // The request offered RFC 4662 lists (Supported: eventlist).
    bool eventlist() const;
    // The Request-URI's user is user (sip:user@...); in-dialog requests go
    // to the server's Contact and have none.
    bool to_user(const std::string& user) const;
};

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
    // Every request received, in order; with since_last_start, only those
    // since the last (re)start (each start writes a "===== start.sh" line).
    std::vector<FixtureRequest> received(bool since_last_start = false) const;

    // Clean stop (SIGTERM: Kamailio writes its subscriptions to its DB).
    void stop();
    // A crash (SIGKILL): subscriptions not yet written back are lost.
    void kill();
    // Starts it again on the same port and dir (DBs kept, so publications
    // survive), with the same mode and defines; throws when it does not come
    // up. Stops it first (SIGTERM) when it still runs.
    void restart();
    bool running() const { return running_; }

    // scripts/publish.sh -d dir args...: the SIP answer code of the PUBLISH
    // (200 on success; 0 when the script printed none), e.g.
    // publish({"presence", "open", "away", "Gone home"}) or
    // publish({"-u", "bob", "dialog", "confirmed", "recipient"}).
    int publish(const std::vector<std::string>& args) const;

private:
    void start(const std::vector<std::string>& extra_args);

    std::string mode_;
    std::vector<std::string> defines_;
    std::string dir_;
    int port_ = 0;
    bool running_ = false;
};

// A UDP or TCP port on 127.0.0.1 that nothing listens on right now.
int closed_port();

}  // namespace presenced::test
