// The control server's side of watch, on a real Unix socket and a real
// libuv loop with FakeServices: answers before events, filtering, replacing
// and ending watches, and the cap on what a watcher leaves unread. The
// loop is pumped without sleeping (it waits on its own backend fd).
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>

#include "control/presence_json.hpp"
#include "control/server.hpp"
#include "fake_services.hpp"

using namespace presenced;
using namespace presenced::control;

namespace {

constexpr int kDeadlineMs = 10'000;
constexpr int kPumpStepMs = 10;  // the longest one wait on the loop's fd lasts

// A client of the server under test: a non-blocking socket read into lines.
class Peer {
public:
    explicit Peer(const std::string& path) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::fcntl(fd_, F_SETFL, O_NONBLOCK) == 0);
    }
    ~Peer() { hang_up(); }
    Peer(const Peer&) = delete;
    Peer& operator=(const Peer&) = delete;

    void send(const std::string& cmd, const json& args, int id) {
        const std::string line = json{{"v", 1}, {"id", id}, {"cmd", cmd}, {"args", args}}.dump() + "\n";
        REQUIRE(::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size()));
    }
    // Takes what has arrived, without blocking.
    void read() {
        char buf[64 * 1024];
        for (;;) {
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0) {
                pending_.append(buf, static_cast<size_t>(n));
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) closed = true;
            break;
        }
        for (size_t nl; (nl = pending_.find('\n')) != std::string::npos; pending_.erase(0, nl + 1))
            lines.push_back(json::parse(pending_.substr(0, nl)));
    }
    void hang_up() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    std::vector<json> lines;
    bool closed = false;

private:
    int fd_ = -1;
    std::string pending_;
};

struct Harness {
    Harness() {
        REQUIRE(uv_loop_init(&loop) == 0);
        char dir_template[] = "/tmp/presenced-ctl-XXXXXX";
        REQUIRE(::mkdtemp(dir_template) != nullptr);
        dir = dir_template;
        path = dir + "/control.sock";
        server = std::make_unique<Server>(&loop, services);
        REQUIRE(server->start({path, 0600, ""}).ok());
    }
    ~Harness() {
        server->stop();
        uv_run(&loop, UV_RUN_DEFAULT);  // runs the close callbacks
        server.reset();
        CHECK(uv_loop_close(&loop) == 0);
        ::rmdir(dir.c_str());
    }

    // Runs the loop and reads the peers until done() or the deadline.
    bool pump(const std::vector<Peer*>& peers, const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDeadlineMs);
        while (std::chrono::steady_clock::now() < deadline) {
            uv_run(&loop, UV_RUN_NOWAIT);
            for (Peer* p : peers) p->read();
            if (done()) return true;
            pollfd p{uv_backend_fd(&loop), POLLIN, 0};
            ::poll(&p, 1, std::min(kPumpStepMs, std::max(0, uv_backend_timeout(&loop))));
        }
        return false;
    }
    bool pump_lines(Peer& peer, size_t count) {
        return pump({&peer}, [&] { return peer.lines.size() >= count; });
    }

    uv_loop_t loop{};
    FakeServices services;
    std::unique_ptr<Server> server;
    std::string dir, path;
};

presence::Event presence_event(const std::string& user, const std::string& state, std::string message = {}) {
    presence::Event e;
    e.username = user;
    e.kind = "telephony";
    e.state = state;
    e.previous = "idle";
    e.source = "pbx";
    e.stale = false;
    e.message = std::move(message);
    e.at = 5000;
    return e;
}

presence::Event connector_event(const std::string& status) {
    presence::Event e;
    e.type = presence::Event::Type::connector;
    e.connector = "pbx";
    e.state = status;
    e.previous = "connection_error";
    e.cause = "200 OK";
    e.at = 5001;
    return e;
}

std::vector<std::string> describe(const std::vector<json>& lines, size_t from = 0) {
    std::vector<std::string> out;
    for (size_t i = from; i < lines.size(); ++i) {
        const json& l = lines[i];
        if (l.contains("id"))
            out.push_back("answer " + l.at("id").dump());
        else if (l.at("event") == "presence")
            out.push_back(l.at("username").get<std::string>() + " " + l.at("state").get<std::string>());
        else
            out.push_back("connector " + l.at("status").get<std::string>());
    }
    return out;
}

}  // namespace

TEST_CASE("watch: the answer comes first, then one line per event, and requests still work", "[watch]") {
    Harness h;
    Peer peer(h.path);
    // A service that reports something while the watch is being set up.
    h.services.on_watch = [&](uint64_t) { h.services.emit(presence_event("alice", "ringing")); };
    peer.send("watch", {{"users", {"alice"}}}, 1);
    REQUIRE(h.pump_lines(peer, 2));
    CHECK(peer.lines[0] == json{{"v", 1}, {"id", 1}, {"ok", true}, {"result", {{"watching", {"alice"}}}}});
    CHECK(peer.lines[1] == json{{"event", "presence"},
                                {"username", "alice"},
                                {"kind", "telephony"},
                                {"state", "ringing"},
                                {"previous", "idle"},
                                {"source", "pbx"},
                                {"stale", false},
                                {"message", ""},
                                {"at", 5000}});
    CHECK(h.server->watcher_count() == 1);

    h.services.emit(presence_event("alice", "busy"));
    peer.send("status", json::object(), 2);
    REQUIRE(h.pump_lines(peer, 4));
    h.services.emit(connector_event("connected"));
    REQUIRE(h.pump_lines(peer, 5));
    CHECK(describe(peer.lines, 2) == std::vector<std::string>{"alice busy", "answer 2", "connector connected"});
    CHECK(peer.lines[3].at("result").at("pid").is_number());
}

TEST_CASE("watch: the events of one loop turn go out together, in order, before a later answer", "[watch]") {
    // Server::send_event coalesces a turn's events into one write; an answer
    // written after them never overtakes them.
    Harness h;
    Peer peer(h.path);
    peer.send("watch", json::object(), 1);
    REQUIRE(h.pump_lines(peer, 1));
    constexpr int kEvents = 200;
    for (int i = 0; i < kEvents; ++i) h.services.emit(presence_event("alice", i % 2 ? "busy" : "ringing"));
    peer.send("status", json::object(), 2);
    REQUIRE(h.pump_lines(peer, 1 + kEvents + 1));
    for (int i = 0; i < kEvents; ++i) REQUIRE(peer.lines[1 + i].at("state") == (i % 2 ? "busy" : "ringing"));
    CHECK(peer.lines[1 + kEvents].at("id") == 2);
}

TEST_CASE("watch: two watchers each get their events, none about users they did not name", "[watch]") {
    Harness h;
    Peer alice_only(h.path), everyone(h.path);
    alice_only.send("watch", {{"users", {"alice"}}}, 1);
    everyone.send("watch", json::object(), 1);
    REQUIRE(
        h.pump({&alice_only, &everyone}, [&] { return alice_only.lines.size() == 1 && everyone.lines.size() == 1; }));
    CHECK(h.services.watches.size() == 2);

    h.services.emit(presence_event("alice", "ringing"));
    h.services.emit(presence_event("bob", "busy"));
    h.services.emit(connector_event("connected"));  // the last line: everything before it has come
    REQUIRE(
        h.pump({&alice_only, &everyone}, [&] { return alice_only.lines.size() >= 3 && everyone.lines.size() >= 4; }));
    CHECK(describe(alice_only.lines, 1) == std::vector<std::string>{"alice ringing", "connector connected"});
    CHECK(describe(everyone.lines, 1) == std::vector<std::string>{"alice ringing", "bob busy", "connector connected"});
}

TEST_CASE("watch: a second watch replaces the first, a refused one changes nothing", "[watch]") {
    Harness h;
    Peer peer(h.path);
    peer.send("watch", {{"users", {"alice"}}}, 1);
    peer.send("watch", {{"users", {"bob"}}}, 2);
    REQUIRE(h.pump_lines(peer, 2));
    CHECK(h.services.unwatched == std::vector<uint64_t>{1});
    CHECK(h.services.watches.size() == 1);

    peer.send("watch", {{"users", {"carol"}}}, 3);  // no such user
    REQUIRE(h.pump_lines(peer, 3));
    CHECK(peer.lines[2].at("error").at("code") == "not_found");
    CHECK(h.services.unwatched == std::vector<uint64_t>{1});

    h.services.emit(presence_event("alice", "ringing"));
    h.services.emit(presence_event("bob", "busy"));
    h.services.emit(connector_event("connected"));
    REQUIRE(h.pump_lines(peer, 5));
    CHECK(describe(peer.lines, 3) == std::vector<std::string>{"bob busy", "connector connected"});
}

TEST_CASE("watch: a watcher that hangs up is unwatched", "[watch]") {
    Harness h;
    Peer peer(h.path), other(h.path);
    peer.send("watch", json::object(), 1);
    other.send("watch", json::object(), 1);
    REQUIRE(h.pump({&peer, &other}, [&] { return peer.lines.size() == 1 && other.lines.size() == 1; }));
    peer.hang_up();
    REQUIRE(h.pump({}, [&] { return h.server->client_count() == 1; }));
    CHECK(h.services.unwatched == std::vector<uint64_t>{1});
    CHECK(h.server->watcher_count() == 1);
    h.services.emit(connector_event("connected"));  // only the one left gets it
    REQUIRE(h.pump_lines(other, 2));
}

TEST_CASE("watch: stopping the server ends every watch", "[watch]") {
    Harness h;
    Peer a(h.path), b(h.path);
    a.send("watch", json::object(), 1);
    b.send("watch", {{"users", {"bob"}}}, 1);
    REQUIRE(h.pump({&a, &b}, [&] { return a.lines.size() == 1 && b.lines.size() == 1; }));
    h.server->stop();
    CHECK(h.services.watches.empty());
    CHECK(h.services.unwatched.size() == 2);
}

TEST_CASE("watch: a watcher that does not read is dropped at the cap, others are served", "[watch]") {
    Harness h;
    Peer slow(h.path), bystander(h.path);
    slow.send("watch", json::object(), 1);
    REQUIRE(h.pump_lines(slow, 1));
    const std::string big(1024, 'x');
    const size_t line_bytes = event_line(presence_event("alice", "busy", big)).size() + 1;
    // Emit until the server gives up on the watcher; the loop runs between
    // bursts, as it would between NOTIFYs, and slow never reads.
    size_t emitted = 0;
    constexpr size_t kBurst = 64;
    constexpr size_t kEnough = 4 * kMaxQueuedAnswerBytes;  // bytes: far beyond the cap with the socket buffers
    while (h.services.unwatched.empty() && emitted * line_bytes < kEnough) {
        for (size_t i = 0; i < kBurst; ++i, ++emitted) h.services.emit(presence_event("alice", "busy", big));
        uv_run(&h.loop, UV_RUN_NOWAIT);
    }
    INFO("emitted " << emitted << " events of " << line_bytes << " bytes");
    REQUIRE(h.services.unwatched == std::vector<uint64_t>{1});
    CHECK(emitted * line_bytes > kMaxQueuedAnswerBytes);  // not before the cap
    CHECK(h.services.unwatched_while_emitting == 0);      // never from inside the delivery
    REQUIRE(h.pump({}, [&] { return h.server->client_count() == 1; }));

    // The bystander is served; the dropped watcher gets whole lines, then the end.
    bystander.send("version", json::object(), 7);
    REQUIRE(h.pump_lines(bystander, 1));
    CHECK(bystander.lines[0].at("id") == 7);
    REQUIRE(h.pump({&slow}, [&] { return slow.closed; }));
    CHECK(slow.lines.size() > 1);
    CHECK(slow.lines.size() < emitted + 1);
    for (size_t i = 1; i < slow.lines.size(); ++i) REQUIRE(slow.lines[i].at("message") == big);
}
