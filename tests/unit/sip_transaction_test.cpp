// Non-INVITE transactions (sip/transaction) on the virtual clock: the exact
// Timer E schedule, Timer F/K, reliable transports, destruction inside
// callbacks, and the server table (absorb, replay byte-identical, Timer J,
// RFC 2543 matching, bound).
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ev/clock.hpp"
#include "sip/message.hpp"
#include "sip/transaction.hpp"

using namespace presenced;
using namespace presenced::sip;

namespace {

constexpr uint64_t kStart = 1'000'000;  // VirtualClock's default origin

Message parse(const std::string& text) {
    auto m = Message::parse(text);
    if (!m) FAIL("parse failed: " << m.error().code << ": " << m.error().message << "\n" << text);
    return std::move(*m);
}

// A response to our SUBSCRIBE (or another method), as the notifier sends it.
std::string response_text(int code, const std::string& reason, const std::string& branch = "z9hG4bKcli1",
                          const std::string& method = "SUBSCRIBE") {
    return "SIP/2.0 " + std::to_string(code) + " " + reason +
           "\r\n"
           "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=" +
           branch +
           ";rport=5060\r\n"
           "From: <sip:presenced@192.0.2.10>;tag=ftag1\r\n"
           "To: <sip:alice@example.com>" +
           (code > 100 ? ";tag=ttag1" : "") +
           "\r\n"
           "Call-ID: call1@192.0.2.10\r\n"
           "CSeq: 1 " +
           method +
           "\r\n"
           "Content-Length: 0\r\n"
           "\r\n";
}

const std::string kRequestBytes =
    "SUBSCRIBE sip:alice@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKcli1;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:presenced@192.0.2.10>;tag=ftag1\r\n"
    "To: <sip:alice@example.com>\r\n"
    "Call-ID: call1@192.0.2.10\r\n"
    "CSeq: 1 SUBSCRIBE\r\n"
    "Event: presence\r\n"
    "Expires: 3600\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

// One client transaction with every callback recorded.
struct Client {
    ev::VirtualClock clock;
    std::vector<uint64_t> sends;  // ms since kStart
    std::vector<std::string> sent_bytes;
    int done_calls = 0;
    std::optional<ClientOutcome> outcome;
    int status = 0;
    bool had_message = false;
    uint64_t done_at = 0;
    int terminated_calls = 0;
    uint64_t terminated_at = 0;
    std::unique_ptr<ClientTransaction> tx;

    explicit Client(TimerValues timers = {}, bool reliable = false, std::string method = "SUBSCRIBE") : clock(kStart) {
        tx = std::make_unique<ClientTransaction>(
            clock, timers, reliable, "z9hG4bKcli1", std::move(method), kRequestBytes,
            [this](const std::string& bytes) {
                sends.push_back(clock.now_ms() - kStart);
                sent_bytes.push_back(bytes);
            },
            [this](ClientOutcome o, const Message* response) {
                ++done_calls;
                outcome = o;
                had_message = response != nullptr;
                if (response) status = response->status_code();
                done_at = clock.now_ms() - kStart;
            });
        tx->set_terminated_handler([this] {
            ++terminated_calls;
            terminated_at = clock.now_ms() - kStart;
        });
    }
    uint64_t elapsed() const { return clock.now_ms() - kStart; }
    void respond(int code, const std::string& reason) { tx->on_response(parse(response_text(code, reason))); }
};

using State = ClientTransaction::State;

}  // namespace

TEST_CASE("client UDP: exact Timer E schedule, Timer F at 32 s, done(timeout) once", "[transaction][client]") {
    Client c;  // T1 = 500 ms, T2 = 4 s
    CHECK(c.tx->state() == State::calling);
    CHECK(c.sends.empty());
    c.tx->start();
    CHECK(c.tx->state() == State::trying);
    CHECK(c.sends == std::vector<uint64_t>{0});

    c.clock.advance(31'999);
    CHECK(c.sends == std::vector<uint64_t>{0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500});
    CHECK(c.tx->retransmissions() == 10);
    CHECK(c.done_calls == 0);
    CHECK(c.tx->state() == State::trying);
    for (const auto& b : c.sent_bytes) CHECK(b == kRequestBytes);

    c.clock.advance(1);  // 32 s = 64*T1
    CHECK(c.done_calls == 1);
    CHECK(c.outcome == ClientOutcome::timeout);
    CHECK_FALSE(c.had_message);
    CHECK(c.done_at == 32'000);
    CHECK(c.tx->state() == State::terminated);
    CHECK(c.terminated_calls == 1);
    CHECK(c.clock.pending() == 0);  // no timer left behind

    c.clock.advance(600'000);
    CHECK(c.sends.size() == 11);
    CHECK(c.done_calls == 1);
    c.tx->start();  // a second start() does nothing
    CHECK(c.sends.size() == 11);
}

TEST_CASE("client UDP: T1 = 100 ms scales E and F (F = 6.4 s)", "[transaction][client]") {
    Client c(TimerValues{100, 4000, 5000});
    c.tx->start();
    c.clock.advance(6'399);
    // E doubles 100, 200, 400, 800, 1600, 3200, then would cap at T2 = 4 s.
    CHECK(c.sends == std::vector<uint64_t>{0, 100, 300, 700, 1500, 3100, 6300});
    CHECK(c.done_calls == 0);
    c.clock.advance(1);
    CHECK(c.done_calls == 1);
    CHECK(c.outcome == ClientOutcome::timeout);
    CHECK(c.done_at == 6'400);
    c.clock.advance(100'000);
    CHECK(c.sends.size() == 7);
    CHECK(c.done_calls == 1);
}

TEST_CASE("client UDP: a smaller T2 caps E earlier", "[transaction][client]") {
    Client c(TimerValues{500, 1000, 5000});
    c.tx->start();
    c.clock.advance(5'000);
    CHECK(c.sends == std::vector<uint64_t>{0, 500, 1500, 2500, 3500, 4500});
}

TEST_CASE("client reliable: one send, no Timer E, Timer F still fires", "[transaction][client]") {
    Client c(TimerValues{}, /*reliable=*/true);
    c.tx->start();
    c.clock.advance(31'999);
    CHECK(c.sends == std::vector<uint64_t>{0});
    CHECK(c.tx->retransmissions() == 0);
    CHECK(c.done_calls == 0);
    c.clock.advance(1);
    CHECK(c.done_calls == 1);
    CHECK(c.outcome == ClientOutcome::timeout);
    CHECK(c.done_at == 32'000);
    CHECK(c.tx->state() == State::terminated);
    CHECK(c.clock.pending() == 0);
}

TEST_CASE("client reliable: a final response terminates at once (K = 0)", "[transaction][client]") {
    Client c(TimerValues{}, /*reliable=*/true);
    c.tx->start();
    c.clock.advance(200);
    c.respond(200, "OK");
    CHECK(c.done_calls == 1);
    CHECK(c.status == 200);
    CHECK(c.tx->state() == State::terminated);
    CHECK(c.terminated_calls == 1);
    CHECK(c.clock.pending() == 0);
    c.respond(200, "OK");
    CHECK(c.done_calls == 1);
}

TEST_CASE("client UDP: 1xx -> Proceeding, E every T2, then final -> Completed", "[transaction][client]") {
    Client c;
    c.tx->start();
    c.clock.advance(700);  // sends at 0 and 500; E next due at 1500
    c.respond(100, "Trying");
    CHECK(c.tx->state() == State::proceeding);
    CHECK(c.done_calls == 0);  // no TU action on 1xx for non-INVITE
    c.respond(180, "Ringing");
    CHECK(c.tx->state() == State::proceeding);

    c.clock.advance(10'000 - 700);
    // §17.1.2.2: in Proceeding E is reset to T2 each time it fires.
    CHECK(c.sends == std::vector<uint64_t>{0, 500, 1500, 5500, 9500});

    c.respond(202, "Accepted");
    CHECK(c.done_calls == 1);
    CHECK(c.outcome == ClientOutcome::response);
    CHECK(c.had_message);
    CHECK(c.status == 202);
    CHECK(c.tx->state() == State::completed);

    // Timer K = T4 = 5 s, then Terminated; no retransmission in between.
    c.clock.advance(4'999);
    CHECK(c.tx->state() == State::completed);
    CHECK(c.terminated_calls == 0);
    c.clock.advance(1);
    CHECK(c.tx->state() == State::terminated);
    CHECK(c.terminated_calls == 1);
    CHECK(c.terminated_at == 15'000);
    c.clock.advance(100'000);
    CHECK(c.sends.size() == 5);
    CHECK(c.done_calls == 1);
    CHECK(c.clock.pending() == 0);
}

TEST_CASE("client UDP: a final response stops retransmissions and Timer F", "[transaction][client]") {
    Client c;
    c.tx->start();
    c.clock.advance(600);
    c.respond(200, "OK");
    CHECK(c.done_calls == 1);
    CHECK(c.done_at == 600);
    CHECK(c.clock.pending() == 1);  // only Timer K
    c.clock.advance(100'000);
    CHECK(c.sends == std::vector<uint64_t>{0, 500});
    CHECK(c.done_calls == 1);  // Timer F never fires after Completed
    CHECK(c.outcome == ClientOutcome::response);
    CHECK(c.tx->state() == State::terminated);
}

TEST_CASE("client UDP: response retransmissions absorbed during K, done once", "[transaction][client]") {
    Client c;
    c.tx->start();
    c.clock.advance(100);
    c.respond(404, "Not Found");
    CHECK(c.done_calls == 1);
    CHECK(c.status == 404);

    c.clock.advance(1'000);
    c.respond(404, "Not Found");  // retransmission
    c.respond(200, "OK");         // a different final: still absorbed
    c.respond(100, "Trying");     // a late provisional changes nothing
    CHECK(c.done_calls == 1);
    CHECK(c.status == 404);
    CHECK(c.tx->state() == State::completed);
    c.tx->on_transport_error();  // too late to matter
    CHECK(c.done_calls == 1);
    CHECK(c.outcome == ClientOutcome::response);

    c.clock.advance(4'000);  // K = 5 s from the first final at 100 ms
    CHECK(c.tx->state() == State::terminated);
    c.respond(200, "OK");
    CHECK(c.done_calls == 1);
    CHECK(c.sends.size() == 1);
}

TEST_CASE("client: several finals at once call done exactly once", "[transaction][client]") {
    Client c(TimerValues{}, /*reliable=*/false);
    c.tx->start();
    for (int i = 0; i < 5; ++i) c.respond(200 + i, "OK");
    CHECK(c.done_calls == 1);
    CHECK(c.status == 200);
    c.clock.advance(600'000);
    CHECK(c.done_calls == 1);
    CHECK(c.terminated_calls == 1);
}

TEST_CASE("client: transport error ends the transaction once", "[transaction][client]") {
    Client c;
    c.tx->start();
    c.clock.advance(1'600);  // sends at 0, 500, 1500
    c.tx->on_transport_error();
    CHECK(c.done_calls == 1);
    CHECK(c.outcome == ClientOutcome::transport_error);
    CHECK_FALSE(c.had_message);
    CHECK(c.tx->state() == State::terminated);
    CHECK(c.terminated_calls == 1);
    CHECK(c.clock.pending() == 0);
    c.tx->on_transport_error();
    c.respond(200, "OK");
    c.clock.advance(100'000);
    CHECK(c.done_calls == 1);
    CHECK(c.sends.size() == 3);
}

TEST_CASE("client: a transport error reported inside Send is delivered after it", "[transaction][client]") {
    ev::VirtualClock clock;
    std::unique_ptr<ClientTransaction> tx;
    int done_calls = 0;
    bool inside_send = false, done_inside_send = false;
    tx = std::make_unique<ClientTransaction>(
        clock, TimerValues{}, false, "z9hG4bKcli1", "SUBSCRIBE", kRequestBytes,
        [&](const std::string&) {
            inside_send = true;
            tx->on_transport_error();  // e.g. uv_udp_try_send failed synchronously
            inside_send = false;
        },
        [&](ClientOutcome o, const Message*) {
            ++done_calls;
            done_inside_send = inside_send;
            CHECK(o == ClientOutcome::transport_error);
            tx.reset();  // the owner reaps it at once
        });
    tx->start();
    CHECK(done_calls == 1);
    CHECK_FALSE(done_inside_send);
    CHECK(tx == nullptr);
    CHECK(clock.pending() == 0);
    clock.advance(100'000);
    CHECK(done_calls == 1);
}

TEST_CASE("client: responses for another branch or method are ignored", "[transaction][client]") {
    Client c;
    c.tx->start();
    c.tx->on_response(parse(response_text(200, "OK", "z9hG4bKother")));
    c.tx->on_response(parse(response_text(200, "OK", "z9hG4bKcli1", "OPTIONS")));
    CHECK(c.done_calls == 0);
    CHECK(c.tx->state() == State::trying);
    c.tx->on_response(parse(response_text(200, "OK", "z9hG4bKcli1", "SUBSCRIBE")));
    CHECK(c.done_calls == 1);
}

TEST_CASE("client: a response before start() is ignored", "[transaction][client]") {
    Client c;
    c.respond(200, "OK");
    c.tx->on_transport_error();
    CHECK(c.done_calls == 0);
    CHECK(c.tx->state() == State::calling);
}

TEST_CASE("client: destroying the transaction inside done is safe", "[transaction][client]") {
    for (const char* how : {"final-udp", "final-reliable", "timeout", "transport-error"}) {
        SECTION(how) {
            const std::string h = how;
            ev::VirtualClock clock;
            int sends = 0, done_calls = 0, terminated_calls = 0, after_reset = 0;
            std::unique_ptr<ClientTransaction> tx;
            tx = std::make_unique<ClientTransaction>(
                clock, TimerValues{}, h == "final-reliable", "z9hG4bKcli1", "SUBSCRIBE", kRequestBytes,
                [&](const std::string&) { ++sends; },
                [&](ClientOutcome, const Message* response) {
                    ++done_calls;
                    if (response) CHECK(response->status_code() == 200);  // still valid inside done
                    // The TU forgets the transaction right here; the callback's
                    // own captures must stay alive after that (the transaction
                    // must not run Done out of the member it just destroyed).
                    tx.reset();
                    ++after_reset;
                });
            tx->set_terminated_handler([&] { ++terminated_calls; });
            tx->start();
            clock.advance(1'000);
            if (h == "final-udp" || h == "final-reliable") {
                const Message ok = parse(response_text(200, "OK"));
                tx->on_response(ok);
            } else if (h == "timeout") {
                clock.advance(31'000);
            } else {
                tx->on_transport_error();
            }
            CHECK(tx == nullptr);
            CHECK(done_calls == 1);
            CHECK(after_reset == 1);
            CHECK(terminated_calls == 0);  // gone before Terminated could be reported
            CHECK(clock.pending() == 0);   // the destructor cancelled every timer
            const int sent = sends;
            clock.advance(600'000);  // nothing fires on freed memory (ASan)
            CHECK(sends == sent);
            CHECK(done_calls == 1);
        }
    }
}

TEST_CASE("client: destroying the transaction in the terminated handler is safe", "[transaction][client]") {
    ev::VirtualClock clock;
    int done_calls = 0, terminated_calls = 0;
    std::unique_ptr<ClientTransaction> tx;
    tx = std::make_unique<ClientTransaction>(
        clock, TimerValues{}, false, "z9hG4bKcli1", "SUBSCRIBE", kRequestBytes, [](const std::string&) {},
        [&](ClientOutcome, const Message*) { ++done_calls; });
    tx->set_terminated_handler([&] {
        ++terminated_calls;
        tx.reset();
    });
    tx->start();
    tx->on_response(parse(response_text(200, "OK")));
    CHECK(done_calls == 1);
    CHECK(tx != nullptr);  // Completed, waiting for Timer K
    clock.advance(5'000);
    CHECK(terminated_calls == 1);
    CHECK(tx == nullptr);
    CHECK(clock.pending() == 0);
}

TEST_CASE("client: the destructor cancels its timers", "[transaction][client]") {
    Client c;
    c.tx->start();
    CHECK(c.clock.pending() == 2);  // E and F
    c.clock.advance(700);
    c.tx.reset();
    CHECK(c.clock.pending() == 0);
    c.clock.advance(100'000);
    CHECK(c.sends.size() == 2);
    CHECK(c.done_calls == 0);
}

// ---------------------------------------------------------------------------
// Server transactions

namespace {

struct Req {
    std::string method = "NOTIFY";
    std::string ruri = "sip:presenced@192.0.2.10:5060";
    std::string via_host = "198.51.100.7";
    std::string via_port = "5060";
    std::string branch = "z9hG4bKsrv1";  // "" = no branch parameter
    std::string from_tag = "nfrom1";
    std::string to_tag = "sub1";
    std::string call_id = "dlg1@192.0.2.10";
    uint32_t cseq = 7;

    std::string text() const {
        std::string via = "SIP/2.0/UDP " + via_host + (via_port.empty() ? "" : ":" + via_port);
        if (!branch.empty()) via += ";branch=" + branch;
        std::string body = method == "NOTIFY" ? "<presence/>" : "";
        std::string t = method + " " + ruri + " SIP/2.0\r\n";
        t += "Via: " + via + "\r\n";
        t += "Max-Forwards: 70\r\n";
        t += "From: <sip:alice@example.com>;tag=" + from_tag + "\r\n";
        t += "To: <sip:presenced@192.0.2.10>" + (to_tag.empty() ? std::string() : ";tag=" + to_tag) + "\r\n";
        t += "Call-ID: " + call_id + "\r\n";
        t += "CSeq: " + std::to_string(cseq) + " " + method + "\r\n";
        if (method == "NOTIFY") {
            t += "Event: presence\r\nSubscription-State: active;expires=3600\r\n";
            t += "Content-Type: application/pidf+xml\r\n";
        }
        t += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        return t;
    }
    Message msg() const { return parse(text()); }
};

using Seen = ServerTransactions::Seen;

// receive() with the resent bytes captured.
struct Server {
    ev::VirtualClock clock;
    ServerTransactions st;
    std::vector<std::string> resent;
    explicit Server(TimerValues timers = {}, size_t max_entries = ServerTransactions::kDefaultMaxEntries)
        : clock(kStart), st(clock, timers, max_entries) {}
    // The stored answer is built again from the retransmitted request, as the endpoint does.
    Seen receive(const Req& r, bool reliable = false) {
        const Message m = r.msg();
        return st.receive(m, reliable, [&](const ServerTransactions::Answer& a) {
            resent.push_back(m.make_response(a.code, a.reason, "", a.extra));
        });
    }
    std::string answer(const Req& r, bool reliable = false, int code = 200) {
        const Message m = r.msg();
        const std::string reason = code == 200 ? "OK" : "Error";
        st.respond(m, {code, reason, {}}, reliable);
        return m.make_response(code, reason, "", {});
    }
};

}  // namespace

TEST_CASE("server UDP: absorb before the answer, replay it byte-identical after, fresh after Timer J",
          "[transaction][server]") {
    Server s;
    Req r;
    CHECK(s.receive(r) == Seen::fresh);
    CHECK(s.st.size() == 1);
    CHECK(s.receive(r) == Seen::retransmission_pending);  // §17.2.2 Trying: absorbed
    CHECK(s.resent.empty());

    s.clock.advance(300);
    const std::string bytes = s.answer(r);
    REQUIRE_FALSE(bytes.empty());
    CHECK(s.st.size() == 1);

    s.clock.advance(10'000);
    CHECK(s.receive(r) == Seen::retransmission_answered);
    CHECK(s.receive(r) == Seen::retransmission_answered);
    REQUIRE(s.resent.size() == 2);
    CHECK(s.resent[0] == bytes);  // the same bytes, same To tag
    CHECK(s.resent[1] == bytes);

    // A second answer from a confused TU does not replace the first.
    s.st.respond(r.msg(), {500, "Other", {}}, false);
    CHECK(s.receive(r) == Seen::retransmission_answered);
    CHECK(s.resent.back() == bytes);

    // Timer J = 64*T1 = 32 s from the answer (at 300 ms).
    s.clock.advance(32'300 - 10'300 - 1);
    CHECK(s.st.size() == 1);
    s.clock.advance(1);
    CHECK(s.st.size() == 0);
    CHECK(s.clock.pending() == 0);
    const size_t before = s.resent.size();
    CHECK(s.receive(r) == Seen::fresh);
    CHECK(s.resent.size() == before);
}

TEST_CASE("server: Timer J scales with T1", "[transaction][server]") {
    Server s(TimerValues{100, 4000, 5000});
    Req r;
    CHECK(s.receive(r) == Seen::fresh);
    s.answer(r);
    s.clock.advance(6'399);
    CHECK(s.receive(r) == Seen::retransmission_answered);
    s.clock.advance(1);
    CHECK(s.st.size() == 0);
}

TEST_CASE("server reliable: entries are not kept after the answer", "[transaction][server]") {
    Server s;
    Req r;
    r.branch = "z9hG4bKtcp1";
    CHECK(s.receive(r, true) == Seen::fresh);
    CHECK(s.receive(r, true) == Seen::retransmission_pending);
    s.answer(r, /*reliable=*/true);
    CHECK(s.st.size() == 0);
    CHECK(s.clock.pending() == 0);
    CHECK(s.receive(r, true) == Seen::fresh);
    CHECK(s.resent.empty());
}

TEST_CASE("server: an unanswered entry expires after 64*T1", "[transaction][server]") {
    Server s;
    Req r;
    CHECK(s.receive(r) == Seen::fresh);
    s.clock.advance(31'999);
    CHECK(s.receive(r) == Seen::retransmission_pending);
    s.clock.advance(1);
    CHECK(s.st.size() == 0);
    CHECK(s.receive(r) == Seen::fresh);
}

TEST_CASE("server: branch + sent-by + method identify the transaction", "[transaction][server]") {
    Server s;
    Req notify;
    CHECK(s.receive(notify) == Seen::fresh);

    SECTION("the same branch with another method is another transaction") {
        Req options = notify;
        options.method = "OPTIONS";
        CHECK(s.receive(options) == Seen::fresh);
        CHECK(s.st.size() == 2);
        const std::string ok = s.answer(options);
        CHECK(s.receive(notify) == Seen::retransmission_pending);  // still unanswered
        CHECK(s.receive(options) == Seen::retransmission_answered);
        CHECK(s.resent == std::vector<std::string>{ok});
    }
    SECTION("the same branch from another sent-by is another transaction") {
        Req other = notify;
        other.via_host = "198.51.100.8";
        CHECK(s.receive(other) == Seen::fresh);
        Req other_port = notify;
        other_port.via_port = "5070";
        CHECK(s.receive(other_port) == Seen::fresh);
        CHECK(s.st.size() == 3);
    }
    SECTION("another branch is another transaction") {
        Req next = notify;
        next.branch = "z9hG4bKsrv2";
        CHECK(s.receive(next) == Seen::fresh);
    }
    SECTION("with the cookie, only branch, sent-by and method count") {
        Req same = notify;
        same.cseq = 8;  // nonsense for a retransmission, but not part of the key
        same.from_tag = "x";
        CHECK(s.receive(same) == Seen::retransmission_pending);
    }
}

TEST_CASE("server: sent-by host names compare case-insensitively", "[transaction][server]") {
    Server s;
    Req a;
    a.via_host = "Notifier.Example.COM";
    Req b = a;
    b.via_host = "notifier.example.com";
    CHECK(s.receive(a) == Seen::fresh);
    CHECK(s.receive(b) == Seen::retransmission_pending);
    CHECK(ServerTransactions::key_of(a.msg()) == ServerTransactions::key_of(b.msg()));
}

TEST_CASE("server: RFC 2543 matching without the magic cookie", "[transaction][server]") {
    Server s;
    Req old;
    old.branch = "1a2b3c";  // an RFC 2543 peer
    CHECK(s.receive(old) == Seen::fresh);
    CHECK(s.receive(old) == Seen::retransmission_pending);
    const std::string ok = s.answer(old);
    CHECK(s.receive(old) == Seen::retransmission_answered);
    CHECK(s.resent == std::vector<std::string>{ok});

    // Any difference in R-URI, tags, Call-ID, CSeq or the top Via: a new one.
    Req v = old;
    v.ruri = "sip:other@192.0.2.10";
    CHECK(s.receive(v) == Seen::fresh);
    v = old;
    v.from_tag = "nfrom2";
    CHECK(s.receive(v) == Seen::fresh);
    v = old;
    v.to_tag = "sub2";
    CHECK(s.receive(v) == Seen::fresh);
    v = old;
    v.call_id = "dlg2@192.0.2.10";
    CHECK(s.receive(v) == Seen::fresh);
    v = old;
    v.cseq = 8;
    CHECK(s.receive(v) == Seen::fresh);
    v = old;
    v.branch = "1a2b3d";  // part of the top Via
    CHECK(s.receive(v) == Seen::fresh);
    v = old;
    v.via_port = "5070";
    CHECK(s.receive(v) == Seen::fresh);
    CHECK(s.st.size() == 8);

    // No branch at all is matched the same way.
    Req none = old;
    none.branch = "";
    CHECK(s.receive(none) == Seen::fresh);
    CHECK(s.receive(none) == Seen::retransmission_pending);

    // A bare cookie is not an RFC 3261 branch either: the full rule applies.
    Req bare = old;
    bare.branch = "z9hG4bK";
    CHECK(s.receive(bare) == Seen::fresh);
    Req bare2 = bare;
    bare2.cseq = 9;
    CHECK(s.receive(bare2) == Seen::fresh);
}

TEST_CASE("server: the table is bounded, overflow is fresh and not stored", "[transaction][server]") {
    Server s(TimerValues{}, 3);
    std::vector<Req> reqs(5);
    for (size_t i = 0; i < reqs.size(); ++i) reqs[i].branch = "z9hG4bKflood" + std::to_string(i);
    for (size_t i = 0; i < 3; ++i) CHECK(s.receive(reqs[i]) == Seen::fresh);
    CHECK(s.st.size() == 3);
    CHECK(s.st.overflows() == 0);

    CHECK(s.receive(reqs[3]) == Seen::fresh);
    CHECK(s.st.size() == 3);
    CHECK(s.st.overflows() == 1);
    // Not stored: its retransmission reaches the TU again, its answer is not kept.
    CHECK(s.receive(reqs[3]) == Seen::fresh);
    s.answer(reqs[3]);
    CHECK(s.st.size() == 3);
    CHECK(s.receive(reqs[3]) == Seen::fresh);
    CHECK(s.resent.empty());
    CHECK(s.st.overflows() == 3);

    // Stored ones still behave, and room comes back when they expire.
    s.answer(reqs[0]);
    CHECK(s.receive(reqs[0]) == Seen::retransmission_answered);
    s.clock.advance(32'000);
    CHECK(s.st.size() == 0);
    CHECK(s.receive(reqs[4]) == Seen::fresh);
    CHECK(s.st.size() == 1);
    CHECK(s.receive(reqs[4]) == Seen::retransmission_pending);
}

TEST_CASE("server: the default bound is 100000 entries", "[transaction][server]") {
    CHECK(ServerTransactions::kDefaultMaxEntries == 100'000);
}

TEST_CASE("server: the destructor cancels every timer", "[transaction][server]") {
    ev::VirtualClock clock;
    {
        ServerTransactions st(clock, TimerValues{});
        Req a, b;
        b.branch = "z9hG4bKsrv2";
        st.receive(a.msg(), false, nullptr);
        st.receive(b.msg(), false, nullptr);
        const Message m = a.msg();
        st.respond(m, {200, "OK", {}}, false);
        CHECK(clock.pending() == 1);  // one timer for the whole table
    }
    CHECK(clock.pending() == 0);
    clock.advance(100'000);  // nothing fires on the destroyed table (ASan)
}

TEST_CASE("server: one clock timer serves any number of entries, each expiring 64*T1 after its last change",
          "[transaction][server]") {
    // No timer per NOTIFY: entries are kept in expiry order (ServerTransactions).
    Server s;
    std::vector<Req> reqs(1000);
    for (size_t i = 0; i < reqs.size(); ++i) {
        reqs[i].branch = "z9hG4bKmany" + std::to_string(i);
        CHECK(s.receive(reqs[i]) == Seen::fresh);
        s.clock.advance(10);  // received 10 ms apart
    }
    CHECK(s.clock.pending() == 1);
    s.answer(reqs[0]);  // answered at 10 s: Timer J from now, it moves to the back
    CHECK(s.clock.pending() == 1);
    // The unanswered ones expire 32 s after their arrival, one by one.
    s.clock.advance(32'000 - 10'000 + 10 * 5);  // at 32.05 s: the first six arrivals' deadlines
    CHECK(s.st.size() == 1000 - 5);             // 0 was answered and lives on; 1..5 are gone
    CHECK(s.receive(reqs[0]) == Seen::retransmission_answered);
    CHECK(s.receive(reqs[1]) == Seen::fresh);  // expired: a new transaction
    s.clock.advance(100'000);
    CHECK(s.st.size() == 0);
    CHECK(s.clock.pending() == 0);
}
