// Inbound SIP against the real daemon over loopback: OPTIONS, NOTIFY with
// no subscription, unknown event packages, methods we refuse, malformed
// requests, retransmissions, TCP, the UDP source check, and the RFC 4475
// torture messages (the daemon must answer sensibly and never crash).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "support/daemon_fixture.hpp"
#include "support/kamailio.hpp"
#include "support/sip_peer.hpp"

using namespace presenced::test;

namespace {

constexpr int kAnswerMs = 3000;

// A daemon whose only connector points at server_ip (a closed port there,
// so its probes go nowhere but loopback); source_check trusts server_ip.
DaemonConfig config_with_server(const std::string& server_ip) {
    return {"", "[sip]\nlisten = \"127.0.0.1:0\"\nprobe_interval = 60\n[[connector]]\nname = \"lab\"\nserver = \"" +
                    server_ip + ":" + std::to_string(closed_port()) +
                    "\"\nuri = \"sip:watcher@127.0.0.1\"\nauth_id = \"watcher\"\ndomain = \"127.0.0.1\"\n"};
}

int sip_port(const DaemonFixture& d) {
    const std::string listen = d.result("status").at("sip_listen");
    return std::stoi(listen.substr(listen.rfind(':') + 1));
}

const std::string kOptions =
    "OPTIONS sip:presenced@127.0.0.1:{port} SIP/2.0\r\n"
    "Via: SIP/2.0/{T} 127.0.0.1:{peer};branch=z9hG4bK{branch};rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:probe@127.0.0.1>;tag=ft1\r\n"
    "To: <sip:presenced@127.0.0.1>\r\n"
    "Call-ID: {callid}@127.0.0.1\r\n"
    "CSeq: 7 OPTIONS\r\n"
    "{extra}"
    "Content-Length: 0\r\n\r\n";

const std::string kNotify =
    "NOTIFY sip:presenced@127.0.0.1:{port} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{peer};branch=z9hG4bK{branch}\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=server-tag\r\n"
    "To: <sip:watcher@127.0.0.1>;tag=our-tag\r\n"
    "Call-ID: {callid}\r\n"
    "CSeq: 2 NOTIFY\r\n"
    "{event}\r\n"
    "Subscription-State: active;expires=600\r\n"
    "Content-Length: 0\r\n\r\n";

std::string options(int port, const SipPeer& peer, const std::string& branch, const std::string& extra = "",
                    const std::string& transport = "UDP") {
    std::string m = fill(kOptions, "port", std::to_string(port));
    m = fill(m, "peer", std::to_string(peer.local_port()));
    m = fill(m, "branch", branch);
    m = fill(m, "callid", branch);
    m = fill(m, "T", transport);
    return fill(m, "extra", extra);
}

std::string notify(int port, const SipPeer& peer, const std::string& branch, const std::string& event) {
    std::string m = fill(kNotify, "port", std::to_string(port));
    m = fill(m, "peer", std::to_string(peer.local_port()));
    m = fill(m, "branch", branch);
    m = fill(m, "callid", "c-" + branch);
    return fill(m, "event", event);
}

std::string exchange(SipPeer& peer, int port, const std::string& request) {
    peer.send(port, request);
    auto answer = peer.receive(kAnswerMs);
    REQUIRE(answer.has_value());
    return *answer;
}

// What the daemon answers to each torture message sent to it over UDP
// (rfc-checklist §15, "ours"); 0 = silence. It serves only NOTIFY and
// OPTIONS: INVITE, REGISTER, MESSAGE get 405; unknown methods 501; unknown
// schemes 416; Require 420. Lenient accepts that RFC 4475 allows: baddate
// and regbadct (405: parsed, the defect is in a header we never use),
// badbranch (RFC 2543 matching), ipv6-bug-abnf-3-colons. mismatch02 gets 400
// (acceptable; 501 preferred). ipv6-in-sdp is sent as shipped, with a
// Content-Length longer than its CRLF body: 400, as clerr.
const std::map<std::string, int> kTortureAnswers = {
    {"wsinv.dat", 405},
    {"intmeth.dat", 501},
    {"esc01.dat", 405},
    {"escnull.dat", 405},
    {"esc02.dat", 501},
    {"lwsdisp.dat", 200},
    {"longreq.dat", 405},
    {"dblreq.dat", 405},
    {"semiuri.dat", 200},
    {"transports.dat", 200},
    {"mpart01.dat", 405},
    {"unreason.dat", 0},
    {"noreason.dat", 0},
    {"badinv01.dat", 400},
    {"clerr.dat", 400},
    {"ncl.dat", 400},
    {"scalar02.dat", 400},
    {"scalarlg.dat", 0},
    {"quotbal.dat", 400},
    {"ltgtruri.dat", 400},
    {"lwsruri.dat", 400},
    {"lwsstart.dat", 400},
    {"trws.dat", 400},
    {"escruri.dat", 400},
    {"baddate.dat", 405},
    {"regbadct.dat", 405},
    {"badaspec.dat", 400},
    {"baddn.dat", 400},
    {"badvers.dat", 505},
    {"mismatch01.dat", 400},
    {"mismatch02.dat", 400},
    {"bigcode.dat", 0},
    {"badbranch.dat", 200},
    {"insuf.dat", 400},
    {"unkscm.dat", 416},
    {"novelsc.dat", 416},
    {"unksm2.dat", 405},
    {"bext01.dat", 420},
    {"invut.dat", 405},
    {"regaut01.dat", 405},
    {"multi01.dat", 400},
    {"mcl01.dat", 400},
    {"bcast.dat", 0},
    {"zeromf.dat", 200},
    {"cparam01.dat", 405},
    {"cparam02.dat", 405},
    {"regescrt.dat", 405},
    {"sdp01.dat", 405},
    {"inv2543.dat", 405},
    {"test.dat", 0},
    {"ipv6-good", 405},
    {"ipv6-bad", 400},
    {"port-ambiguous", 405},
    {"port-unambiguous", 405},
    {"via-received-param-with-delim", 405},
    {"via-received-param-no-delim", 200},
    {"ipv6-in-sdp", 400},
    {"mult-ip-in-header", 405},
    {"mult-ip-in-sdp", 405},
    {"ipv4-mapped-ipv6", 405},
    {"ipv6-bug-abnf-3-colons", 200},
    {"ipv6-correct-abnf-2-colons", 200},
};

}  // namespace

TEST_CASE("OPTIONS is answered 200 with Allow and Accept, rport filled in", "[sip][peer]") {
    DaemonFixture d(config_with_server("127.0.0.1"));
    const int port = sip_port(d);
    SipPeer peer;
    const std::string r = exchange(peer, port, options(port, peer, "opt1"));
    CHECK(status_of(r) == 200);
    CHECK(header_of(r, "Allow") == "NOTIFY, OPTIONS");
    CHECK(header_of(r, "Accept").find("application/pidf+xml") != std::string::npos);
    CHECK(header_of(r, "To").find(";tag=") != std::string::npos);
    CHECK(header_of(r, "Via").find("rport=" + std::to_string(peer.local_port())) != std::string::npos);
    CHECK(header_of(r, "CSeq") == "7 OPTIONS");
    CHECK(header_of(r, "Content-Length") == "0");
}

TEST_CASE("a retransmitted request gets the same answer, byte for byte", "[sip][peer]") {
    DaemonFixture d(config_with_server("127.0.0.1"));
    const int port = sip_port(d);
    SipPeer peer;
    const std::string request = options(port, peer, "retx1");
    const std::string first = exchange(peer, port, request);
    const std::string second = exchange(peer, port, request);
    CHECK(first == second);
}

TEST_CASE("NOTIFY: no subscription is 481, an unknown package 489, compact Event understood", "[sip][peer]") {
    DaemonFixture d(config_with_server("127.0.0.1"));
    const int port = sip_port(d);
    SipPeer peer;
    CHECK(status_of(exchange(peer, port, notify(port, peer, "n1", "Event: presence"))) == 481);
    CHECK(status_of(exchange(peer, port, notify(port, peer, "n2", "Event: dialog;call-id=x"))) == 481);
    CHECK(status_of(exchange(peer, port, notify(port, peer, "n3", "o: presence"))) == 481);
    CHECK(status_of(exchange(peer, port, notify(port, peer, "n4", "Event: message-summary"))) == 489);
    CHECK(status_of(exchange(peer, port, notify(port, peer, "n5", "X-No-Event: 1"))) == 489);
    // RFC 4662 §4.4: list NOTIFYs require eventlist, which we support; anything else is a 420.
    CHECK(status_of(exchange(peer, port, notify(port, peer, "n6", "Event: presence\r\nRequire: eventlist"))) == 481);
    const std::string other =
        exchange(peer, port, notify(port, peer, "n7", "Event: presence\r\nRequire: eventlist, foo"));
    CHECK(status_of(other) == 420);
    CHECK(header_of(other, "Unsupported") == "foo");
}

TEST_CASE("methods we do not serve: 405 with Allow, 501, 416, 420, 481 for CANCEL", "[sip][peer]") {
    DaemonFixture d(config_with_server("127.0.0.1"));
    const int port = sip_port(d);
    SipPeer peer;
    auto with_method = [&](const std::string& method, const std::string& branch) {
        std::string m = options(port, peer, branch);
        m.replace(0, 7, method);
        const auto cseq = m.find("7 OPTIONS");
        m.replace(cseq, 9, "7 " + method);
        return m;
    };
    const std::string invite = exchange(peer, port, with_method("INVITE", "m1"));
    CHECK(status_of(invite) == 405);
    CHECK(header_of(invite, "Allow") == "NOTIFY, OPTIONS");
    CHECK(status_of(exchange(peer, port, with_method("SUBSCRIBE", "m2"))) == 405);
    CHECK(status_of(exchange(peer, port, with_method("FROBNICATE", "m3"))) == 501);
    CHECK(status_of(exchange(peer, port, with_method("CANCEL", "m4"))) == 481);
    std::string tel = options(port, peer, "m5");
    tel.replace(tel.find("sip:presenced@127.0.0.1:"), 3, "tel");
    CHECK(status_of(exchange(peer, port, tel)) == 416);
    const std::string ext = exchange(peer, port, options(port, peer, "m6", "Require: foo, bar\r\n"));
    CHECK(status_of(ext) == 420);
    CHECK(header_of(ext, "Unsupported") == "foo, bar");
    // OPTIONS may not require eventlist: it only applies to NOTIFY.
    CHECK(status_of(exchange(peer, port, options(port, peer, "m7", "Require: eventlist\r\n"))) == 420);
    CHECK(header_of(exchange(peer, port, options(port, peer, "m8")), "Supported") == "eventlist");
}

TEST_CASE("malformed requests: 400 when a response is possible, 505 for another version", "[sip][peer]") {
    DaemonFixture d(config_with_server("127.0.0.1"));
    const int port = sip_port(d);
    SipPeer peer;
    std::string no_callid = options(port, peer, "bad1");
    no_callid.erase(no_callid.find("Call-ID:"),
                    no_callid.find("\r\n", no_callid.find("Call-ID:")) + 2 - no_callid.find("Call-ID:"));
    CHECK(status_of(exchange(peer, port, no_callid)) == 400);
    std::string version = options(port, peer, "bad2");
    version.replace(version.find("SIP/2.0\r\n"), 7, "SIP/7.0");
    CHECK(status_of(exchange(peer, port, version)) == 505);
    // Nothing to answer to: silently dropped, and the daemon goes on.
    peer.send(port, "garbage\r\n\r\n");
    CHECK_FALSE(peer.receive(300).has_value());
    CHECK(status_of(exchange(peer, port, options(port, peer, "after"))) == 200);
}

TEST_CASE("OPTIONS over TCP is answered on the same connection", "[sip][peer]") {
    DaemonFixture d(config_with_server("127.0.0.1"));
    const int port = sip_port(d);
    SipPeer peer(true);
    const std::string r = exchange(peer, port, options(port, peer, "tcp1", "", "TCP"));
    CHECK(status_of(r) == 200);
    CHECK(status_of(exchange(peer, port, options(port, peer, "tcp2", "", "TCP"))) == 200);
}

TEST_CASE("source check: UDP requests from an address that is not a server are dropped", "[sip][peer]") {
    DaemonFixture d(config_with_server("127.0.0.2"));
    const int port = sip_port(d);
    SipPeer stranger;  // 127.0.0.1, not the configured 127.0.0.2
    stranger.send(port, options(port, stranger, "spoof1"));
    CHECK_FALSE(stranger.receive(1000).has_value());
    // Garbage from a stranger is dropped before any parsing: counted as
    // untrusted, never as unparsable.
    stranger.send(port, "OPTIONS garbage\r\n\r\n");
    CHECK_FALSE(stranger.receive(300).has_value());
    const json sip = d.result("status").at("sip");
    CHECK(sip.at("untrusted_dropped") == 2);
    CHECK(sip.at("unparsable") == 0);
    CHECK(sip.at("requests_received") == 0);
    SipPeer server(false, "127.0.0.2");
    CHECK(status_of(exchange(server, port, options(port, server, "real1"))) == 200);
    CHECK(d.result("status").at("sip").at("requests_received") == 1);

    SECTION("source_check = false answers everyone") {
        DaemonConfig open = config_with_server("127.0.0.2");
        open.body.insert(open.body.find("probe_interval"), "source_check = false\n");
        DaemonFixture d2(open);
        const int port2 = sip_port(d2);
        SipPeer anyone;
        CHECK(status_of(exchange(anyone, port2, options(port2, anyone, "open1"))) == 200);
    }
}

TEST_CASE("stray responses are ignored", "[sip][peer]") {
    DaemonFixture d(config_with_server("127.0.0.1"));
    const int port = sip_port(d);
    SipPeer peer;
    peer.send(port,
              "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnotours\r\nFrom: <sip:a@b>;tag=1\r\n"
              "To: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    CHECK_FALSE(peer.receive(300).has_value());
    CHECK(status_of(exchange(peer, port, options(port, peer, "alive"))) == 200);
}

TEST_CASE("every RFC 4475 and 5118 torture message gets its answer, or silence, never a crash",
          "[sip][peer][torture]") {
    namespace fs = std::filesystem;
    const fs::path root = fs::path(PROJECT_SOURCE_DIR) / ".." / "shared" / "torture";
    REQUIRE(fs::exists(root / "expectations.tsv"));
    DaemonConfig open = config_with_server("127.0.0.1");
    open.body.insert(open.body.find("probe_interval"), "source_check = false\n");
    DaemonFixture d(open);
    const int port = sip_port(d);
    SipPeer peer;
    int sent = 0;
    for (const char* dir : {"rfc4475", "rfc5118"}) {
        for (const auto& entry : fs::directory_iterator(root / dir)) {
            std::ifstream in(entry.path(), std::ios::binary);
            std::ostringstream s;
            s << in.rdbuf();
            std::string bytes = s.str();
            if (std::string(dir) == "rfc5118") {  // stored with LF line ends (torture/README.md)
                std::string crlf;
                for (char c : bytes) {
                    if (c == '\n' && (crlf.empty() || crlf.back() != '\r')) crlf += '\r';
                    crlf += c;
                }
                bytes = crlf;
            }
            INFO(entry.path().filename().string());
            peer.send(port, bytes);
            const std::string name = entry.path().filename().string();
            REQUIRE(kTortureAnswers.count(name) == 1);
            const int expected = kTortureAnswers.at(name);
            // Silence can only be told from a late answer by waiting; answers come in well under a second.
            const auto answer = peer.receive(expected == 0 ? 300 : kAnswerMs);
            CHECK((answer ? status_of(*answer) : 0) == expected);
            ++sent;
        }
    }
    CHECK(sent == static_cast<int>(kTortureAnswers.size()));
    CHECK(status_of(exchange(peer, port, options(port, peer, "survived"))) == 200);
    CHECK(d.running());
}

TEST_CASE("TCP: a request without Content-Length gets a 400, then the connection closes", "[sip][peer]") {
    DaemonFixture d(config_with_server("127.0.0.1"));
    const int port = sip_port(d);
    SipPeer peer(true);
    std::string request = options(port, peer, "nocl", "", "TCP");
    request.erase(request.find("Content-Length: 0\r\n"), 19);  // RFC 3261 §18.3: mandatory on streams
    const std::string answer = exchange(peer, port, request);
    CHECK(status_of(answer) == 400);
    CHECK(header_of(answer, "Call-ID") == "nocl@127.0.0.1");
    CHECK_FALSE(peer.receive(2000).has_value());  // closed: framing cannot be trusted any more
    SipPeer again(true);
    CHECK(status_of(exchange(again, port, options(port, again, "fresh", "", "TCP"))) == 200);
}
