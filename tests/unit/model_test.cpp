// The presence model: NOTIFY bodies applied per source, and aggregation
// over sources (model.hpp; presenced(8) RICH PRESENCE MAPPING, TELEPHONY
// PRESENCE MAPPING, AGGREGATION). Bodies as our Kamailio fixture and
// Asterisk PJSIP send them (rfc-checklist 12.21, 13.15).
#include <catch2/catch.hpp>

#include <ctime>
#include <string>
#include <vector>

#include "presence/model.hpp"

using namespace presenced::presence;

namespace {

constexpr std::string_view kPidf = "application/pidf+xml";
constexpr std::string_view kDialog = "application/dialog-info+xml";
constexpr std::time_t kNow = 1704103200;  // 2024-01-01T10:00:00Z

// What scripts/sipp/publish-presence.xml publishes and Kamailio passes on
// verbatim (lab/kamailio/README.md, "Event: presence").
std::string kamailio(const std::string& basic, const std::string& activity, const std::string& note) {
    return R"(<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:alice@127.0.0.1">
  <tuple id="t-alice">
    <status><basic>)" +
           basic + R"(</basic></status>
    <contact>sip:alice@127.0.0.1</contact>
    <note>)" +
           note +
           R"(</note>
  </tuple>
  <dm:person id="p-alice">
    <rpid:activities><rpid:)" +
           activity + R"(/></rpid:activities>
    <dm:note>)" +
           note +
           R"(</dm:note>
  </dm:person>
</presence>)";
}

// Asterisk res_pjsip_pidf_body_generator: presence-level note, one tuple
// named after the extension, open only when not in use (rfc-checklist 12.21).
std::string asterisk_pidf(const std::string& note, const std::string& basic) {
    return R"(<?xml version="1.0" encoding="UTF-8"?>
<presence entity="sip:1000@pbx.example.com" xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid">
 <note>)" + note +
           R"(</note>
 <tuple id="1000">
  <status>
   <basic>)" +
           basic + R"(</basic>
  </status>
  <contact priority="1">sip:watcher@192.0.2.10:5060</contact>
 </tuple>
</presence>)";
}

// Asterisk PJSIP dialog-info (rfc-checklist 13.15): always full, one dialog
// whose id is the extension, no call-id or tags.
std::string asterisk_dialog(unsigned version, const std::string& attrs, const std::string& inner) {
    return R"(<?xml version="1.0" encoding="UTF-8"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version=")" +
           std::to_string(version) + R"(" state="full" entity="sip:1001@pbx.example">
 <dialog id="1001")" +
           attrs + ">\n" + inner + " </dialog>\n</dialog-info>\n";
}
const std::string kRingingInner = R"(  <state>early</state>
  <remote><identity display="Bob">sip:1002@pbx.example</identity><target uri="sip:1002@pbx.example"/></remote>
  <local><identity display="1001">sip:1001@pbx.example</identity><target uri="sip:1001@pbx.example"/></local>
)";
const std::string kHeldInner = R"(  <state>confirmed</state>
  <local><target uri="sip:1001@pbx.example"><param pname="+sip.rendering" pvalue="no"/></target></local>
)";

// Generic dialog-info with real dialog ids (rfc-checklist 13.16).
std::string dialog_doc(unsigned version, const std::string& state, const std::string& rows) {
    return R"(<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version=")" + std::to_string(version) +
           R"(" state=")" + state + R"(" entity="sip:alice@example.com">)" + rows + "</dialog-info>";
}
std::string row(const std::string& id, const std::string& state, const std::string& direction = "recipient") {
    return R"(<dialog id=")" + id + R"(" direction=")" + direction + R"("><state>)" + state +
           R"(</state><remote><identity>sip:)" + id + R"(@example.com</identity></remote></dialog>)";
}

RichDocument pidf(const std::string& xml) {
    auto r = parse_pidf(xml);
    INFO(xml);
    if (!r) FAIL("parse_pidf: " << r.error().code << ": " << r.error().message);
    return *r;
}

Source source(const std::string& connector, bool known, bool fresh, bool positive, std::time_t at,
              RichState rich = RichState::available) {
    Source s;
    s.connector = connector;
    s.known = known;
    s.fresh = fresh;
    s.connector_positive = positive;
    s.received_at = at;
    s.rich = rich;
    s.telephony = TelephonyState::busy;
    s.message = connector + " message";
    return s;
}

}  // namespace

TEST_CASE("rich: the Kamailio fixture's documents", "[model][rich]") {
    Source s;
    auto r = apply_rich(s, kPidf, kamailio("open", "on-the-phone", "On the phone"), kNow);
    CHECK(r.changed);
    CHECK_FALSE(r.ignored);
    CHECK_FALSE(r.refresh);
    CHECK(r.error.empty());
    CHECK(s.known);
    CHECK(s.rich == RichState::busy);
    CHECK(s.message == "On the phone");
    CHECK(s.received_at == kNow);
    REQUIRE(s.entries.size() == 2);
    CHECK(s.entries[0].id == "t-alice");
    CHECK(s.entries[1].activities == std::vector<std::string>{"on-the-phone"});

    // The same document again (a refresh NOTIFY): nothing changed, but received.
    r = apply_rich(s, kPidf, kamailio("open", "on-the-phone", "On the phone"), kNow + 60);
    CHECK_FALSE(r.changed);
    CHECK(s.received_at == kNow + 60);
    // Only the message changes: changed.
    r = apply_rich(s, kPidf, kamailio("open", "on-the-phone", "Call with Bob"), kNow + 61);
    CHECK(r.changed);
    CHECK(s.message == "Call with Bob");
    r = apply_rich(s, kPidf, kamailio("open", "away", "Lunch"), kNow + 62);
    CHECK(r.changed);
    CHECK(s.rich == RichState::away);
    // rfc-checklist 12.20e: closed is offline, whatever the activities.
    r = apply_rich(s, kPidf, kamailio("closed", "away", "Gone home"), kNow + 63);
    CHECK(r.changed);
    CHECK(s.rich == RichState::offline);
    CHECK(s.message == "Gone home");
}

TEST_CASE("rich: Asterisk closed with a device-state note", "[model][rich]") {
    Source s;
    CHECK(apply_rich(s, kPidf, asterisk_pidf("On the phone", "closed"), kNow).changed);
    CHECK(s.rich == RichState::busy);
    CHECK(s.message == "On the phone");
    CHECK(apply_rich(s, kPidf, asterisk_pidf("Unavailable", "closed"), kNow).changed);
    CHECK(s.rich == RichState::offline);
    CHECK(apply_rich(s, kPidf, asterisk_pidf("Ready", "open"), kNow).changed);
    CHECK(s.rich == RichState::available);
}

TEST_CASE("rich: an empty body is no information", "[model][rich]") {
    Source s;
    REQUIRE(apply_rich(s, kPidf, kamailio("open", "away", "Lunch"), kNow).changed);
    // RFC 6665 §4.1.3: Kamailio sends no body and no Content-Type for a
    // presentity that never published; never "offline".
    for (const std::string_view type : {std::string_view{}, kPidf}) {
        for (const std::string_view body : {std::string_view{}, std::string_view{"\r\n  \r\n"}}) {
            const auto r = apply_rich(s, type, body, kNow + 10);
            CHECK(r.ignored);
            CHECK_FALSE(r.changed);
            CHECK(r.error.empty());
        }
    }
    CHECK(s.rich == RichState::away);
    CHECK(s.message == "Lunch");
    CHECK(s.received_at == kNow);
    CHECK(s.body_error.empty());
    // Nothing known yet stays unknown.
    Source fresh;
    CHECK(apply_rich(fresh, kPidf, "", kNow).ignored);
    CHECK_FALSE(fresh.known);
    CHECK(fresh.rich == RichState::unknown);
}

TEST_CASE("rich: a malformed body keeps the state and sets body_error until a good one", "[model][rich]") {
    Source s;
    REQUIRE(apply_rich(s, kPidf, kamailio("open", "meeting", "Standup"), kNow).changed);
    auto r = apply_rich(s, kPidf, "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><tuple>", kNow + 5);
    CHECK_FALSE(r.changed);
    CHECK_FALSE(r.ignored);
    CHECK(r.error.rfind("malformed: ", 0) == 0);
    CHECK(s.body_error == r.error);
    CHECK(s.rich == RichState::busy);
    CHECK(s.message == "Standup");
    CHECK(s.received_at == kNow);
    REQUIRE(s.entries.size() == 2);

    // Another error code, same rule.
    r = apply_rich(s, kPidf, "<presence xmlns=\"urn:example:not-pidf\"/>", kNow + 6);
    CHECK(r.error.rfind("wrong_root: ", 0) == 0);
    CHECK(s.body_error == r.error);

    // A good body clears it (the state is the same: not changed).
    r = apply_rich(s, kPidf, kamailio("open", "meeting", "Standup"), kNow + 7);
    CHECK(r.error.empty());
    CHECK_FALSE(r.changed);
    CHECK(s.body_error.empty());
    CHECK(s.received_at == kNow + 7);
}

TEST_CASE("rich: content types", "[model][rich]") {
    Source s;
    SECTION("type/subtype only, case-insensitive, parameters ignored") {
        CHECK(apply_rich(s, "Application/PIDF+XML; charset=UTF-8", asterisk_pidf("Ready", "open"), kNow).changed);
        CHECK(s.rich == RichState::available);
    }
    SECTION("another type is ignored with an error and bad_body") {
        REQUIRE(apply_rich(s, kPidf, asterisk_pidf("Ready", "open"), kNow).changed);
        auto r = apply_rich(s, "text/plain", "Ready", kNow + 1);
        CHECK(r.ignored);
        CHECK_FALSE(r.changed);
        CHECK(r.error == "unexpected content type text/plain");
        CHECK(s.body_error == r.error);
        CHECK(s.rich == RichState::available);
        CHECK(s.received_at == kNow);
        // dialog-info is not rich presence.
        r = apply_rich(s, kDialog, asterisk_dialog(1, "", kHeldInner), kNow + 2);
        CHECK(r.ignored);
        CHECK(r.error == "unexpected content type application/dialog-info+xml");
        // A body without a Content-Type.
        r = apply_rich(s, "", asterisk_pidf("Ready", "open"), kNow + 3);
        CHECK(r.error == "unexpected content type (none)");
    }
}

TEST_CASE("rich: RPID from/until is read against now", "[model][rich]") {
    const std::string body = R"(<presence xmlns="urn:ietf:params:xml:ns:pidf" )"
                             R"(xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" )"
                             R"(xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:a@x">)"
                             R"(<tuple id="t"><status><basic>open</basic></status></tuple>)"
                             R"(<dm:person id="p" until="2024-01-01T09:00:00Z"><rpid:activities><rpid:vacation/>)"
                             R"(</rpid:activities><dm:note>Skiing</dm:note></dm:person></presence>)";
    Source s;
    apply_rich(s, kPidf, body, kNow - 7200);  // 08:00Z: still on vacation
    CHECK(s.rich == RichState::away);
    CHECK(s.message == "Skiing");
    const auto r = apply_rich(s, kPidf, body, kNow);  // 10:00Z: the person has expired
    CHECK(r.changed);
    CHECK(s.rich == RichState::available);
    CHECK(s.message.empty());
    CHECK(s.entries.size() == 2);  // kept as received, for diagnostics
}

TEST_CASE("telephony: Asterisk dialog-info ringing, busy, held, idle", "[model][telephony]") {
    Source s;
    auto r = apply_telephony(s, kDialog, asterisk_dialog(4, R"( direction="recipient")", kRingingInner), kNow);
    CHECK(r.changed);
    CHECK_FALSE(r.refresh);
    CHECK(s.known);
    CHECK(s.telephony == TelephonyState::ringing);
    CHECK(s.message == "Bob");
    REQUIRE(s.dialogs.dialogs().size() == 1);
    CHECK(s.dialogs.dialogs()[0].id == "1001");

    r = apply_telephony(s, kDialog, asterisk_dialog(5, "", "  <state>confirmed</state>\n"), kNow + 1);
    CHECK(r.changed);
    CHECK(s.telephony == TelephonyState::busy);
    CHECK(s.message.empty());

    r = apply_telephony(s, kDialog, asterisk_dialog(6, "", kHeldInner), kNow + 2);
    CHECK(r.changed);
    CHECK(s.telephony == TelephonyState::held);

    r = apply_telephony(s, kDialog, asterisk_dialog(7, "", "  <state>terminated</state>\n"), kNow + 3);
    CHECK(r.changed);
    CHECK(s.telephony == TelephonyState::idle);
    CHECK(s.dialogs.dialogs().empty());
    CHECK(s.received_at == kNow + 3);

    // Same state again: received, not changed.
    r = apply_telephony(s, kDialog, asterisk_dialog(8, "", "  <state>terminated</state>\n"), kNow + 4);
    CHECK_FALSE(r.changed);
    CHECK(s.received_at == kNow + 4);
}

TEST_CASE("telephony: partial documents, version gaps and stale partials", "[model][telephony]") {
    Source s;
    REQUIRE(apply_telephony(s, kDialog, dialog_doc(1, "full", row("a", "confirmed")), kNow).changed);
    CHECK(s.telephony == TelephonyState::busy);

    SECTION("partial merges rows by id") {
        auto r = apply_telephony(s, kDialog, dialog_doc(2, "partial", row("b", "early")), kNow + 1);
        CHECK(r.changed);
        CHECK_FALSE(r.refresh);
        CHECK(s.telephony == TelephonyState::ringing);
        CHECK(s.message == "b");
        CHECK(s.dialogs.dialogs().size() == 2);
    }
    SECTION("a version gap is applied and asks for a refresh") {
        auto r = apply_telephony(s, kDialog, dialog_doc(4, "partial", row("a", "terminated")), kNow + 1);
        CHECK(r.refresh);
        CHECK(r.changed);
        CHECK_FALSE(r.ignored);
        CHECK(s.telephony == TelephonyState::idle);
        CHECK(s.received_at == kNow + 1);
    }
    SECTION("an older or duplicate partial is ignored unprocessed") {
        REQUIRE(apply_telephony(s, kDialog, dialog_doc(2, "partial", row("b", "early")), kNow + 1).changed);
        for (const unsigned version : {1u, 2u}) {
            auto r = apply_telephony(s, kDialog, dialog_doc(version, "partial", row("a", "terminated")), kNow + 2);
            CHECK(r.ignored);
            CHECK_FALSE(r.changed);
            CHECK_FALSE(r.refresh);
            CHECK(r.error.empty());
        }
        CHECK(s.telephony == TelephonyState::ringing);
        CHECK(s.received_at == kNow + 1);
        CHECK(s.dialogs.dialogs().size() == 2);
    }
    SECTION("a full document resynchronises whatever its version") {
        auto r = apply_telephony(s, kDialog, dialog_doc(0, "full", ""), kNow + 1);
        CHECK(r.changed);
        CHECK_FALSE(r.refresh);
        CHECK(s.telephony == TelephonyState::idle);
    }
    SECTION("a new subscription restarts version tracking") {
        reset_tracking(s);
        CHECK(s.telephony == TelephonyState::busy);  // the state stays until a body says otherwise
        // Version 0 partial after the reset is the first document, not stale.
        auto r = apply_telephony(s, kDialog, dialog_doc(0, "partial", row("c", "trying", "initiator")), kNow + 1);
        CHECK_FALSE(r.ignored);
        CHECK(r.changed);
        CHECK(s.telephony == TelephonyState::dialing);
    }
}

TEST_CASE("telephony: bad bodies keep the state", "[model][telephony]") {
    Source s;
    REQUIRE(apply_telephony(s, kDialog, asterisk_dialog(1, "", "  <state>confirmed</state>\n"), kNow).changed);
    auto r = apply_telephony(s, kDialog, "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\"", kNow + 1);
    CHECK(r.error.rfind("malformed: ", 0) == 0);
    CHECK(s.body_error == r.error);
    CHECK(s.telephony == TelephonyState::busy);
    r = apply_telephony(s, kDialog, "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" state=\"full\"/>",
                        kNow + 2);
    CHECK(r.error.rfind("malformed: ", 0) == 0);  // no version
    CHECK(apply_telephony(s, kDialog, "", kNow + 3).ignored);
    CHECK(s.body_error == r.error);  // an empty body clears nothing
    r = apply_telephony(s, "text/xml", asterisk_dialog(2, "", "  <state>terminated</state>\n"), kNow + 4);
    CHECK(r.ignored);
    CHECK(r.error == "unexpected content type text/xml");
    CHECK(s.telephony == TelephonyState::busy);
    r = apply_telephony(s, "APPLICATION/Dialog-Info+XML", asterisk_dialog(3, "", "  <state>terminated</state>\n"),
                        kNow + 5);
    CHECK(r.changed);
    CHECK(s.body_error.empty());
    CHECK(s.telephony == TelephonyState::idle);
}

TEST_CASE("telephony: PIDF for telephony_event = presence", "[model][telephony]") {
    Source s;
    CHECK(apply_telephony(s, kPidf, asterisk_pidf("Ringing", "closed"), kNow).changed);
    CHECK(s.telephony == TelephonyState::ringing);
    CHECK(s.message.empty());
    CHECK(apply_telephony(s, kPidf, asterisk_pidf("Ready", "open"), kNow + 1).changed);
    CHECK(s.telephony == TelephonyState::idle);
    auto r = apply_telephony(s, kPidf, "<presence/>", kNow + 2);
    CHECK(r.error.rfind("wrong_root: ", 0) == 0);
    CHECK(s.telephony == TelephonyState::idle);
}

TEST_CASE("telephony_from_pidf rows", "[model][telephony]") {
    // presenced(8) TELEPHONY PRESENCE MAPPING, PIDF table, in order.
    CHECK(telephony_from_pidf(pidf(asterisk_pidf("Ringing", "closed"))) == TelephonyState::ringing);
    CHECK(telephony_from_pidf(pidf(asterisk_pidf("ringing", "open"))) == TelephonyState::ringing);
    CHECK(telephony_from_pidf(pidf(asterisk_pidf("On hold", "closed"))) == TelephonyState::held);
    CHECK(telephony_from_pidf(pidf(asterisk_pidf("On the phone", "closed"))) == TelephonyState::busy);
    CHECK(telephony_from_pidf(pidf(asterisk_pidf("Busy", "closed"))) == TelephonyState::busy);
    CHECK(telephony_from_pidf(pidf(kamailio("open", "on-the-phone", "Call"))) == TelephonyState::busy);
    CHECK(telephony_from_pidf(pidf(kamailio("open", "busy", "Working"))) == TelephonyState::busy);
    CHECK(telephony_from_pidf(pidf(asterisk_pidf("Ready", "open"))) == TelephonyState::idle);
    CHECK(telephony_from_pidf(pidf(kamailio("open", "away", "Lunch"))) == TelephonyState::idle);
    CHECK(telephony_from_pidf(pidf(asterisk_pidf("Unavailable", "closed"))) == TelephonyState::offline);
    CHECK(telephony_from_pidf(pidf(kamailio("closed", "meeting", "Gone"))) == TelephonyState::offline);
    CHECK(telephony_from_pidf(pidf(R"(<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@x">)"
                                   R"(<tuple id="t"><status/></tuple></presence>)")) == TelephonyState::unknown);
    // The note on a tuple counts like the presence-level one.
    CHECK(telephony_from_pidf(pidf(R"(<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@x">)"
                                   R"(<tuple id="t"><status><basic>closed</basic></status><note>On hold</note>)"
                                   R"(</tuple></presence>)")) == TelephonyState::held);
}

TEST_CASE("aggregate: the preferred source wins when fresh and positive", "[model][aggregate]") {
    const std::vector<Source> sources{source("pbx", true, true, true, kNow + 100, RichState::busy),
                                      source("ps", true, true, true, kNow, RichState::away)};
    const Shown shown = aggregate(Kind::rich, sources, "ps");  // older, but preferred
    CHECK(shown.rich == RichState::away);
    CHECK(shown.source == "ps");
    CHECK(shown.received_at == kNow);
    CHECK_FALSE(shown.stale);
    CHECK(shown.message == "ps message");
}

TEST_CASE("aggregate: a stale preferred source gives way to a fresh one", "[model][aggregate]") {
    const std::vector<Source> sources{source("ps", true, false, true, kNow + 100, RichState::away),
                                      source("pbx", true, true, true, kNow, RichState::busy)};
    const Shown shown = aggregate(Kind::rich, sources, "ps");
    CHECK(shown.rich == RichState::busy);
    CHECK(shown.source == "pbx");
    CHECK_FALSE(shown.stale);
}

TEST_CASE("aggregate: a preferred source whose connector is not positive gives way", "[model][aggregate]") {
    const std::vector<Source> sources{source("ps", true, true, false, kNow + 100, RichState::away),
                                      source("pbx", true, true, true, kNow, RichState::busy)};
    const Shown shown = aggregate(Kind::rich, sources, "ps");
    CHECK(shown.source == "pbx");
    CHECK(shown.rich == RichState::busy);
    CHECK_FALSE(shown.stale);
}

TEST_CASE("aggregate: among stale sources the newest wins, shown stale", "[model][aggregate]") {
    const std::vector<Source> sources{source("ps", true, false, true, kNow, RichState::away),
                                      source("pbx", true, false, true, kNow + 5, RichState::busy)};
    const Shown shown = aggregate(Kind::rich, sources, "ps");
    CHECK(shown.source == "pbx");
    CHECK(shown.rich == RichState::busy);
    CHECK(shown.received_at == kNow + 5);
    CHECK(shown.stale);
    // A fresh source behind a negative connector is no better than a stale one.
    const std::vector<Source> mixed{source("a", true, true, false, kNow, RichState::away),
                                    source("b", true, false, true, kNow + 5, RichState::busy)};
    CHECK(aggregate(Kind::rich, mixed, "").source == "b");
    CHECK(aggregate(Kind::rich, mixed, "").stale);
}

TEST_CASE("aggregate: no known source is unknown", "[model][aggregate]") {
    // Fresh and positive but without any body yet does not count.
    const std::vector<Source> sources{source("ps", false, true, true, 0), source("pbx", false, true, true, 0)};
    for (const Kind kind : {Kind::rich, Kind::telephony}) {
        const Shown shown = aggregate(kind, sources, "ps");
        CHECK(shown.rich == RichState::unknown);
        CHECK(shown.telephony == TelephonyState::unknown);
        CHECK(shown.source.empty());
        CHECK(shown.stale);
        CHECK(shown.message.empty());
    }
    CHECK(aggregate(Kind::rich, {}, "ps").source.empty());
}

TEST_CASE("aggregate: among equals the preferred, then configuration order", "[model][aggregate]") {
    const std::vector<Source> sources{source("a", true, false, true, kNow, RichState::away),
                                      source("b", true, false, true, kNow, RichState::busy),
                                      source("c", true, false, true, kNow, RichState::dnd)};
    CHECK(aggregate(Kind::rich, sources, "b").source == "b");
    CHECK(aggregate(Kind::rich, sources, "c").rich == RichState::dnd);
    CHECK(aggregate(Kind::rich, sources, "").source == "a");
    CHECK(aggregate(Kind::rich, sources, "zzz").source == "a");
    // Fresh-and-positive equals, no preferred among them: the first.
    const std::vector<Source> fresh{source("a", true, true, true, kNow), source("b", true, true, true, kNow)};
    CHECK(aggregate(Kind::rich, fresh, "").source == "a");
}

TEST_CASE("aggregate: telephony shows the telephony state", "[model][aggregate]") {
    std::vector<Source> sources{source("pbx", true, true, true, kNow)};
    sources[0].telephony = TelephonyState::ringing;
    sources[0].message = "Bob";
    const Shown shown = aggregate(Kind::telephony, sources, "pbx");
    CHECK(shown.telephony == TelephonyState::ringing);
    CHECK(shown.rich == RichState::unknown);
    CHECK(shown.message == "Bob");
    CHECK(shown.source == "pbx");
}
