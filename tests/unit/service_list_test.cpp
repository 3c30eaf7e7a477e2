// Resource-list subscriptions (RFC 4662) in the presence service, on the
// virtual clock with a scripted list server: one SUBSCRIBE for the list,
// members mapped to users by URI equivalence, full and partial state,
// version gaps, instance states, and every fallback to per-user
// subscriptions (presenced(8) RESOURCE LISTS).
#include <catch2/catch.hpp>

#include "service_harness.hpp"
#include "sip/uri_key.hpp"

using namespace presenced::test;

namespace {

const std::string kList = "sip:team@example.com";
const std::string kListConnector = "rich_list_uri = \"sip:team@example.com\"\n";
constexpr std::string_view kBoundary = "b0undary";

struct Member {
    std::string uri;
    std::string state;   // "" = no instance; "active", "pending", "terminated"
    std::string body;    // a PIDF for an active instance with a part ("" = no part)
    std::string reason;  // terminated
};

// A list NOTIFY body: RLMI root, then one PIDF part per active member with a body.
std::string list_body(uint32_t version, bool full, const std::vector<Member>& members) {
    std::string rlmi = "<?xml version=\"1.0\"?>\n<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"" + kList +
                       "\" version=\"" + std::to_string(version) + "\" fullState=\"" + (full ? "true" : "false") +
                       "\">";
    std::string parts;
    int n = 0;
    for (const auto& m : members) {
        rlmi += "<resource uri=\"" + m.uri + "\">";
        if (!m.state.empty()) {
            const std::string cid = "p" + std::to_string(++n) + "@example.com";
            rlmi += "<instance id=\"i" + std::to_string(n) + "\" state=\"" + m.state + "\"";
            if (!m.reason.empty()) rlmi += " reason=\"" + m.reason + "\"";
            if (!m.body.empty()) {
                rlmi += " cid=\"" + cid + "\"";
                parts += "--" + std::string(kBoundary) + "\r\nContent-ID: <" + cid +
                         ">\r\nContent-Type: application/pidf+xml\r\n\r\n" + m.body + "\r\n";
            }
            rlmi += "/>";
        }
        rlmi += "</resource>";
    }
    rlmi += "</list>";
    return "--" + std::string(kBoundary) +
           "\r\nContent-ID: <root@example.com>\r\nContent-Type: application/rlmi+xml\r\n\r\n" + rlmi + "\r\n" + parts +
           "--" + std::string(kBoundary) + "--\r\n";
}

const std::string kListType =
    "multipart/related;type=\"application/rlmi+xml\";start=\"<root@example.com>\";boundary=\"" +
    std::string(kBoundary) + "\"";

std::string pidf(const std::string& entity, const std::string& activity, const std::string& note) {
    return "<?xml version=\"1.0\"?>\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
           "xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" "
           "entity=\"" +
           entity +
           "\"><tuple id=\"t\"><status><basic>open</basic></status></tuple><dm:person id=\"p\">"
           "<rpid:activities><rpid:" +
           activity + "/></rpid:activities><dm:note>" + note + "</dm:note></dm:person></presence>";
}

// The index of the last request to uri (with Expires value when given).
size_t last_to(const Harness& h, const std::string& uri, const std::string& expires = "") {
    for (size_t i = h.sent.size(); i-- > 0;)
        if (h.sent[i].spec.to_uri == uri && (expires.empty() || h.sent[i].header("Expires") == expires)) return i;
    FAIL("no request to " << uri);
    return 0;
}

// A final answer to request i.
void answer(Harness& h, size_t i, int code, const std::string& reason, const std::string& extra = "") {
    Sent& s = h.sent.at(i);
    s.answered = true;
    const std::string text =
        "SIP/2.0 " + std::to_string(code) + " " + reason + "\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKa" +
        std::to_string(i) + "\r\nFrom: <" + s.spec.from_uri + ">;tag=" + s.spec.from_tag + "\r\nTo: <" + s.spec.to_uri +
        ">;tag=srv\r\nCall-ID: " + s.spec.call_id + "\r\nCSeq: " + std::to_string(s.spec.cseq) + " SUBSCRIBE\r\n" +
        (code < 300 ? "Expires: 600\r\n" : "") + extra + "Content-Length: 0\r\n\r\n";
    auto m = sip::Message::parse(text);
    REQUIRE(m);
    auto done = s.done;
    done(sip::ClientOutcome::response, &*m);
    h.clock.advance(0);
}

// 200 to the list SUBSCRIBE and a first NOTIFY with this body.
void accept_list(Harness& h, const std::string& body) {
    const size_t i = last_to(h, kList);
    answer(h, i, 200, "OK", "Require: eventlist\r\n");
    h.notify(h.sent[i].spec, "active;expires=600", "presence", body, kListType);
    h.clock.advance(0);
}

void list_notify(Harness& h, const std::string& body, const std::string& type = kListType) {
    // The dialog of the first list SUBSCRIBE of the current Call-ID.
    const size_t i = last_to(h, kList);
    h.notify(h.sent[i].spec, "active;expires=600", "presence", body, type);
    h.clock.advance(0);
}

const presence::SourceView& rich_source(const Harness& h, const std::string& user) {
    static presence::UserView keep;
    keep = *h.service.user_view(user);
    return keep.rich.sources.at(0);
}

connector::ListInfo list_info(const Harness& h) {
    const auto infos = h.service.list_infos("pbx");
    REQUIRE(infos.size() == 1);
    return infos.front();
}

const std::string kUsers = user_toml("alice") + user_toml("bob") + user_toml("carol");

}  // namespace

TEST_CASE("sip URI keys follow RFC 3261 §19.1.4", "[service][list]") {
    using sip::uri_equivalent;
    CHECK(uri_equivalent("sip:alice@example.com", "SIP:alice@EXAMPLE.COM"));
    CHECK(uri_equivalent("sip:%61lice@example.com", "sip:alice@example.com"));
    CHECK(uri_equivalent("<sip:alice@example.com>", "sip:alice@example.com"));
    CHECK(uri_equivalent("sip:alice@example.com;transport=TCP", "sip:alice@example.com;Transport=tcp"));
    CHECK(uri_equivalent("sip:alice@example.com;foo=1", "sip:alice@example.com"));  // other params: not in the key
    CHECK_FALSE(uri_equivalent("sip:Alice@example.com", "sip:alice@example.com"));  // user is case-sensitive
    CHECK_FALSE(uri_equivalent("sip:alice@example.com:5060", "sip:alice@example.com"));
    CHECK_FALSE(uri_equivalent("sip:alice@example.com;transport=tcp", "sip:alice@example.com"));
    CHECK_FALSE(uri_equivalent("sips:alice@example.com", "sip:alice@example.com"));
    CHECK_FALSE(uri_equivalent("tel:+123", "tel:+123"));
    CHECK_FALSE(sip::uri_key("sip:"));
}

TEST_CASE("a list: one SUBSCRIBE at start, members served through it, the others individually", "[service][list]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", kUsers, kListConnector));
    // Start-up: the list, and no rich SUBSCRIBE per user (telephony has no list).
    REQUIRE(h.count(kList) == 1);
    CHECK(h.count("sip:alice@example.com") == 0);
    CHECK(h.count("sip:carol@example.com") == 0);
    CHECK(h.count("sip:alice-line@example.com") == 1);
    const Sent& sub = h.sent[last_to(h, kList)];
    CHECK(sub.header("Supported") == "eventlist");
    CHECK(sub.header("Accept") == "multipart/related, application/rlmi+xml, application/pidf+xml");
    CHECK(sub.header("Event") == "presence");
    CHECK(list_info(h).mode == "starting");

    // Kamailio's shape: a full state naming members without instances first.
    // alice is written differently but equivalently; zed is no user.
    accept_list(h, list_body(1, true,
                             {{"sip:%61lice@EXAMPLE.com", "", "", ""},
                              {"sip:bob@example.com", "", "", ""},
                              {"sip:zed@example.com", "", "", ""}}));
    CHECK(h.count("sip:carol@example.com") == 1);  // outside the list: its own subscription
    CHECK(h.count("sip:alice@example.com") == 0);
    auto info = list_info(h);
    CHECK(info.mode == "listing");
    CHECK(info.subscription == "active");
    CHECK(info.members == 3);
    CHECK(info.served == 2);
    CHECK(info.outside == 1);
    CHECK(info.not_users == 1);
    CHECK(info.version == 1);
    CHECK_FALSE(h.service.has_user("zed"));
    // No instance yet: served through the list, but nothing is known.
    CHECK(rich_source(h, "alice").list == kList);
    CHECK(rich_source(h, "alice").list_instance == "none");
    CHECK(h.service.user_view("alice")->rich.stale);

    // Partial state (version 2) with alice's document.
    list_notify(
        h, list_body(2, false,
                     {{"sip:alice@example.com", "active", pidf("sip:alice@example.com", "away", "Gone home"), ""}}));
    auto alice = *h.service.user_view("alice");
    CHECK(alice.rich.state == "away");
    CHECK(alice.rich.message == "Gone home");
    CHECK_FALSE(alice.rich.stale);
    CHECK(alice.rich.sources.at(0).subscription == "active");
    CHECK(alice.rich.sources.at(0).list_instance == "active");
    CHECK(h.service.user_view("bob")->rich.stale);  // still no instance for bob
    REQUIRE_FALSE(h.persisted.empty());
    CHECK(h.persisted.back().username == "alice");

    // A forced subscribe of a list member starts nothing of its own.
    auto forced = h.service.force_subscribe("alice", 60);
    REQUIRE(forced);
    CHECK(forced->results.at(0).action == "list");
    CHECK(h.count("sip:alice@example.com") == 0);
}

TEST_CASE("list versions: duplicates ignored, a gap refreshes for full state", "[service][list]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", kUsers, kListConnector));
    accept_list(h, list_body(1, true,
                             {{"sip:alice@example.com", "active", pidf("sip:alice@example.com", "away", "a"), ""},
                              {"sip:bob@example.com", "", "", ""},
                              {"sip:carol@example.com", "", "", ""}}));
    CHECK(h.service.user_view("alice")->rich.message == "a");
    const size_t before = h.count(kList);
    // version 1 again: a duplicate, ignored.
    list_notify(h, list_body(1, false,
                             {{"sip:alice@example.com", "active", pidf("sip:alice@example.com", "busy", "dup"), ""}}));
    CHECK(h.service.user_view("alice")->rich.message == "a");
    // version 3 after 1: applied, and a refresh of the list asks for full state.
    list_notify(
        h, list_body(3, false, {{"sip:alice@example.com", "active", pidf("sip:alice@example.com", "busy", "b"), ""}}));
    CHECK(h.service.user_view("alice")->rich.message == "b");
    h.clock.advance(0);
    REQUIRE(h.count(kList) == before + 1);
    const Sent& refresh = h.sent[last_to(h, kList)];
    CHECK_FALSE(refresh.spec.to_tag.empty());  // in the dialog
    CHECK(refresh.header("Supported") == "eventlist");
}

TEST_CASE("list instances: pending shows unknown, terminated follows the reason table", "[service][list]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", kUsers, kListConnector));
    accept_list(h, list_body(1, true,
                             {{"sip:alice@example.com", "active", pidf("sip:alice@example.com", "away", "a"), ""},
                              {"sip:bob@example.com", "active", pidf("sip:bob@example.com", "busy", "b"), ""},
                              {"sip:carol@example.com", "active", pidf("sip:carol@example.com", "away", "c"), ""}}));
    CHECK(h.service.user_view("alice")->rich.state == "away");
    list_notify(h, list_body(2, false,
                             {{"sip:alice@example.com", "pending", "", ""},
                              {"sip:bob@example.com", "terminated", "", "noresource"},
                              {"sip:carol@example.com", "terminated", "", "deactivated"}}));
    auto alice = *h.service.user_view("alice");
    CHECK(alice.rich.state == "unknown");
    CHECK(alice.rich.sources.at(0).subscription == "pending");
    auto bob = *h.service.user_view("bob");
    CHECK(bob.rich.sources.at(0).subscription == "no_such_user");  // parked by the table, still via the list
    CHECK(bob.rich.sources.at(0).list_reason == "noresource");
    CHECK(bob.rich.stale);
    CHECK(h.count("sip:bob@example.com") == 0);
    // deactivated: the table retries, so carol gets a subscription of her own.
    CHECK(h.count("sip:carol@example.com") == 1);
    CHECK(h.service.user_view("carol")->rich.sources.at(0).list.empty());
    // Back in the list: her own subscription ends (Expires: 0 once it is up).
    h.serve(pidf("sip:carol@example.com", "away", "c"));
    list_notify(
        h, list_body(3, false, {{"sip:carol@example.com", "active", pidf("sip:carol@example.com", "away", "c2"), ""}}));
    h.clock.advance(0);
    CHECK(h.count("sip:carol@example.com", "0") == 1);
    CHECK(h.service.user_view("carol")->rich.message == "c2");
}

TEST_CASE("a full state without a member gives that user its own subscription", "[service][list]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", kUsers, kListConnector));
    accept_list(h, list_body(1, true, {{"sip:alice@example.com", "", "", ""}, {"sip:bob@example.com", "", "", ""}}));
    CHECK(h.count("sip:bob@example.com") == 0);
    list_notify(h, list_body(2, true, {{"sip:alice@example.com", "", "", ""}}));
    CHECK(h.count("sip:bob@example.com") == 1);
    CHECK(list_info(h).members == 1);
}

TEST_CASE("list fallback: refused list -> per user, the cause shown, the list retried after list_retry",
          "[service][list]") {
    Harness h;
    h.apply(load("subscribe = \"all\"\nlist_retry = 60", kUsers, kListConnector));
    answer(h, last_to(h, kList), 404, "Not Found");
    h.clock.advance(0);
    for (const char* u : {"alice", "bob", "carol"}) CHECK(h.count(std::string("sip:") + u + "@example.com") == 1);
    auto info = list_info(h);
    CHECK(info.mode == "fallback");
    CHECK(info.subscription == "none");
    CHECK(info.cause.find("404") != std::string::npos);
    CHECK(info.retry_at > 0);
    h.serve(pidf("sip:x@example.com", "away", "individual"));
    CHECK(h.service.user_view("alice")->rich.message == "individual");
    CHECK_FALSE(h.service.user_view("alice")->rich.stale);

    // list_retry later the list is tried again; the users keep their own
    // subscriptions until it delivered a full state.
    const size_t lists_before = h.count(kList);
    h.clock.advance(60 * 1000);
    REQUIRE(h.count(kList) == lists_before + 1);
    CHECK(list_info(h).mode == "starting");
    CHECK(h.count("sip:alice@example.com", "0") == 0);
    accept_list(h, list_body(1, true,
                             {{"sip:alice@example.com", "active", pidf("sip:alice@example.com", "away", "list"), ""},
                              {"sip:bob@example.com", "", "", ""},
                              {"sip:carol@example.com", "", "", ""}}));
    h.clock.advance(0);
    CHECK(list_info(h).mode == "listing");
    CHECK(h.count("sip:alice@example.com", "0") == 1);  // unsubscribed now
    CHECK(h.service.user_view("alice")->rich.message == "list");
}

TEST_CASE("list fallback: a NOTIFY that is no list body", "[service][list]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", kUsers, kListConnector));
    const size_t i = last_to(h, kList);
    answer(h, i, 200, "OK");
    h.notify(h.sent[i].spec, "active;expires=600", "presence", "", "");  // Kamailio: no such list -> presentity
    h.clock.advance(0);
    auto info = list_info(h);
    CHECK(info.mode == "fallback");
    CHECK(info.cause.find("does not serve") != std::string::npos);
    CHECK(h.count("sip:alice@example.com") == 1);
    CHECK(h.count(kList, "0") == 1);  // the would-be list dialog is ended
}

TEST_CASE("list fallback: three bad list bodies in a row", "[service][list]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", kUsers, kListConnector));
    accept_list(h, list_body(1, true, {{"sip:alice@example.com", "", "", ""}}));
    for (int n = 0; n < 3; ++n) list_notify(h, "--" + std::string(kBoundary) + "\r\nbroken");
    CHECK(list_info(h).mode == "fallback");
    CHECK(list_info(h).cause.find("3 list NOTIFYs refused") != std::string::npos);
    CHECK(h.count("sip:alice@example.com") == 1);
}

TEST_CASE("421 Require: eventlist is honoured once, a second 421 falls back", "[service][list]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", kUsers, kListConnector));
    answer(h, last_to(h, kList), 421, "Extension Required", "Require: eventlist\r\n");
    REQUIRE(h.count(kList) == 2);
    CHECK(h.sent[last_to(h, kList)].header("Require") == "eventlist");
    CHECK(list_info(h).mode == "starting");
    answer(h, last_to(h, kList), 421, "Extension Required", "Require: eventlist\r\n");
    h.clock.advance(0);
    CHECK(list_info(h).mode == "fallback");
    CHECK(list_info(h).cause.find("421") != std::string::npos);
    CHECK(h.count("sip:alice@example.com") == 1);
}

TEST_CASE("a list that never answers falls back after its first failure at start", "[service][list]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", kUsers, kListConnector));
    const size_t i = last_to(h, kList);
    h.sent[i].answered = true;
    auto done = h.sent[i].done;
    done(sip::ClientOutcome::timeout, nullptr);
    h.clock.advance(0);
    CHECK(list_info(h).mode == "fallback");
    CHECK(list_info(h).cause.find("408") != std::string::npos);
    CHECK(h.count("sip:bob@example.com") == 1);
}

TEST_CASE("a reload that removes the list URI subscribes the members individually", "[service][list]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", kUsers, kListConnector));
    accept_list(h, list_body(1, true, {{"sip:alice@example.com", "", "", ""}}));
    CHECK(h.count("sip:alice@example.com") == 0);
    h.apply(load("subscribe = \"all\"", kUsers));
    h.clock.advance(0);
    CHECK(h.count("sip:alice@example.com") == 1);
    CHECK(h.service.list_infos("pbx").empty());
    CHECK(h.count(kList, "0") == 1);
}

TEST_CASE("a list added by a reload: members keep their own subscriptions until its full state", "[service][list]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", kUsers));
    h.serve(pidf("sip:x@example.com", "away", "own"));
    REQUIRE(h.count("sip:alice@example.com") == 1);
    h.apply(load("subscribe = \"all\"", kUsers, kListConnector));
    REQUIRE(h.count(kList) == 1);
    CHECK(list_info(h).mode == "starting");
    CHECK(h.count("sip:alice@example.com", "0") == 0);
    CHECK_FALSE(h.service.user_view("alice")->rich.stale);
    accept_list(h, list_body(1, true, {{"sip:alice@example.com", "", "", ""}, {"sip:bob@example.com", "", "", ""}}));
    h.clock.advance(0);
    CHECK(h.count("sip:alice@example.com", "0") == 1);
    CHECK(h.count("sip:bob@example.com", "0") == 1);
    CHECK(h.count("sip:carol@example.com", "0") == 0);
    CHECK(list_info(h).served == 2);
}

TEST_CASE("a nested list: its members are members, their parts are applied", "[service][list]") {
    Harness h;
    h.apply(load("subscribe = \"all\"", kUsers, kListConnector));
    const std::string inner_rlmi =
        "<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"sip:sub@example.com\" version=\"1\" fullState=\"true\">"
        "<resource uri=\"sip:bob@example.com\"><instance id=\"b\" state=\"active\" cid=\"b@x\"/></resource></list>";
    const std::string inner = "--inner\r\nContent-ID: <iroot@x>\r\nContent-Type: application/rlmi+xml\r\n\r\n" +
                              inner_rlmi +
                              "\r\n--inner\r\nContent-ID: <b@x>\r\nContent-Type: application/pidf+xml\r\n\r\n" +
                              pidf("sip:bob@example.com", "away", "nested") + "\r\n--inner--\r\n";
    const std::string outer_rlmi =
        "<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"" + kList +
        "\" version=\"1\" fullState=\"true\"><resource uri=\"sip:alice@example.com\"/>"
        "<resource uri=\"sip:sub@example.com\"><instance id=\"s\" state=\"active\" cid=\"sub@x\"/></resource></list>";
    const std::string body = "--" + std::string(kBoundary) +
                             "\r\nContent-ID: <root@example.com>\r\nContent-Type: application/rlmi+xml\r\n\r\n" +
                             outer_rlmi + "\r\n--" + std::string(kBoundary) +
                             "\r\nContent-ID: <sub@x>\r\nContent-Type: multipart/related;type=\"application/rlmi+xml\";"
                             "start=\"<iroot@x>\";boundary=inner\r\n\r\n" +
                             inner + "\r\n--" + std::string(kBoundary) + "--\r\n";
    accept_list(h, body);
    auto info = list_info(h);
    CHECK(info.members == 2);  // alice and bob; the nested list itself is no member
    CHECK(info.served == 2);
    CHECK(h.count("sip:carol@example.com") == 1);
    CHECK(h.count("sip:bob@example.com") == 0);
    auto bob = *h.service.user_view("bob");
    CHECK(bob.rich.state == "away");
    CHECK(bob.rich.message == "nested");
    CHECK_FALSE(bob.rich.stale);
}

TEST_CASE("on_demand: the list is held anyway, a watched member needs no subscription of its own", "[service][list]") {
    Harness h;
    h.apply(load("subscribe = \"on_demand\"", kUsers, kListConnector));
    REQUIRE(h.count(kList) == 1);
    accept_list(h, list_body(1, true,
                             {{"sip:alice@example.com", "active", pidf("sip:alice@example.com", "away", "a"), ""},
                              {"sip:bob@example.com", "", "", ""}}));
    CHECK(h.service.user_view("alice")->rich.state == "away");  // known without any watcher
    auto id = h.service.watch({"alice", "carol"}, [](const presence::Event&) {});
    REQUIRE(id);
    h.clock.advance(0);
    CHECK(h.count("sip:alice@example.com") == 0);
    CHECK(h.count("sip:carol@example.com") == 1);  // outside the list: the policy decides
    CHECK(h.count("sip:bob@example.com") == 0);    // not watched
}
