// SIP transports (sip/transport) on a real libuv loop with loopback sockets
// on ports picked at run time: UDP and TCP round trips, connection reuse,
// failures reported as ConnectionEvents, framing errors, timeouts and
// keep-alives. The loop is polled against a deadline, never slept on, and
// every test ends with uv_loop_close() == 0.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sip/transport.hpp"
#include "util/log.hpp"

using namespace presenced::sip;

namespace {

using Clock = std::chrono::steady_clock;

// A loop with a 5 ms tick so run_until can poll a predicate against a
// wall-clock deadline without blocking forever in uv_run.
class Loop {
public:
    Loop() {
        uv_loop_init(&loop);
        uv_timer_init(&loop, &tick_);
        uv_timer_start(
            &tick_, [](uv_timer_t*) {}, 5, 5);
    }
    ~Loop() {
        if (!finished_) finish();
    }
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    template <class Pred>
    bool run_until(Pred done, int timeout_ms = 3000) {
        const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
        while (!done()) {
            if (Clock::now() >= deadline) return false;
            uv_run(&loop, UV_RUN_ONCE);
        }
        return true;
    }
    // Runs the loop for ms whatever happens (to show that nothing does).
    void run_for(int ms) {
        const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
        while (Clock::now() < deadline) uv_run(&loop, UV_RUN_ONCE);
    }
    // Closes the tick, lets pending close callbacks run and closes the
    // loop: 0 only if every handle was closed.
    int finish() {
        finished_ = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
        for (int i = 0; i < 1000 && uv_run(&loop, UV_RUN_NOWAIT) != 0; ++i) {
        }
        return uv_loop_close(&loop);
    }

    uv_loop_t loop{};

private:
    uv_timer_t tick_{};
    bool finished_ = false;
};

// A plain socket for playing a misbehaving or minimal peer.
class RawSocket {
public:
    RawSocket() = default;
    explicit RawSocket(int fd) : fd_(fd) {}
    ~RawSocket() { reset(); }
    RawSocket(RawSocket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    RawSocket& operator=(RawSocket&& o) noexcept {
        reset();
        fd_ = o.fd_;
        o.fd_ = -1;
        return *this;
    }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    int fd() const { return fd_; }

    // Connected, then non-blocking (loopback completes the handshake in
    // the kernel, before the transport accepts).
    static RawSocket connect_to(const Address& to) {
        RawSocket s(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
        REQUIRE(s.fd_ >= 0);
        REQUIRE(::connect(s.fd_, to.sockaddr_ptr(), to.length()) == 0);
        s.set_nonblocking();
        return s;
    }
    // Bound to ip:0; listening with the backlog given, if any.
    static RawSocket bound(const Address& ip, std::optional<int> backlog, Address& at) {
        RawSocket s(::socket(ip.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
        REQUIRE(s.fd_ >= 0);
        REQUIRE(::bind(s.fd_, ip.sockaddr_ptr(), ip.length()) == 0);
        if (backlog) REQUIRE(::listen(s.fd_, *backlog) == 0);
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        REQUIRE(::getsockname(s.fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0);
        at = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
        s.set_nonblocking();
        return s;
    }
    // Non-blocking accept: an invalid socket if nobody is waiting.
    RawSocket accept() {
        const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        return RawSocket(fd);
    }
    void send(const std::string& bytes) {
        size_t off = 0;
        while (off < bytes.size()) {
            const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
            REQUIRE(n > 0);
            off += static_cast<size_t>(n);
        }
    }
    // Appends what has arrived; false once the peer has closed or reset.
    bool receive(std::string& into) {
        char buf[4096];
        for (;;) {
            const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) {
                into.append(buf, static_cast<size_t>(n));
                continue;
            }
            if (n == 0) return false;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
    }
    bool closed_by_peer() {
        std::string ignored;
        return !receive(ignored);
    }

private:
    void set_nonblocking() { ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK); }
    int fd_ = -1;
};

Address any_port(std::string_view ip) { return *Address::from_ip(ip, 0); }

// Listens a and b on ip:0. For ::1 a failure means no IPv6 here: skipped.
bool listen_both(Transport& a, Transport& b, std::string_view ip) {
    auto ra = a.listen(any_port(ip));
    if (!ra.ok() && ip == "::1") {
        WARN("skipping the IPv6 case: cannot listen on ::1: " << ra.error().message);
        return false;
    }
    REQUIRE(ra.ok());
    auto rb = b.listen(any_port(ip));
    REQUIRE(rb.ok());
    REQUIRE(a.local().port() != 0);
    REQUIRE(b.local().port() != 0);
    REQUIRE(a.local().port() != b.local().port());
    return true;
}

std::string request(const std::string& method, const std::string& body = "") {
    return method + " sip:watcher@127.0.0.1 SIP/2.0\r\n" + "Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-" + method +
           "\r\n" + "Call-ID: " + method + "@test\r\nCSeq: 1 " + method + "\r\n" +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string response(const std::string& body = "") {
    return "SIP/2.0 200 OK\r\nCSeq: 1 NOTIFY\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TransportLimits fast_limits() {
    TransportLimits limits;
    limits.tcp_connect_timeout_ms = 200;
    limits.tcp_message_timeout_ms = 200;
    limits.tcp_idle_timeout_ms = 200;
    return limits;
}

struct Recorder {
    std::vector<Inbound> messages;
    std::vector<ConnectionEvent> events;
    void attach(Transport& t) {
        t.on_message([this](Inbound in) { messages.push_back(std::move(in)); });
        t.on_connection_event([this](const ConnectionEvent& e) { events.push_back(e); });
    }
};

void udp_round_trip(std::string_view ip) {
    Loop L;
    {
        Transport a(&L.loop), b(&L.loop);
        if (!listen_both(a, b, ip)) return;
        Recorder ra, rb;
        ra.attach(a);
        rb.attach(b);

        REQUIRE(a.send_udp(b.local(), request("OPTIONS")).ok());
        REQUIRE(L.run_until([&] { return !rb.messages.empty(); }));
        const Inbound& in = rb.messages[0];
        CHECK(in.bytes == request("OPTIONS"));
        CHECK(in.kind == TransportKind::udp);
        CHECK(in.connection == 0);
        CHECK(in.source == a.local());  // sent from the listening socket (rport)

        REQUIRE(b.send_udp(in.source, response()).ok());
        REQUIRE(L.run_until([&] { return !ra.messages.empty(); }));
        CHECK(ra.messages[0].bytes == response());
        CHECK(ra.messages[0].source == b.local());
        CHECK(a.counters().udp_sent == 1);
        CHECK(a.counters().udp_received == 1);
        CHECK(b.counters().udp_received == 1);

        // TCP listens on the same address and port (rfc-checklist 2.1).
        RawSocket probe = RawSocket::connect_to(a.local());
        CHECK(probe.fd() >= 0);
        a.close();
        b.close();
    }
    CHECK(L.finish() == 0);
}

void tcp_round_trip(std::string_view ip) {
    Loop L;
    {
        Transport a(&L.loop), b(&L.loop);
        if (!listen_both(a, b, ip)) return;
        Recorder ra, rb;
        ra.attach(a);
        rb.attach(b);
        b.on_message([&](Inbound in) {
            CHECK(b.send_on(in.connection, response("pong")));
            rb.messages.push_back(std::move(in));
        });

        const ConnectionId id = a.send_tcp(b.local(), request("NOTIFY", "body"));
        CHECK(id != 0);
        REQUIRE(L.run_until([&] { return !ra.messages.empty(); }));

        REQUIRE(rb.messages.size() == 1);
        const Inbound& in = rb.messages[0];
        CHECK(in.bytes == request("NOTIFY", "body"));
        CHECK(in.kind == TransportKind::tcp);
        CHECK(in.connection != 0);
        CHECK(in.source.same_ip(a.local()));

        const Inbound& answer = ra.messages[0];
        CHECK(answer.bytes == response("pong"));
        CHECK(answer.kind == TransportKind::tcp);
        CHECK(answer.connection == id);  // on the connection we opened
        CHECK(answer.source == b.local());

        REQUIRE(ra.events.size() == 1);
        CHECK(ra.events[0].connection == id);
        CHECK(ra.events[0].error == 0);
        CHECK(ra.events[0].peer == b.local());
        CHECK(a.counters().connections_opened == 1);
        CHECK(a.counters().tcp_sent == 1);
        CHECK(a.counters().tcp_received == 1);
        CHECK(b.counters().connections_accepted == 1);
        CHECK(rb.events.empty());
        a.close();
        b.close();
    }
    CHECK(L.finish() == 0);
}

}  // namespace

TEST_CASE("UDP round trip between two transports, IPv4", "[transport][udp]") { udp_round_trip("127.0.0.1"); }
TEST_CASE("UDP round trip between two transports, IPv6", "[transport][udp]") { udp_round_trip("::1"); }

TEST_CASE("a 60,000-byte datagram arrives whole", "[transport][udp]") {
    Loop L;
    {
        Transport a(&L.loop), b(&L.loop);
        REQUIRE(listen_both(a, b, "127.0.0.1"));
        Recorder rb;
        rb.attach(b);
        std::string big = request("NOTIFY", std::string(60'000 - request("NOTIFY").size() - 5, 'x'));
        big.resize(60'000, 'y');
        REQUIRE(a.send_udp(b.local(), big).ok());
        REQUIRE(L.run_until([&] { return !rb.messages.empty(); }));
        CHECK(rb.messages[0].bytes.size() == 60'000);
        CHECK(rb.messages[0].bytes == big);
        CHECK(b.counters().oversize_dropped == 0);
        a.close();
        b.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("CRLF-only datagrams are dropped silently", "[transport][udp]") {
    Loop L;
    {
        Transport a(&L.loop), b(&L.loop);
        REQUIRE(listen_both(a, b, "127.0.0.1"));
        Recorder rb;
        rb.attach(b);
        REQUIRE(a.send_udp(b.local(), "\r\n\r\n").ok());
        REQUIRE(a.send_udp(b.local(), request("OPTIONS")).ok());
        REQUIRE(L.run_until([&] { return !rb.messages.empty(); }));
        L.run_for(20);
        REQUIRE(rb.messages.size() == 1);
        CHECK(rb.messages[0].bytes == request("OPTIONS"));
        a.close();
        b.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("listen and send errors", "[transport]") {
    Loop L;
    {
        Transport a(&L.loop);
        CHECK(a.send_udp(*Address::from_ip("127.0.0.1", 9), "x").error().code == "not_listening");
        REQUIRE(a.listen(any_port("127.0.0.1")).ok());
        CHECK(a.listen(any_port("127.0.0.1")).error().code == "already_listening");

        Transport b(&L.loop);
        auto taken = b.listen(a.local());  // same port: refused, no handle left open
        REQUIRE_FALSE(taken.ok());
        CHECK(taken.error().code == "bind_failed");

        CHECK(a.send_tcp(Address(), "x") == 0);
        CHECK_FALSE(a.send_on(12345, "x"));
        a.close();
        CHECK(a.send_tcp(*Address::from_ip("127.0.0.1", 9), "x") == 0);
        CHECK(a.send_udp(*Address::from_ip("127.0.0.1", 9), "x").error().code == "not_listening");
        CHECK(a.listen(any_port("127.0.0.1")).error().code == "closed");
        a.close();  // again: harmless
        b.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("TCP round trip with send_on, IPv4", "[transport][tcp]") { tcp_round_trip("127.0.0.1"); }
TEST_CASE("TCP round trip with send_on, IPv6", "[transport][tcp]") { tcp_round_trip("::1"); }

TEST_CASE("two messages in one write arrive as two", "[transport][tcp]") {
    Loop L;
    {
        Transport a(&L.loop), b(&L.loop);
        REQUIRE(listen_both(a, b, "127.0.0.1"));
        Recorder rb;
        rb.attach(b);
        const std::string m1 = request("NOTIFY", "one"), m2 = request("OPTIONS");
        a.send_tcp(b.local(), m1 + m2);
        REQUIRE(L.run_until([&] { return rb.messages.size() == 2; }));
        CHECK(rb.messages[0].bytes == m1);
        CHECK(rb.messages[1].bytes == m2);
        CHECK(rb.messages[0].connection == rb.messages[1].connection);
        CHECK(b.counters().tcp_received == 2);
        a.close();
        b.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("one persistent connection per destination", "[transport][tcp]") {
    Loop L;
    {
        Transport a(&L.loop), b(&L.loop);
        REQUIRE(listen_both(a, b, "127.0.0.1"));
        Recorder ra, rb;
        ra.attach(a);
        rb.attach(b);
        // The second send is queued while the first connect is in progress.
        const ConnectionId id1 = a.send_tcp(b.local(), request("SUBSCRIBE", "1"));
        const ConnectionId id2 = a.send_tcp(b.local(), request("SUBSCRIBE", "2"));
        CHECK(id1 == id2);
        REQUIRE(L.run_until([&] { return rb.messages.size() == 2; }));
        const ConnectionId id3 = a.send_tcp(b.local(), request("SUBSCRIBE", "3"));
        CHECK(id3 == id1);
        REQUIRE(L.run_until([&] { return rb.messages.size() == 3; }));
        for (int i = 0; i < 3; ++i) {
            CHECK(rb.messages[i].bytes == request("SUBSCRIBE", std::to_string(i + 1)));
            CHECK(rb.messages[i].connection == rb.messages[0].connection);
        }
        REQUIRE(ra.events.size() == 1);  // one connection_opened
        CHECK(ra.events[0].error == 0);
        CHECK(a.counters().connections_opened == 1);
        CHECK(b.counters().connections_accepted == 1);
        CHECK(a.counters().tcp_sent == 3);
        a.close();
        b.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("connect to a closed port reports ECONNREFUSED, then reconnects", "[transport][tcp]") {
    Loop L;
    {
        Transport a(&L.loop);
        REQUIRE(a.listen(any_port("127.0.0.1")).ok());
        Recorder ra;
        ra.attach(a);
        Address closed;
        RawSocket not_listening = RawSocket::bound(any_port("127.0.0.1"), std::nullopt, closed);

        const ConnectionId id = a.send_tcp(closed, request("SUBSCRIBE"));
        REQUIRE(L.run_until([&] { return !ra.events.empty(); }));
        CHECK(ra.events[0].connection == id);
        CHECK(ra.events[0].error == UV_ECONNREFUSED);
        CHECK(ra.events[0].peer == closed);
        CHECK_FALSE(a.send_on(id, "x"));  // forgotten

        const ConnectionId again = a.send_tcp(closed, request("SUBSCRIBE"));  // a new attempt
        CHECK(again != id);
        REQUIRE(L.run_until([&] { return ra.events.size() == 2; }));
        CHECK(ra.events[1].connection == again);
        CHECK(ra.events[1].error == UV_ECONNREFUSED);
        CHECK(a.counters().connections_opened == 0);
        a.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("connect timeout reports ETIMEDOUT", "[transport][tcp]") {
    Loop L;
    {
        Transport a(&L.loop, fast_limits());
        REQUIRE(a.listen(any_port("127.0.0.1")).ok());
        Recorder ra;
        ra.attach(a);
        // A listener with a full accept queue drops further SYNs, so the
        // connect hangs until our timeout.
        Address full;
        RawSocket listener = RawSocket::bound(any_port("127.0.0.1"), 0, full);
        RawSocket filler = RawSocket::connect_to(full);

        const auto start = Clock::now();
        const ConnectionId id = a.send_tcp(full, request("SUBSCRIBE"));
        REQUIRE(L.run_until([&] { return !ra.events.empty(); }));
        CHECK(ra.events[0].connection == id);
        CHECK(ra.events[0].error == UV_ETIMEDOUT);
        CHECK(Clock::now() - start >= std::chrono::milliseconds(180));
        a.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("the peer closing reports EOF", "[transport][tcp]") {
    Loop L;
    {
        Transport a(&L.loop);
        REQUIRE(a.listen(any_port("127.0.0.1")).ok());
        Recorder ra;
        ra.attach(a);
        Address at;
        RawSocket listener = RawSocket::bound(any_port("127.0.0.1"), 8, at);

        const std::string m = request("SUBSCRIBE");
        const ConnectionId id = a.send_tcp(at, m);
        RawSocket peer;
        std::string got;
        REQUIRE(L.run_until([&] {
            if (peer.fd() < 0) peer = listener.accept();
            if (peer.fd() >= 0) peer.receive(got);
            return got.size() == m.size();
        }));
        CHECK(got == m);
        REQUIRE(L.run_until([&] { return !ra.events.empty(); }));  // connected
        peer.reset();
        REQUIRE(L.run_until([&] { return ra.events.size() == 2; }));
        CHECK(ra.events[1].connection == id);
        CHECK(ra.events[1].error == UV_EOF);
        CHECK_FALSE(a.send_on(id, "x"));
        a.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("a framing error closes the connection", "[transport][tcp]") {
    Loop L;
    {
        Transport b(&L.loop);
        REQUIRE(b.listen(any_port("127.0.0.1")).ok());
        Recorder rb;
        rb.attach(b);
        RawSocket raw = RawSocket::connect_to(b.local());
        raw.send(request("OPTIONS"));                                       // fine
        raw.send("OPTIONS sip:x SIP/2.0\r\nCall-ID: garbage\r\n\r\nrest");  // no Content-Length
        REQUIRE(L.run_until([&] { return raw.closed_by_peer(); }));
        REQUIRE(L.run_until([&] { return !rb.events.empty(); }));
        CHECK(rb.events[0].error == UV_EPROTO);
        REQUIRE(rb.messages.size() == 1);  // only the good message before it
        CHECK(rb.messages[0].bytes == request("OPTIONS"));
        CHECK(rb.events[0].connection == rb.messages[0].connection);
        CHECK(b.counters().framing_errors == 1);
        b.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("slowloris: an unfinished message is closed after the timeout", "[transport][tcp]") {
    Loop L;
    {
        Transport b(&L.loop, fast_limits());
        REQUIRE(b.listen(any_port("127.0.0.1")).ok());
        Recorder rb;
        rb.attach(b);
        RawSocket raw = RawSocket::connect_to(b.local());
        const std::string m = request("NOTIFY", "body");
        raw.send(m.substr(0, m.size() / 2));
        const auto start = Clock::now();
        REQUIRE(L.run_until([&] { return raw.closed_by_peer(); }, 3000));
        CHECK(Clock::now() - start >= std::chrono::milliseconds(180));
        REQUIRE(L.run_until([&] { return !rb.events.empty(); }));
        CHECK(rb.events[0].error == UV_ETIMEDOUT);
        CHECK(rb.messages.empty());
        b.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("an idle inbound connection is closed, traffic keeps it open", "[transport][tcp]") {
    Loop L;
    {
        TransportLimits limits = fast_limits();
        limits.tcp_idle_timeout_ms = 300;
        Transport b(&L.loop, limits);
        REQUIRE(b.listen(any_port("127.0.0.1")).ok());
        Recorder rb;
        rb.attach(b);
        RawSocket busy = RawSocket::connect_to(b.local());
        RawSocket idle = RawSocket::connect_to(b.local());
        const auto start = Clock::now();
        // A message every 100 ms keeps `busy` alive past the idle timeout.
        for (int i = 0; i < 5; ++i) {
            busy.send(request("OPTIONS"));
            L.run_for(100);
        }
        CHECK(rb.messages.size() == 5);
        CHECK(idle.closed_by_peer());
        CHECK_FALSE(busy.closed_by_peer());
        CHECK(Clock::now() - start >= std::chrono::milliseconds(300));
        REQUIRE(rb.events.size() == 1);
        CHECK(rb.events[0].error == UV_ETIMEDOUT);
        b.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("a CRLFCRLF ping gets a CRLF pong", "[transport][tcp]") {
    Loop L;
    {
        Transport b(&L.loop);
        REQUIRE(b.listen(any_port("127.0.0.1")).ok());
        Recorder rb;
        rb.attach(b);
        RawSocket raw = RawSocket::connect_to(b.local());
        raw.send("\r\n\r\n");
        std::string got;
        REQUIRE(L.run_until([&] { return raw.receive(got) && got == "\r\n"; }));
        raw.send(request("OPTIONS"));  // still open and framing
        REQUIRE(L.run_until([&] { return rb.messages.size() == 1; }));
        CHECK(rb.messages[0].bytes == request("OPTIONS"));
        CHECK(b.counters().tcp_sent == 0);  // pongs are not messages
        b.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("ping_tcp sends CRLFCRLF on the outbound connection, a pong is ignored", "[transport][tcp]") {
    Loop L;
    {
        Transport a(&L.loop);
        REQUIRE(a.listen(any_port("127.0.0.1")).ok());
        Recorder ra;
        ra.attach(a);
        Address at;
        RawSocket listener = RawSocket::bound(any_port("127.0.0.1"), 8, at);
        a.ping_tcp(at);  // no connection yet: nothing happens

        const std::string m = request("SUBSCRIBE");
        const ConnectionId id = a.send_tcp(at, m);
        RawSocket peer;
        std::string got;
        REQUIRE(L.run_until([&] {
            if (peer.fd() < 0) peer = listener.accept();
            if (peer.fd() >= 0) peer.receive(got);
            return got.size() == m.size() && !ra.events.empty();
        }));
        got.clear();
        a.ping_tcp(at);
        REQUIRE(L.run_until([&] { return peer.receive(got) && got == "\r\n\r\n"; }));

        peer.send("\r\n");  // the pong
        peer.send(response());
        REQUIRE(L.run_until([&] { return !ra.messages.empty(); }));
        CHECK(ra.messages[0].bytes == response());
        CHECK(ra.messages[0].connection == id);
        CHECK(a.counters().tcp_sent == 1);
        a.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("connections over max_tcp_connections are refused", "[transport][tcp]") {
    Loop L;
    {
        TransportLimits limits;
        limits.max_tcp_connections = 1;
        Transport b(&L.loop, limits);
        REQUIRE(b.listen(any_port("127.0.0.1")).ok());
        Recorder rb;
        rb.attach(b);
        RawSocket first = RawSocket::connect_to(b.local());
        REQUIRE(L.run_until([&] { return b.counters().connections_accepted == 1; }));
        RawSocket second = RawSocket::connect_to(b.local());
        REQUIRE(L.run_until([&] { return second.closed_by_peer(); }));
        first.send(request("OPTIONS"));
        REQUIRE(L.run_until([&] { return rb.messages.size() == 1; }));
        CHECK(b.counters().connections_accepted == 1);
        CHECK(rb.events.empty());
        b.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("more than max_queued_bytes unsent closes the connection", "[transport][tcp]") {
    Loop L;
    {
        TransportLimits limits;
        limits.max_queued_bytes = 1000;
        Transport a(&L.loop, limits), b(&L.loop);
        REQUIRE(listen_both(a, b, "127.0.0.1"));
        Recorder ra, rb;
        ra.attach(a);
        rb.attach(b);
        // While connecting everything is queued: 5000 bytes > 1000.
        const ConnectionId id = a.send_tcp(b.local(), request("NOTIFY", std::string(5000, 'x')));
        CHECK(id != 0);
        CHECK(ra.events.empty());  // reported from the loop, not inside send_tcp
        REQUIRE(L.run_until([&] { return !ra.events.empty(); }));
        CHECK(ra.events[0].connection == id);
        CHECK(ra.events[0].error == UV_ENOBUFS);
        // Small messages still go, on a new connection.
        const ConnectionId next = a.send_tcp(b.local(), request("OPTIONS"));
        CHECK(next != id);
        REQUIRE(L.run_until([&] { return !rb.messages.empty(); }));
        CHECK(rb.messages[0].bytes == request("OPTIONS"));
        a.close();
        b.close();
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("handlers may close the transport, the destructor closes too", "[transport]") {
    Loop L;
    {
        Transport a(&L.loop), b(&L.loop);
        REQUIRE(listen_both(a, b, "127.0.0.1"));
        int seen = 0;
        b.on_message([&](Inbound) {
            ++seen;
            b.close();
        });
        a.send_tcp(b.local(), request("NOTIFY") + request("NOTIFY"));
        REQUIRE(L.run_until([&] { return seen > 0; }));
        L.run_for(20);
        CHECK(seen == 1);  // closed after the first message

        // Destroyed with an outbound connect, a queued write and a UDP
        // send in flight: no close() called explicitly.
        auto c = std::make_unique<Transport>(&L.loop);
        REQUIRE(c->listen(any_port("127.0.0.1")).ok());
        c->send_tcp(a.local(), request("SUBSCRIBE"));
        REQUIRE(c->send_udp(a.local(), request("OPTIONS")).ok());
        c.reset();
        a.close();
        b.close();  // again, after the handler did: harmless
    }
    CHECK(L.finish() == 0);
}

TEST_CASE("handler exceptions stay out of libuv", "[transport]") {
    Loop L;
    {
        Transport a(&L.loop), b(&L.loop);
        REQUIRE(listen_both(a, b, "127.0.0.1"));
        presenced::log::configure(presenced::log::Level::error, false);  // the warning is expected
        int calls = 0;
        b.on_message([&](Inbound) {
            ++calls;
            throw std::runtime_error("handler bug");
        });
        REQUIRE(a.send_udp(b.local(), request("OPTIONS")).ok());
        a.send_tcp(b.local(), request("OPTIONS") + request("OPTIONS"));
        REQUIRE(L.run_until([&] { return calls == 3; }));
        presenced::log::configure(presenced::log::Level::info, false);
        a.close();
        b.close();
    }
    CHECK(L.finish() == 0);
}
