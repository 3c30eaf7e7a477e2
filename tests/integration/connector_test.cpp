// Connector health against the project's real Kamailio fixture on loopback
// (ports picked at run time): good credentials over UDP and TCP, 401 and 407
// challenges with and without qop, a wrong password (forbidden, no retry
// loop), no authentication (trusted), an unknown service account
// (credentials_not_found) and a closed port (connection_error).
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

#include "support/daemon_fixture.hpp"
#include "support/kamailio.hpp"
#include "support/sip_peer.hpp"

using namespace presenced::test;

namespace {

constexpr int kHealthTimeoutMs = 15'000;

std::string connector_toml(int port, const std::string& transport, const std::string& user,
                           const std::string& password) {
    return "[sip]\nlisten = \"127.0.0.1:0\"\nt1_ms = 100\nprobe_interval = 5\nprobe_retry_interval = 1\n"
           "[[connector]]\nname = \"lab\"\nserver = \"127.0.0.1:" +
           std::to_string(port) + "\"\ntransport = \"" + transport + "\"\nuri = \"sip:" + user +
           "@127.0.0.1\"\nauth_id = \"" + user + "\"\npassword = \"" + password + "\"\ndomain = \"127.0.0.1\"\n";
}

// Polls `connectors` until the lab connector reports status; returns its row.
json wait_for_status(const DaemonFixture& d, const std::string& status, int timeout_ms = kHealthTimeoutMs) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    json last;
    while (std::chrono::steady_clock::now() < deadline) {
        last = d.result("connectors").at("connectors").at(0);
        if (last.at("status") == status) return last;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll interval, not a wait for an event
    }
    FAIL("connector never reached " << status << "; last row: " << last.dump() << "\n" << d.log());
    return last;
}

}  // namespace

TEST_CASE("good credentials over UDP: connected after a digest round", "[connector][peer]") {
    Kamailio k("digest");
    DaemonFixture d({"", connector_toml(k.port(), "udp", "watcher", "watcherpw")});
    const json row = wait_for_status(d, "connected");
    CHECK(row.at("cause") == "200 OK");
    CHECK(row.at("positive") == true);
    CHECK(row.at("counters").at("requests").get<int>() >= 2);  // challenged, then answered
    CHECK(row.at("counters").at("responses").at("4xx").get<int>() >= 1);
    CHECK(row.at("counters").at("responses").at("2xx").get<int>() >= 1);
    CHECK(k.requests_to("OPTIONS", "watcher", "udp") >= 2);
}

TEST_CASE("good credentials over TCP: connected", "[connector][peer]") {
    Kamailio k("digest");
    DaemonFixture d({"", connector_toml(k.port(), "tcp", "watcher", "watcherpw")});
    wait_for_status(d, "connected");
    CHECK(k.requests_to("OPTIONS", "watcher", "tcp") >= 2);
    CHECK(k.requests_to("OPTIONS", "watcher", "udp") == 0);
}

TEST_CASE("407 proxy challenges without qop are answered", "[connector][peer]") {
    Kamailio k("digest", {"WITH_PROXY_AUTH", "WITH_NO_QOP"});
    DaemonFixture d({"", connector_toml(k.port(), "udp", "watcher", "watcherpw")});
    const json row = wait_for_status(d, "connected");
    CHECK(row.at("cause") == "200 OK");
}

TEST_CASE("a wrong password is forbidden, with no retry loop", "[connector][peer]") {
    Kamailio k("digest");
    DaemonFixture d({"", connector_toml(k.port(), "udp", "watcher", "wrong")});
    const json row = wait_for_status(d, "forbidden");
    CHECK(row.at("cause").get<std::string>().find("401") != std::string::npos);
    CHECK(row.at("cause").get<std::string>().find("credentials rejected") != std::string::npos);
    // One probe = the first OPTIONS and one answer to the challenge; the next
    // probe waits at least half the probe interval (2.5 s).
    CHECK(k.requests_to("OPTIONS", "watcher") == 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // the window in which no retry may come
    CHECK(k.requests_to("OPTIONS", "watcher") == 2);
    CHECK(d.log().find("connection_error -> forbidden") != std::string::npos);
}

TEST_CASE("no authentication (trusted trunk): connected with one request per probe", "[connector][peer]") {
    Kamailio k("trusted");
    DaemonFixture d({"", connector_toml(k.port(), "udp", "watcher", "")});
    const json row = wait_for_status(d, "connected");
    CHECK(row.at("counters").at("requests") == 1);
    CHECK(row.at("counters").at("responses").at("4xx") == 0);
}

TEST_CASE("an unknown service account: credentials_not_found, a positive state", "[connector][peer]") {
    Kamailio k("digest");
    DaemonFixture d({"", connector_toml(k.port(), "udp", "nobody", "x")});
    const json row = wait_for_status(d, "credentials_not_found");
    CHECK(row.at("cause") == "404 Not Found");
    CHECK(row.at("positive") == true);
}

TEST_CASE("a closed port: connection_error", "[connector][peer]") {
    SECTION("UDP: Timer F (64*T1 = 6.4 s with t1_ms = 100)") {
        DaemonFixture d({"", connector_toml(closed_port(), "udp", "watcher", "watcherpw")});
        const auto started = std::chrono::steady_clock::now();
        const json row = wait_for_status(d, "connection_error");
        CHECK(row.at("cause") == "connecting");
        const json failed = [&] {
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(12);
            json r;
            while (std::chrono::steady_clock::now() < deadline) {
                r = d.result("connectors").at("connectors").at(0);
                if (r.at("cause") != "connecting") return r;
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            return r;
        }();
        CHECK(failed.at("cause").get<std::string>().find("timeout") != std::string::npos);
        CHECK(failed.at("counters").at("timeouts") == 1);
        CHECK(failed.at("counters").at("retransmissions").get<int>() >= 5);
        const auto took = std::chrono::steady_clock::now() - started;
        CHECK(took >= std::chrono::milliseconds(6000));
    }
    SECTION("TCP: connection refused at once") {
        DaemonFixture d({"", connector_toml(closed_port(), "tcp", "watcher", "watcherpw")});
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        json r;
        while (std::chrono::steady_clock::now() < deadline) {
            r = d.result("connectors").at("connectors").at(0);
            if (r.at("cause") != "connecting") break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        CHECK(r.at("status") == "connection_error");
        CHECK(r.at("cause").get<std::string>().find("transport error") != std::string::npos);
        CHECK(r.at("counters").at("transport_errors").get<int>() >= 1);
    }
}

TEST_CASE("a server that goes away turns the connector to connection_error", "[connector][peer]") {
    auto k = std::make_unique<Kamailio>("trusted");
    const int port = k->port();
    DaemonFixture d({"", connector_toml(port, "udp", "watcher", "")});
    wait_for_status(d, "connected");
    k->stop();
    wait_for_status(d, "connection_error", 20'000);
}

namespace {

// A one-connection TCP "server": accepts, answers the first OPTIONS with 200
// (headers copied, RFC 3261 §8.2.6.2), then records whatever else arrives.
class TinyTcpServer {
public:
    TinyTcpServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd_, 4) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
    }
    ~TinyTcpServer() {
        if (conn_ >= 0) ::close(conn_);
        ::close(fd_);
    }
    int port() const { return port_; }
    // Reads until pred(all bytes seen) or the deadline; answers OPTIONS once.
    bool serve_until(const std::function<bool(const std::string&)>& pred, int timeout_ms) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (std::chrono::steady_clock::now() < deadline) {
            const int fd = conn_ >= 0 ? conn_ : fd_;
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            if (conn_ < 0) {
                conn_ = ::accept(fd_, nullptr, nullptr);
                continue;
            }
            char buf[4096];
            const ssize_t n = ::recv(conn_, buf, sizeof buf, 0);
            if (n <= 0) return false;
            seen_.append(buf, static_cast<size_t>(n));
            if (!answered_ && seen_.find("\r\n\r\n") != std::string::npos) {
                answered_ = true;
                std::string response = "SIP/2.0 200 OK\r\n";
                for (const char* h : {"Via", "From", "To", "Call-ID", "CSeq"})
                    response += std::string(h) + ": " + header_of(seen_, h) +
                                (std::string(h) == "To" ? ";tag=t1" : "") + "\r\n";
                response += "Content-Length: 0\r\n\r\n";
                ::send(conn_, response.data(), response.size(), MSG_NOSIGNAL);
                after_answer_ = seen_.size();
            }
            if (pred(seen_)) return true;
        }
        return false;
    }
    std::string after_answer() const { return seen_.substr(after_answer_); }

private:
    int fd_ = -1, conn_ = -1, port_ = 0;
    bool answered_ = false;
    size_t after_answer_ = 0;
    std::string seen_;
};

}  // namespace

TEST_CASE("TCP: the persistent connection gets CRLF keep-alive pings", "[connector][peer]") {
    TinyTcpServer server;
    std::string cfg = connector_toml(server.port(), "tcp", "watcher", "");
    cfg.insert(cfg.find("probe_interval"), "tcp_keepalive_interval = 1\n");
    DaemonFixture d({"", cfg});
    // RFC 5626 §3.5.1: "\r\n\r\n" after the answered probe, on the same connection.
    // The first bytes after the answer are the ping, not another request.
    CHECK(server.serve_until([&](const std::string&) { return server.after_answer().size() >= 4; }, 5000));
    CHECK(server.after_answer().rfind("\r\n\r\n", 0) == 0);
    wait_for_status(d, "connected");
}
