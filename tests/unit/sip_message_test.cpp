// sip/message: parsing real peer messages (Kamailio lab), every accessor,
// compact and case-insensitive names, responses (RFC 3261 §8.2.6.2),
// requests we build (round trip through our own parser), and the limits and
// integer rules of rfc-checklist 16.6 and 16.14.
#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sip/message.hpp"
#include "util/text.hpp"

using namespace presenced::sip;

namespace {

// Joins lines with CRLF and ends the header block with an empty line.
std::string sip(std::initializer_list<std::string_view> lines, std::string_view body = {}) {
    std::string out;
    for (auto line : lines) {
        out += line;
        out += "\r\n";
    }
    out += "\r\n";
    out += body;
    return out;
}

// Parses from an exact-size heap copy, so ASan sees any read past the end.
presenced::util::Result<Message> parse_exact(std::string_view bytes) {
    auto copy = std::make_unique<char[]>(bytes.size() + 1);
    std::memcpy(copy.get(), bytes.data(), bytes.size());
    return Message::parse(std::string_view(copy.get(), bytes.size()));
}

Message must_parse(std::string_view bytes) {
    auto r = parse_exact(bytes);
    INFO(std::string(bytes));
    if (!r) FAIL("parse failed: " << r.error().code << ": " << r.error().message);
    return std::move(*r);
}

std::string error_code(std::string_view bytes) {
    auto r = parse_exact(bytes);
    if (r) return "ok";
    CHECK_FALSE(presenced::util::has_control(r.error().message));  // escaped for logs
    return r.error().code;
}

// The PIDF body of the lab's first NOTIFY (shared/lab/kamailio/README.md).
const std::string kPidf =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
    "xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"sip:alice@127.0.0.1\">\n"
    "<tuple id=\"tuple-alice\">\n"
    "<status><basic>open</basic></status>\n"
    "<contact>sip:alice@127.0.0.1</contact>\n"
    "<note>On the phone</note>\n"
    "</tuple>\n"
    "<dm:person id=\"person-alice\">\n"
    "<rpid:activities><rpid:on-the-phone/></rpid:activities>\n"
    "<dm:note>On the phone</dm:note>\n"
    "</dm:person>\n"
    "</presence>\n";

// Kamailio 5.6.3's NOTIFY, header order as observed.
std::string kamailio_notify(const std::string& body = kPidf) {
    const std::string cl = "Content-Length: " + std::to_string(body.size());
    return sip({"NOTIFY sip:watcher@127.0.0.1:37645;transport=UDP SIP/2.0",
                "Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK8c5b.97b55100000000000000000000000000.0",
                "To: <sip:watcher@127.0.0.1>;tag=19271SIPpTag1",
                "From: <sip:alice@127.0.0.1>;tag=4afbdc6aab759744c7159513ad804512-85a368d9", "CSeq: 2 NOTIFY",
                "Call-ID: 1-19271@127.0.0.1", cl, "User-Agent: kamailio (5.6.3 (x86_64/linux))", "Max-Forwards: 70",
                "Event: presence", "Contact: <sip:127.0.0.1:5090;transport=udp>",
                "Subscription-State: active;expires=600", "Content-Type: application/pidf+xml"},
               body);
}

RequestSpec subscribe_spec() {
    RequestSpec s;
    s.method = "SUBSCRIBE";
    s.request_uri = "sip:alice@127.0.0.1";
    s.from_uri = "sip:watcher@127.0.0.1";
    s.from_display = "Presence \"Watcher\" \\ 1";
    s.from_tag = "f3a9c2";
    s.to_uri = "sip:alice@127.0.0.1";
    s.call_id = "0123456789abcdef@presenced";
    s.cseq = 7;
    s.via_transport = "UDP";
    s.via_host = "192.0.2.1";
    s.via_port = 5062;
    s.branch = "z9hG4bKa1b2c3d4e5f6";
    s.contact = "<sip:presenced@192.0.2.1:5062>";
    s.user_agent = "presenced/1.0";
    s.routes = {"<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"};
    s.headers = {{"Event", "presence"}, {"Expires", "3600"}, {"Accept", "application/pidf+xml"}};
    return s;
}

}  // namespace

TEST_CASE("a Kamailio NOTIFY parses and every accessor answers", "[sip][message]") {
    const Message m = must_parse(kamailio_notify());
    CHECK(m.is_request());
    CHECK_FALSE(m.is_response());
    CHECK(m.method() == "NOTIFY");
    CHECK(m.request_uri() == "sip:watcher@127.0.0.1:37645;transport=UDP");
    CHECK(m.request_uri_scheme() == "sip");
    CHECK(m.sip_version() == "SIP/2.0");
    CHECK(m.status_code() == 0);
    CHECK(m.call_id() == "1-19271@127.0.0.1");
    CHECK(m.from().uri == "sip:alice@127.0.0.1");
    CHECK(m.from().display.empty());
    CHECK(m.from().tag == "4afbdc6aab759744c7159513ad804512-85a368d9");
    CHECK(m.to().uri == "sip:watcher@127.0.0.1");
    CHECK(m.to().tag == "19271SIPpTag1");
    CHECK(m.cseq_number() == 2);
    CHECK(m.cseq_method() == "NOTIFY");
    CHECK(m.via_count() == 1);
    const Via via = m.top_via();
    CHECK(via.protocol == "SIP/2.0");
    CHECK(via.transport == "UDP");
    CHECK(via.host == "127.0.0.1");
    CHECK(via.port == std::optional<uint16_t>(5090));
    CHECK(via.branch == "z9hG4bK8c5b.97b55100000000000000000000000000.0");
    CHECK_FALSE(via.rport_present);
    CHECK(via.received.empty());
    CHECK(m.via_lines() ==
          std::vector<std::string>{"SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK8c5b.97b55100000000000000000000000000.0"});
    CHECK(m.contact_uri() == std::optional<std::string>("sip:127.0.0.1:5090;transport=udp"));
    CHECK(m.record_routes().empty());
    CHECK(m.header("event") == std::optional<std::string>("presence"));
    CHECK(m.header("subscription-state") == std::optional<std::string>("active;expires=600"));
    CHECK(m.header("user-agent") == std::optional<std::string>("kamailio (5.6.3 (x86_64/linux))"));
    CHECK(m.header("content-length") == std::optional<std::string>(std::to_string(kPidf.size())));
    CHECK_FALSE(m.header("x-missing").has_value());
    CHECK(m.header_values("event") == std::vector<std::string>{"presence"});
    CHECK(m.header_values("x-missing").empty());
    CHECK_FALSE(m.expires().has_value());
    CHECK_FALSE(m.min_expires().has_value());
    CHECK_FALSE(m.retry_after().has_value());
    CHECK(m.content_type() == "application/pidf+xml");
    CHECK(m.body() == kPidf);
    CHECK(m.www_authenticate().empty());
    CHECK(m.proxy_authenticate().empty());
    CHECK(m.require().empty());
    CHECK(m.max_forwards_or(1) == 70);
}

TEST_CASE("a NOTIFY without a body, and one with a multipart body osip never sees", "[sip][message]") {
    // Kamailio, presentity that never published: no body, no Content-Type.
    const Message empty = must_parse(sip(
        {"NOTIFY sip:watcher@127.0.0.1:31574;transport=UDP SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK1",
         "To: <sip:watcher@127.0.0.1>;tag=w1",
         "From: <sip:carol@127.0.0.1>;tag=4afbdc6aab759744c7159513ad804512-e80b8d22", "CSeq: 2 NOTIFY",
         "Call-ID: c1@127.0.0.1", "Content-Length: 0", "Event: presence", "Subscription-State: active;expires=600"}));
    CHECK(empty.body().empty());
    CHECK(empty.content_type().empty());

    // RLS: multipart/related, framed by Content-Length only.
    const std::string body =
        "--EqUMnYIUyykVgOMFyOpjT5Wn\r\nContent-Transfer-Encoding: binary\r\n"
        "Content-ID: <1795670540.sip:buddies@127.0.0.1.374925006>\r\n"
        "Content-Type: application/rlmi+xml;charset=\"UTF-8\"\r\n\r\n"
        "<?xml version=\"1.0\"?>\n<list uri=\"sip:buddies@127.0.0.1\" xmlns=\"urn:ietf:params:xml:ns:rlmi\" "
        "version=\"1\" fullState=\"true\">\n</list>\n\r\n--EqUMnYIUyykVgOMFyOpjT5Wn--\r\n";
    const std::string ct =
        "Content-Type: multipart/related;type=\"application/rlmi+xml\";"
        "start=\"<1795670540.sip:buddies@127.0.0.1.374925006>\";boundary=\"EqUMnYIUyykVgOMFyOpjT5Wn\"";
    auto rls = [&](std::string_view content_type, std::string_view b) {
        return sip({"NOTIFY sip:watcher@127.0.0.1:24007;transport=UDP SIP/2.0",
                    "Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK2", "To: <sip:watcher@127.0.0.1>;tag=w1",
                    "From: <sip:buddies@127.0.0.1>;tag=4afbdc6aab759744c7159513ad804512-166ec31f", "CSeq: 1 NOTIFY",
                    "Call-ID: c2@127.0.0.1", "Event: presence", "Contact: <sip:rls@127.0.0.1:5090>",
                    "Subscription-State: active;expires=600", "Require: eventlist", content_type,
                    "Content-Length: " + std::to_string(b.size())},
                   b);
    };
    const Message list = must_parse(rls(ct, body));
    CHECK(list.content_type() == "multipart/related");
    CHECK(list.body() == body);
    CHECK(list.require() == std::vector<std::string>{"eventlist"});
    // A broken multipart body is the body layer's business, not a 400.
    const Message broken = must_parse(rls("Content-Type: multipart/related", "no boundary at all"));
    CHECK(broken.body() == "no boundary at all");
}

TEST_CASE("a 401 with WWW-Authenticate and a 407 with Proxy-Authenticate", "[sip][message]") {
    const std::string challenge = R"(Digest realm="127.0.0.1", nonce="awfDHGsHwfDlg0cQqFsKOJSlmxg369Mu", qop="auth")";
    const Message m = must_parse(sip({"SIP/2.0 401 Unauthorized",
                                      "Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKaaa;rport=5062;received=192.0.2.1",
                                      "From: <sip:watcher@127.0.0.1>;tag=f1",
                                      "To: <sip:alice@127.0.0.1>;tag=2ab3ce93beadb85952224a88d0f335e1.e6f568d9",
                                      "Call-ID: x1@presenced", "CSeq: 1 SUBSCRIBE", "WWW-Authenticate: " + challenge,
                                      "Server: kamailio (5.6.3 (x86_64/linux))", "Content-Length: 0"}));
    CHECK(m.is_response());
    CHECK(m.status_code() == 401);
    CHECK(m.reason_phrase() == "Unauthorized");
    CHECK(m.method().empty());
    CHECK(m.request_uri().empty());
    CHECK(m.www_authenticate() == std::vector<std::string>{challenge});
    CHECK(m.proxy_authenticate().empty());
    CHECK(m.to().tag == "2ab3ce93beadb85952224a88d0f335e1.e6f568d9");
    CHECK(m.cseq_method() == "SUBSCRIBE");
    const Via via = m.top_via();
    CHECK(via.rport_present);
    CHECK(via.rport == std::optional<uint16_t>(5062));
    CHECK(via.received == "192.0.2.1");
    CHECK(m.header("server") == std::optional<std::string>("kamailio (5.6.3 (x86_64/linux))"));

    const Message p = must_parse(
        sip({"SIP/2.0 407 Proxy Authentication Required", "Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKbbb",
             "From: <sip:w@h>;tag=f1", "To: <sip:a@h>;tag=t", "Call-ID: x2", "CSeq: 1 SUBSCRIBE",
             R"(Proxy-Authenticate: Digest realm="127.0.0.1", nonce="n1")",
             R"(Proxy-Authenticate: Digest realm="127.0.0.1", nonce="n2", algorithm=SHA-256)", "Content-Length: 0"}));
    CHECK(p.reason_phrase() == "Proxy Authentication Required");
    CHECK(p.proxy_authenticate() ==
          std::vector<std::string>{R"(Digest realm="127.0.0.1", nonce="n1")",
                                   R"(Digest realm="127.0.0.1", nonce="n2", algorithm=SHA-256)"});
}

TEST_CASE("a 200 to SUBSCRIBE, a 423, a 503 and record routes", "[sip][message]") {
    const Message m = must_parse(
        sip({"SIP/2.0 200 OK", "Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKccc;rport",
             "From: <sip:watcher@127.0.0.1>;tag=f1",
             "To: <sip:alice@127.0.0.1>;tag=4afbdc6aab759744c7159513ad804512-85a368d9", "Call-ID: x1@presenced",
             "CSeq: 2 SUBSCRIBE", "Expires: 600", "Contact: <sip:127.0.0.1:5090;transport=udp>",
             "Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr;x=\"a,b\">",
             "Record-Route: <sip:p3.example.com;lr>", "Content-Length: 0"}));
    CHECK(m.status_code() == 200);
    CHECK(m.expires() == std::optional<uint32_t>(600));
    CHECK(m.contact_uri() == std::optional<std::string>("sip:127.0.0.1:5090;transport=udp"));
    CHECK(m.record_routes() == std::vector<std::string>{"<sip:p1.example.com;lr>", "<sip:p2.example.com;lr;x=\"a,b\">",
                                                        "<sip:p3.example.com;lr>"});
    CHECK(m.top_via().rport_present);
    CHECK_FALSE(m.top_via().rport.has_value());

    auto response = [](std::string_view status, std::string_view extra) {
        return sip({status, "Via: SIP/2.0/UDP h;branch=z9hG4bKd", "From: <sip:a@h>;tag=1", "To: <sip:b@h>;tag=2",
                    "Call-ID: c", "CSeq: 3 SUBSCRIBE", extra, "Content-Length: 0"});
    };
    CHECK(must_parse(response("SIP/2.0 423 Interval Too Brief", "Min-Expires: 60")).min_expires() ==
          std::optional<uint32_t>(60));
    CHECK(
        must_parse(response("SIP/2.0 503 Service Unavailable", "Retry-After: 120 (busy);duration=60")).retry_after() ==
        std::optional<uint32_t>(120));
    CHECK(must_parse(response("SIP/2.0 503 Service Unavailable", "Retry-After: 18000")).retry_after() ==
          std::optional<uint32_t>(18000));
    CHECK_FALSE(must_parse(response("SIP/2.0 503 Service Unavailable", "Retry-After: soon")).retry_after());
    const Message bad = must_parse(response("SIP/2.0 489 Bad Event", "Allow-Events: dialog, xcap-diff, presence"));
    CHECK(bad.header("allow-events") == std::optional<std::string>("dialog, xcap-diff, presence"));
    CHECK(bad.header("u") == bad.header("allow-events"));
    const Message unreason = must_parse(response("SIP/2.0 481 Subscription does not exist", "Expires: 0"));
    CHECK(unreason.reason_phrase() == "Subscription does not exist");
    CHECK(unreason.expires() == std::optional<uint32_t>(0));
}

TEST_CASE("compact header names are understood both ways", "[sip][message]") {
    const std::string body = "<presence/>";
    const Message m =
        must_parse(sip({"NOTIFY sip:watcher@192.0.2.1 SIP/2.0", "v: SIP/2.0/TCP 192.0.2.9;branch=z9hG4bKc1",
                        "f: \"Alice A.\" <sip:alice@example.com>;tag=a1", "t: <sip:watcher@example.com>;tag=w1",
                        "i: compact-1@example.com", "CSeq: 4 NOTIFY", "o: presence", "u: presence, dialog",
                        "k: eventlist", "m: <sip:alice@192.0.2.9>", "s: hello", "c: application/pidf+xml",
                        "l: " + std::to_string(body.size()), "Subscription-State: active"},
                       body));
    CHECK(m.header("event") == std::optional<std::string>("presence"));
    CHECK(m.header("o") == std::optional<std::string>("presence"));
    CHECK(m.header("O") == std::optional<std::string>("presence"));
    CHECK(m.header("allow-events") == std::optional<std::string>("presence, dialog"));
    CHECK(m.header("supported") == std::optional<std::string>("eventlist"));
    CHECK(m.header("k") == std::optional<std::string>("eventlist"));
    CHECK(m.header("subject") == std::optional<std::string>("hello"));
    CHECK(m.header("call-id") == std::optional<std::string>("compact-1@example.com"));
    CHECK(m.header("content-length") == std::optional<std::string>(std::to_string(body.size())));
    CHECK(m.header("via") == std::optional<std::string>("SIP/2.0/TCP 192.0.2.9;branch=z9hG4bKc1"));
    CHECK(m.call_id() == "compact-1@example.com");
    CHECK(m.from().display == "Alice A.");
    CHECK(m.from().uri == "sip:alice@example.com");
    CHECK(m.from().tag == "a1");
    CHECK(m.to().tag == "w1");
    CHECK(m.top_via().transport == "TCP");
    CHECK(m.contact_uri() == std::optional<std::string>("sip:alice@192.0.2.9"));
    CHECK(m.content_type() == "application/pidf+xml");
    CHECK(m.body() == body);

    // And long names are found by their compact form.
    const Message l = must_parse(kamailio_notify());
    CHECK(l.header("o") == std::optional<std::string>("presence"));
    CHECK(l.header("i") == std::optional<std::string>("1-19271@127.0.0.1"));
    CHECK(l.header("m") == std::optional<std::string>("<sip:127.0.0.1:5090;transport=udp>"));
    CHECK(l.header("c") == std::optional<std::string>("application/pidf+xml"));
    CHECK(l.header("l") == std::optional<std::string>(std::to_string(kPidf.size())));
    CHECK(l.header("f") == l.header("from"));
    CHECK(l.header("t") == l.header("to"));
    CHECK(l.header("v") == l.header("via"));
}

TEST_CASE("header names are case-insensitive, folded values are unfolded", "[sip][message]") {
    const Message m = must_parse(
        sip({"NOTIFY sip:w@192.0.2.1 SIP/2.0", "VIA: SIP/2.0/UDP h;branch=z9hG4bKx", "fRoM: <sip:a@h>;tag=1",
             "TO: <sip:w@h>;tag=2", "cALL-iD: ci", "cseq: 1 NOTIFY", "EVENT: dialog", "Subscription-State: active;",
             "  expires=60", "content-TYPE: Application/Dialog-Info+XML ; charset=UTF-8", "Max-Forwards  : 0068",
             "CONTENT-LENGTH: 0"}));
    CHECK(m.header("event") == std::optional<std::string>("dialog"));
    CHECK(m.header("Event") == std::optional<std::string>("dialog"));
    CHECK(m.header("EvEnT") == std::optional<std::string>("dialog"));
    CHECK(m.header("CALL-ID") == std::optional<std::string>("ci"));
    CHECK(m.header("subscription-state") == std::optional<std::string>("active; expires=60"));
    CHECK(m.content_type() == "application/dialog-info+xml");
    CHECK(m.max_forwards_or(70) == 68);
    CHECK(m.call_id() == "ci");
}

TEST_CASE("other request shapes: LF line ends, leading CRLF, tel URI, Require", "[sip][message]") {
    const Message lf = must_parse(
        "OPTIONS sip:w@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:w@h>\n"
        "Call-ID: lf\nCSeq: 1 OPTIONS\nContent-Length: 2\n\nok");
    CHECK(lf.body() == "ok");
    CHECK(lf.to().tag.empty());
    const Message lead = must_parse("\r\n\r\n" + kamailio_notify());
    CHECK(lead.method() == "NOTIFY");
    const Message tel = must_parse(sip({"OPTIONS tel:+15551234567 SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1",
                                        "From: <sip:a@h>;tag=1", "To: <tel:+15551234567>", "Call-ID: t",
                                        "CSeq: 1 OPTIONS", "Require: foo, bar", "Require: baz", "Content-Length: 0"}));
    CHECK(tel.request_uri_scheme() == "tel");
    CHECK(tel.request_uri() == "tel:+15551234567");
    CHECK(tel.require() == std::vector<std::string>{"foo", "bar", "baz"});
    CHECK(tel.max_forwards_or(70) == 70);
}

TEST_CASE("mandatory header fields and the CSeq method", "[sip][message]") {
    const std::vector<std::string> base = {"Via: SIP/2.0/UDP h;branch=z9hG4bK1",
                                           "From: <sip:a@h>;tag=1",
                                           "To: <sip:w@h>",
                                           "Call-ID: c",
                                           "CSeq: 1 OPTIONS",
                                           "Content-Length: 0"};
    auto build = [](const std::string& start, const std::vector<std::string>& fields) {
        std::string out = start + "\r\n";
        for (const auto& f : fields) out += f + "\r\n";
        return out + "\r\n";
    };
    CHECK(error_code(build("OPTIONS sip:w@h SIP/2.0", base)) == "ok");
    for (size_t i = 0; i + 1 < base.size(); ++i) {  // each of Via, From, To, Call-ID, CSeq missing
        auto fields = base;
        fields.erase(fields.begin() + static_cast<long>(i));
        INFO(base[i]);
        CHECK(error_code(build("OPTIONS sip:w@h SIP/2.0", fields)) == "malformed");
    }
    for (const std::string extra : {"From: <sip:b@h>;tag=2", "f: <sip:b@h>;tag=2", "To: <sip:x@h>", "t: <sip:x@h>",
                                    "Call-ID: d", "i: d", "CSeq: 2 OPTIONS"}) {
        auto fields = base;
        fields.push_back(extra);
        INFO(extra);
        CHECK(error_code(build("OPTIONS sip:w@h SIP/2.0", fields)) == "malformed");
    }
    auto two_vias = base;
    two_vias.push_back("Via: SIP/2.0/UDP p;branch=z9hG4bK2");
    CHECK(must_parse(build("OPTIONS sip:w@h SIP/2.0", two_vias)).via_count() == 2);

    auto mismatch = base;
    mismatch[4] = "CSeq: 1 INVITE";
    CHECK(error_code(build("OPTIONS sip:w@h SIP/2.0", mismatch)) == "malformed");
    mismatch[4] = "CSeq: 1 options";  // methods are case-sensitive (RFC 3261 §7.1)
    CHECK(error_code(build("OPTIONS sip:w@h SIP/2.0", mismatch)) == "malformed");
    mismatch[4] = "CSeq: OPTIONS";
    CHECK(error_code(build("OPTIONS sip:w@h SIP/2.0", mismatch)) == "malformed");
    mismatch[4] = "CSeq: 1 INVITE";  // any method in a response
    CHECK(error_code(build("SIP/2.0 200 OK", mismatch)) == "ok");
}

TEST_CASE("start lines: version, status codes, request-line shape", "[sip][message]") {
    auto with_start = [](const std::string& start) {
        return sip({start, "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@h>;tag=1", "To: <sip:w@h>", "Call-ID: c",
                    "CSeq: 1 OPTIONS", "Content-Length: 0"});
    };
    CHECK(error_code(with_start("OPTIONS sip:w@h SIP/7.0")) == "bad_version");
    CHECK(error_code(with_start("OPTIONS sip:w@h SIP/3.1")) == "bad_version");
    CHECK(error_code(with_start("SIP/3.0 200 OK")) == "bad_version");
    CHECK(error_code(with_start("OPTIONS sip:w@h sip/2.0")) == "ok");  // case-insensitive
    CHECK(error_code(with_start("OPTIONS sip:w@h HTTP/1.1")) == "malformed");
    CHECK(error_code(with_start("OPTIONS sip:w@h")) == "malformed");
    CHECK(error_code(with_start("OPTIONS  sip:w@h SIP/2.0")) == "malformed");
    CHECK(error_code(with_start("OPTIONS sip:w@h SIP/2.0 ")) == "malformed");
    CHECK(error_code(with_start("OPT IONS sip:w@h SIP/2.0")) == "malformed");
    CHECK(error_code(with_start("OPTIONS <sip:w@h> SIP/2.0")) == "malformed");
    CHECK(error_code(with_start("OPTIONS w@h SIP/2.0")) == "malformed");
    CHECK(error_code(with_start("OPTIONS sip:w@h?Route=x SIP/2.0")) == "malformed");
    CHECK(error_code(with_start("OPTIONS sip:2001:db8::1 SIP/2.0")) == "malformed");
    CHECK(error_code(with_start("OPTIONS sip:w@h:99999 SIP/2.0")) == "malformed");
    CHECK(error_code(with_start("OPTIONS sip:w@[2001:db8::1]:5060 SIP/2.0")) == "ok");
    CHECK(error_code(with_start("OPTIONS x-unknown.scheme:opaque SIP/2.0")) == "ok");
    for (const std::string code : {"099", "700", "999", "1000", "20", "2x0", "-200", "4294967496"}) {
        INFO(code);
        CHECK(error_code(with_start("SIP/2.0 " + code + " Whatever")) == "bad_status");
    }
    CHECK(must_parse(with_start("SIP/2.0 100 ")).reason_phrase().empty());
    CHECK(must_parse(with_start("SIP/2.0 699 Last")).status_code() == 699);
    CHECK(must_parse(with_start("SIP/2.0 100 Trying")).status_code() == 100);
    CHECK(error_code(with_start("SIP/2.0 200 O\x01K")) == "malformed");
}

TEST_CASE("Content-Length frames the body (RFC 3261 §18.3)", "[sip][message]") {
    auto with_cl = [](std::vector<std::string> cls, std::string_view body) {
        std::string out =
            "MESSAGE sip:w@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: "
            "<sip:w@h>\r\n"
            "Call-ID: c\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n";
        for (const auto& cl : cls) out += cl + "\r\n";
        return out + "\r\n" + std::string(body);
    };
    CHECK(must_parse(with_cl({"Content-Length: 5"}, "hello")).body() == "hello");
    CHECK(must_parse(with_cl({"Content-Length: 0005"}, "hello")).body() == "hello");
    CHECK(must_parse(with_cl({"l: 3"}, "hello, and more bytes")).body() == "hel");  // UDP: the rest is discarded
    CHECK(must_parse(with_cl({}, "to the end\r\n")).body() == "to the end\r\n");
    CHECK(must_parse(with_cl({"Content-Length: 0"}, "")).body().empty());
    CHECK(error_code(with_cl({"Content-Length: 6"}, "hello")) == "body_mismatch");
    CHECK(error_code(with_cl({"Content-Length: 4294967295"}, "hello")) == "body_mismatch");
    CHECK(error_code(with_cl({"Content-Length: -5"}, "hello")) == "bad_scalar");
    CHECK(error_code(with_cl({"Content-Length: five"}, "hello")) == "bad_scalar");
    CHECK(error_code(with_cl({"Content-Length: 5 5"}, "hello")) == "bad_scalar");
    CHECK(error_code(with_cl({"Content-Length: 5, 5"}, "hello")) == "bad_scalar");
    CHECK(error_code(with_cl({"Content-Length: "}, "hello")) == "bad_scalar");
    CHECK(error_code(with_cl({"Content-Length: 18446744073709551621"}, "hello")) == "bad_scalar");
    CHECK(error_code(with_cl({"Content-Length: 5", "Content-Length: 3"}, "hello")) == "bad_scalar");
    CHECK(error_code(with_cl({"Content-Length: 5", "l: 5"}, "hello")) == "bad_scalar");  // repeated: never guessed
    // A binary body with NUL and bare CR is kept byte for byte.
    const std::string binary("a\0b\rc\n", 6);
    CHECK(must_parse(with_cl({"Content-Length: 6"}, binary)).body() == binary);
}

TEST_CASE("numbers: 32-bit, overflow never wraps (rfc-checklist 16.14)", "[sip][message]") {
    auto with = [](std::string_view cseq, std::string_view extra) {
        return sip({"SIP/2.0 200 OK", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@h>;tag=1",
                    "To: <sip:w@h>;tag=2", "Call-ID: c", std::string("CSeq: ") + std::string(cseq) + " SUBSCRIBE",
                    extra, "Content-Length: 0"});
    };
    CHECK(must_parse(with("4294967295", "X: y")).cseq_number() == 4294967295u);
    CHECK(must_parse(with("0009", "X: y")).cseq_number() == 9);
    CHECK(error_code(with("4294967296", "X: y")) == "bad_scalar");
    CHECK(error_code(with("36893488147419103232", "X: y")) == "bad_scalar");
    CHECK(must_parse(with("1", "Expires: 4294967295")).expires() == std::optional<uint32_t>(4294967295u));
    CHECK_FALSE(must_parse(with("1", "Expires: 99999999999")).expires().has_value());
    CHECK_FALSE(must_parse(with("1", "Expires: 4294967296")).expires().has_value());
    CHECK_FALSE(must_parse(with("1", "Expires: -1")).expires().has_value());
    CHECK_FALSE(must_parse(with("1", "Expires: 10 minutes")).expires().has_value());
    CHECK_FALSE(must_parse(with("1", "Expires: Thu, 01 Dec 1994 16:00:00 GMT")).expires().has_value());
    CHECK(must_parse(with("1", "Expires: 0060")).expires() == std::optional<uint32_t>(60));
    CHECK_FALSE(must_parse(with("1", "Min-Expires: 99999999999")).min_expires().has_value());
    CHECK_FALSE(must_parse(with("1", "Retry-After: 99999999999")).retry_after().has_value());
    CHECK_FALSE(must_parse(with("1", "Retry-After: 18446744073709551616 (x)")).retry_after().has_value());
    CHECK(must_parse(with("1", "Max-Forwards: 255")).max_forwards_or(70) == 255);
    CHECK(must_parse(with("1", "Max-Forwards: 256")).max_forwards_or(70) == 70);
    CHECK(must_parse(with("1", "Max-Forwards: 99999999999")).max_forwards_or(70) == 70);
    CHECK(must_parse(with("1", "Max-Forwards: x")).max_forwards_or(70) == 70);
}

TEST_CASE("responses: Vias in order, received and rport, To tag, Content-Length", "[sip][message]") {
    const Message req = must_parse(
        sip({"NOTIFY sip:watcher@192.0.2.1:5062 SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.5:5090;branch=z9hG4bKtop;rport",
             "Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bKmid, SIP/2.0/UDP "
             "[2001:db8::9]:5070;branch=z9hG4bKlow;received=192.0.2.77",
             "From: \"Alice\" <sip:alice@example.com>;tag=a1", "To: <sip:watcher@example.com>",
             "Call-ID: resp-1@example.com", "CSeq: 17 NOTIFY", "Event: presence", "Content-Length: 0"}));
    const std::string r = req.make_response(
        200, "OK", "ourtag", {{"Server", "presenced"}, {"Allow", "NOTIFY, OPTIONS"}}, "203.0.113.7", 40000);
    CHECK(r ==
          "SIP/2.0 200 OK\r\n"
          "Via: SIP/2.0/UDP 10.0.0.5:5090;branch=z9hG4bKtop;rport=40000;received=203.0.113.7\r\n"
          "Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bKmid\r\n"
          "Via: SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKlow;received=192.0.2.77\r\n"
          "From: \"Alice\" <sip:alice@example.com>;tag=a1\r\n"
          "To: <sip:watcher@example.com>;tag=ourtag\r\n"
          "Call-ID: resp-1@example.com\r\n"
          "CSeq: 17 NOTIFY\r\n"
          "Server: presenced\r\n"
          "Allow: NOTIFY, OPTIONS\r\n"
          "Content-Length: 0\r\n"
          "\r\n");
    const Message back = must_parse(r);
    CHECK(back.status_code() == 200);
    CHECK(back.via_count() == 3);
    CHECK(back.top_via().received == "203.0.113.7");
    CHECK(back.top_via().rport == std::optional<uint16_t>(40000));
    CHECK(back.to().tag == "ourtag");
    CHECK(back.from().tag == "a1");
    CHECK(back.call_id() == "resp-1@example.com");
    CHECK(back.cseq_number() == 17);
    CHECK(back.cseq_method() == "NOTIFY");

    // Without received/rport the Vias are copied unchanged; no tag when none given.
    const std::string plain = req.make_response(481, "Subscription Does Not Exist", "", {});
    CHECK(plain.find("Via: SIP/2.0/UDP 10.0.0.5:5090;branch=z9hG4bKtop;rport\r\n") != std::string::npos);
    CHECK(plain.find("To: <sip:watcher@example.com>\r\n") != std::string::npos);
    CHECK(plain.find("Content-Length: 0\r\n\r\n") != std::string::npos);

    // An existing To tag is kept, never replaced.
    const Message in_dialog = must_parse(
        sip({"NOTIFY sip:w@192.0.2.1 SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKa", "From: <sip:a@h>;tag=a1",
             "To: <sip:w@h>;tag=mine", "Call-ID: c2", "CSeq: 3 NOTIFY", "Content-Length: 0"}));
    const std::string kept = in_dialog.make_response(200, "OK", "other", {}, "", 5060);
    CHECK(kept.find("To: <sip:w@h>;tag=mine\r\n") != std::string::npos);
    CHECK(kept.find("other") == std::string::npos);
    // rport only when the request asked for it (RFC 3581 §4).
    CHECK(kept.find("Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKa\r\n") != std::string::npos);

    // A body, its type, and a header that would break the framing left out.
    const std::string with_body = in_dialog.make_response(
        200, "OK\r\nX: injected", "", {{"Bad", "a\r\nInjected: 1"}, {"Good", "1"}}, "", {}, "hello", "text/plain");
    CHECK(with_body.rfind("SIP/2.0 200 OK  X: injected\r\n", 0) == 0);
    CHECK(with_body.find("Injected: 1") == std::string::npos);
    CHECK(with_body.find("Good: 1\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello") != std::string::npos);
    CHECK(must_parse(with_body).body() == "hello");

    // A received IPv6 address is written without brackets (RFC 5118 §4.5).
    const std::string v6 = in_dialog.make_response(200, "OK", "", {}, "2001:db8::77", {});
    CHECK(v6.find("Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKa;received=2001:db8::77\r\n") != std::string::npos);
}

TEST_CASE("build_request serialises in order and round-trips through parse", "[sip][message]") {
    RequestSpec spec = subscribe_spec();
    auto built = build_request(spec);
    REQUIRE(built);
    CHECK(*built ==
          "SUBSCRIBE sip:alice@127.0.0.1 SIP/2.0\r\n"
          "Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa1b2c3d4e5f6;rport\r\n"
          "Max-Forwards: 70\r\n"
          "From: \"Presence \\\"Watcher\\\" \\\\ 1\" <sip:watcher@127.0.0.1>;tag=f3a9c2\r\n"
          "To: <sip:alice@127.0.0.1>\r\n"
          "Call-ID: 0123456789abcdef@presenced\r\n"
          "CSeq: 7 SUBSCRIBE\r\n"
          "Contact: <sip:presenced@192.0.2.1:5062>\r\n"
          "Route: <sip:p1.example.com;lr>\r\n"
          "Route: <sip:p2.example.com;lr>\r\n"
          "User-Agent: presenced/1.0\r\n"
          "Event: presence\r\n"
          "Expires: 3600\r\n"
          "Accept: application/pidf+xml\r\n"
          "Content-Length: 0\r\n"
          "\r\n");

    const Message m = must_parse(*built);
    CHECK(m.method() == spec.method);
    CHECK(m.request_uri() == spec.request_uri);
    CHECK(m.via_count() == 1);
    const Via via = m.top_via();
    CHECK(via.transport == "UDP");
    CHECK(via.host == spec.via_host);
    CHECK(via.port == std::optional<uint16_t>(spec.via_port));
    CHECK(via.branch == spec.branch);
    CHECK(via.rport_present);
    CHECK_FALSE(via.rport.has_value());
    CHECK(m.max_forwards_or(0) == 70);
    CHECK(m.from().display == spec.from_display);
    CHECK(m.from().uri == spec.from_uri);
    CHECK(m.from().tag == spec.from_tag);
    CHECK(m.to().uri == spec.to_uri);
    CHECK(m.to().tag.empty());
    CHECK(m.call_id() == spec.call_id);
    CHECK(m.cseq_number() == spec.cseq);
    CHECK(m.cseq_method() == spec.method);
    CHECK(m.contact_uri() == std::optional<std::string>("sip:presenced@192.0.2.1:5062"));
    CHECK(m.header_values("route") == spec.routes);
    CHECK(m.header("user-agent") == std::optional<std::string>(spec.user_agent));
    CHECK(m.header("event") == std::optional<std::string>("presence"));
    CHECK(m.expires() == std::optional<uint32_t>(3600));
    CHECK(m.header("accept") == std::optional<std::string>("application/pidf+xml"));
    CHECK(m.header("content-length") == std::optional<std::string>("0"));
    CHECK(m.body().empty());

    // In dialog, over TCP from IPv6, with a body, no rport, no port, no display name.
    spec.to_tag = "remote-1";
    spec.via_transport = "TCP";
    spec.via_host = "2001:db8::5";
    spec.via_port = 0;
    spec.rport = false;
    spec.from_display.clear();
    spec.cseq = 4294967295u;
    spec.max_forwards = 69;
    spec.routes.clear();
    spec.contact.clear();
    spec.user_agent.clear();
    spec.body = "<presence/>";
    spec.content_type = "application/pidf+xml";
    built = build_request(spec);
    REQUIRE(built);
    CHECK(built->find("Via: SIP/2.0/TCP [2001:db8::5];branch=z9hG4bKa1b2c3d4e5f6\r\n") != std::string::npos);
    CHECK(built->find("From: <sip:watcher@127.0.0.1>;tag=f3a9c2\r\n") != std::string::npos);
    CHECK(built->find("Content-Type: application/pidf+xml\r\nContent-Length: 11\r\n\r\n<presence/>") !=
          std::string::npos);
    CHECK(built->find("Contact:") == std::string::npos);
    CHECK(built->find("User-Agent:") == std::string::npos);
    const Message m2 = must_parse(*built);
    CHECK(m2.top_via().host == "2001:db8::5");
    CHECK_FALSE(m2.top_via().port.has_value());
    CHECK_FALSE(m2.top_via().rport_present);
    CHECK(m2.top_via().transport == "TCP");
    CHECK(m2.to().tag == "remote-1");
    CHECK(m2.from().display.empty());
    CHECK(m2.cseq_number() == 4294967295u);
    CHECK(m2.max_forwards_or(0) == 69);
    CHECK(m2.content_type() == "application/pidf+xml");
    CHECK(m2.body() == spec.body);
}

TEST_CASE("build_request rejects what would make an invalid message", "[sip][message]") {
    auto rejected = [](auto mutate) {
        RequestSpec spec = subscribe_spec();
        mutate(spec);
        auto r = build_request(spec);
        if (r) return std::string("accepted");
        CHECK_FALSE(presenced::util::has_control(r.error().message));
        return r.error().code;
    };
    CHECK(rejected([](RequestSpec&) {}) == "accepted");
    CHECK(rejected([](RequestSpec& s) { s.method.clear(); }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.method = "SUB SCRIBE"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.request_uri.clear(); }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.request_uri = "alice@example.com"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.request_uri = "sip:a@h\r\nX: y"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.request_uri = "<sip:a@h>"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.from_uri = "sip:a@h\n"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.to_uri.clear(); }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.from_display = "evil\r\nVia: x"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.from_tag.clear(); }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.to_tag = "a;b"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.call_id = "a b"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.call_id = "a\r\n"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.via_host = "h\r\nX: 1"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.via_host.clear(); }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.via_transport = "U DP"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.branch = "abc123"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.branch = "z9hG4bK"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.branch = "z9hG4bK1\r\n"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.contact = "<sip:a@h>\r\nX: 1"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.user_agent = "ua\n"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.routes.push_back("<sip:r;lr>\r\n"); }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.headers.push_back({"Event", "presence\r\nX: 1"}); }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.headers.push_back({"Bad:Name", "v"}); }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.headers.push_back({"", "v"}); }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) { s.body = "x"; }) == "invalid_request");
    CHECK(rejected([](RequestSpec& s) {
              s.body = "x";
              s.content_type = "text/plain\r\n";
          }) == "invalid_request");
}

TEST_CASE("limits: huge counts and values fail cleanly, never crash", "[sip][message][limits]") {
    const std::string head =
        "NOTIFY sip:w@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:w@h>\r\n"
        "Call-ID: c\r\nCSeq: 1 NOTIFY\r\n";
    {
        std::string many = head;
        for (int i = 0; i < 10000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
        CHECK(error_code(many + "\r\n") == "malformed");
        std::string some = head;
        for (int i = 0; i < 200; ++i) some += "X-H" + std::to_string(i) + ": v\r\n";
        CHECK(must_parse(some + "\r\n").header("x-h199") == std::optional<std::string>("v"));
    }
    CHECK(error_code(head + "X-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n") == "malformed");
    CHECK(error_code(head + "X-Folded: a\r\n" + [] {
              std::string f;
              for (int i = 0; i < 5000; ++i) f += " folded\r\n";
              return f;
          }() + "\r\n") == "malformed");
    {
        std::string vias = "Via: SIP/2.0/UDP h0;branch=z9hG4bK0";
        for (int i = 1; i < 71; ++i)
            vias += ", SIP/2.0/UDP h" + std::to_string(i) + ";branch=z9hG4bK" + std::to_string(i);
        CHECK(error_code(head + vias + "\r\n\r\n") == "malformed");  // 72 Vias
    }
    CHECK(error_code("NOTIFY sip:" + std::string(100000, 'a') + "@h SIP/2.0\r\n" + head.substr(head.find('\n') + 1) +
                     "\r\n") == "malformed");
    // A 1 MiB body is fine (the transport decides the size limit).
    const std::string big(1 << 20, 'b');
    CHECK(must_parse(head + "Content-Type: text/plain\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n" +
                     big)
              .body()
              .size() == big.size());
    // Control characters and odd bytes where they do not belong.
    CHECK(error_code(head + "X: a\rb\r\n\r\n") == "malformed");
    CHECK(error_code(head + std::string("X: a\0b\r\n\r\n", 10)) == "malformed");
    CHECK(must_parse(head + "X-A: a\r\n\t continued\r\n\r\n").header("x-a") ==
          std::optional<std::string>("a continued"));
    CHECK(error_code(head + " 2\r\n\r\n") == "malformed");  // folds into the CSeq: "1 NOTIFY 2"
    CHECK(error_code("NOTIFY sip:w@h SIP/2.0\r\n continuation before any field\r\n\r\n") == "malformed");
    CHECK(error_code(head + "no colon here\r\n\r\n") == "malformed");
    CHECK(error_code(head + ": no name\r\n\r\n") == "malformed");
    CHECK(error_code("") == "malformed");
    CHECK(error_code("\r\n\r\n") == "malformed");
    CHECK(error_code("NOTIFY sip:w@h SIP/2.0") == "malformed");
}

TEST_CASE("every prefix and random corruptions of a NOTIFY parse or fail, never crash", "[sip][message][limits]") {
    const std::string notify = kamailio_notify();
    size_t ok = 0;
    for (size_t n = 0; n <= notify.size(); ++n) {
        auto r = parse_exact(std::string_view(notify).substr(0, n));
        if (r) {
            ++ok;
            CHECK(r->body().size() <= n);
        }
    }
    CHECK(ok >= 1);  // at least the complete message
    std::mt19937 rng(4475);
    for (int round = 0; round < 3000; ++round) {
        std::string m = notify;
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int i = 0; i < flips; ++i) m[rng() % m.size()] = static_cast<char>(rng() % 256);
        auto r = parse_exact(m);
        if (r) {
            (void)r->make_response(200, "OK", "t", {});
            (void)r->via_lines();
            (void)r->from();
            (void)r->to();
            (void)r->contact_uri();
            (void)r->top_via();
        } else {
            CHECK_FALSE(presenced::util::has_control(r.error().message));
        }
    }
}

TEST_CASE("an empty or moved-from Message answers without crashing", "[sip][message]") {
    Message empty;
    CHECK_FALSE(empty.is_request());
    CHECK(empty.method().empty());
    CHECK(empty.via_count() == 0);
    CHECK(empty.body().empty());
    CHECK_FALSE(empty.header("via").has_value());
    CHECK(empty.top_via().host.empty());
    CHECK(empty.make_response(500, "x", "", {}).find("Content-Length: 0") != std::string::npos);

    Message a = must_parse(kamailio_notify());
    Message b = std::move(a);
    CHECK(b.method() == "NOTIFY");
    CHECK(b.body() == kPidf);
    std::vector<Message> v;
    v.push_back(std::move(b));
    v.emplace_back();
    CHECK(v.front().call_id() == "1-19271@127.0.0.1");
}
