// PIDF/RPID/data-model parsing and the PR-1 reduction (rfc-checklist 12,
// interop.md §2 item 11). Bodies as Kamailio and Asterisk send them.
#include <catch2/catch.hpp>

#include <ctime>
#include <string>

#include "presence/bodies.hpp"

using namespace presenced::presence;

namespace {

const std::string kOpen =
    R"(<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" )"
    R"(xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:alice@127.0.0.1">)";
const std::string kClose = "</presence>";

std::string tuple(const std::string& basic, const std::string& extra = "") {
    return R"(<tuple id="t"><status><basic>)" + basic + "</basic></status>" + extra + "</tuple>";
}
std::string person(const std::string& activities, const std::string& extra = "") {
    return R"(<dm:person id="p"><rpid:activities>)" + activities + "</rpid:activities>" + extra + "</dm:person>";
}

RichDocument parsed(const std::string& xml) {
    auto r = parse_pidf(xml);
    INFO(xml);
    if (!r) FAIL("parse_pidf: " << r.error().code << ": " << r.error().message);
    return *r;
}
RichState state_of(const std::string& xml) { return normalise_rich(parsed(xml)); }
std::string error_of(const std::string& xml, const BodyLimits& limits = {}) {
    auto r = parse_pidf(xml, limits);
    return r ? std::string("ok") : r.error().code;
}

// The Kamailio lab's observed bodies (lab/kamailio/README.md).
const std::string kKamailioOnThePhone = R"(<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:alice@127.0.0.1">
<tuple id="tuple-alice">
<status><basic>open</basic></status>
<contact>sip:alice@127.0.0.1</contact>
<note>On the phone</note>
</tuple>
<dm:person id="person-alice">
<rpid:activities><rpid:on-the-phone/></rpid:activities>
<dm:note>On the phone</dm:note>
</dm:person>
</presence>)";

const std::string kKamailioClosedAway = R"(<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:alice@127.0.0.1">
<tuple id="tuple-alice">
<status><basic>closed</basic></status>
<contact>sip:alice@127.0.0.1</contact>
<note>Gone home</note>
</tuple>
<dm:person id="person-alice">
<rpid:activities><rpid:away/></rpid:activities>
<dm:note>Gone home</dm:note>
</dm:person>
</presence>)";

const std::string kKamailioRemoved = R"(<?xml version="1.0"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:alice@127.0.0.1">
  <tuple xmlns="urn:ietf:params:xml:ns:pidf" id="tuple-alice">
    <status xmlns="urn:ietf:params:xml:ns:pidf">
      <basic>closed</basic>
    </status>
  </tuple>
</presence>)";

// Asterisk res_pjsip_pidf_body_generator: presence-level note, one tuple
// named after the extension, open only when not in use.
std::string asterisk(const std::string& note, const std::string& basic) {
    return R"(<?xml version="1.0" encoding="UTF-8"?>
<presence entity="sip:1000@pbx.example.com" xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid">
 <note>)" + note +
           R"(</note>
 <tuple id="1000">
  <status>
   <basic>)" +
           basic +
           R"(</basic>
  </status>
  <contact priority="1">sip:watcher@192.0.2.10:5060</contact>
 </tuple>
</presence>)";
}

}  // namespace

TEST_CASE("Kamailio: on the phone is busy with the person note", "[pidf]") {
    const auto doc = parsed(kKamailioOnThePhone);
    CHECK(doc.entity == "sip:alice@127.0.0.1");
    REQUIRE(doc.entries.size() == 2);
    CHECK(doc.entries[0].kind == RichEntry::Kind::tuple);
    CHECK(doc.entries[0].id == "tuple-alice");
    CHECK(doc.entries[0].open == std::optional<bool>(true));
    CHECK(doc.entries[0].contact == "sip:alice@127.0.0.1");
    CHECK(doc.entries[0].note == "On the phone");
    CHECK(doc.entries[1].kind == RichEntry::Kind::person);
    CHECK(doc.entries[1].id == "person-alice");
    CHECK(doc.entries[1].activities == std::vector<std::string>{"on-the-phone"});
    CHECK(normalise_rich(doc) == RichState::busy);
    CHECK(rich_message(doc) == "On the phone");
}

TEST_CASE("Kamailio: closed with away is offline, basic beats activities", "[pidf]") {
    // rfc-checklist 12.20e: a closed basic status is offline whatever the
    // activities say; the note is still the message.
    const auto doc = parsed(kKamailioClosedAway);
    CHECK(doc.entries[0].open == std::optional<bool>(false));
    CHECK(normalise_rich(doc) == RichState::offline);
    CHECK(rich_message(doc) == "Gone home");
}

TEST_CASE("Kamailio: the made-up closed body after unpublish is offline", "[pidf]") {
    const auto doc = parsed(kKamailioRemoved);
    REQUIRE(doc.entries.size() == 1);
    CHECK(doc.entries[0].id == "tuple-alice");
    CHECK(normalise_rich(doc) == RichState::offline);
    CHECK(rich_message(doc).empty());
}

TEST_CASE("namespaces are matched by URI, never by prefix", "[pidf]") {
    SECTION("ns2:, r:, dm: prefixes") {
        const auto doc = parsed(R"(<ns2:presence xmlns:ns2="urn:ietf:params:xml:ns:pidf" )"
                                R"(xmlns:r="urn:ietf:params:xml:ns:pidf:rpid" )"
                                R"(xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="pres:bob@example.com">)"
                                R"(<ns2:tuple id="a"><ns2:status><ns2:basic>open</ns2:basic></ns2:status></ns2:tuple>)"
                                R"(<dm:person id="p"><r:activities><r:vacation/></r:activities></dm:person>)"
                                R"(</ns2:presence>)");
        CHECK(doc.entity == "pres:bob@example.com");
        REQUIRE(doc.entries.size() == 2);
        CHECK(doc.entries[0].open == std::optional<bool>(true));
        CHECK(doc.entries[1].activities == std::vector<std::string>{"vacation"});
        CHECK(normalise_rich(doc) == RichState::away);
    }
    SECTION("default namespace redeclared on a person, RPID as the default inside activities") {
        const auto doc = parsed(R"(<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:b@x">)"
                                R"(<tuple id="a"><status><basic>open</basic></status></tuple>)"
                                R"(<person xmlns="urn:ietf:params:xml:ns:pidf:data-model" id="p">)"
                                R"(<activities xmlns="urn:ietf:params:xml:ns:pidf:rpid"><busy/></activities>)"
                                R"(<note>Deep work</note></person></presence>)");
        REQUIRE(doc.entries.size() == 2);
        CHECK(doc.entries[1].kind == RichEntry::Kind::person);
        CHECK(doc.entries[1].note == "Deep work");
        CHECK(normalise_rich(doc) == RichState::busy);
    }
    SECTION("a right prefix bound to a wrong URI is not RPID") {
        const auto doc = parsed(R"(<presence xmlns="urn:ietf:params:xml:ns:pidf" )"
                                R"(xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:example:fake">)"
                                R"(<tuple id="a"><status><basic>open</basic></status></tuple>)"
                                R"(<dm:person id="p"><rpid:activities><rpid:away/></rpid:activities></dm:person>)"
                                R"(</presence>)");
        CHECK(doc.entries[1].activities.empty());
        CHECK(normalise_rich(doc) == RichState::available);
    }
    SECTION("a PIDF root in no namespace or another one is wrong_root") {
        CHECK(error_of(R"(<presence entity="sip:a@b"/>)") == "wrong_root");
        CHECK(error_of(R"(<presence xmlns="urn:ietf:params:xml:ns:pidf:rpid"/>)") == "wrong_root");
        CHECK(error_of(R"(<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full"/>)") ==
              "wrong_root");
    }
}

TEST_CASE("missing basic is unknown unless activities say", "[pidf]") {
    CHECK(state_of(kOpen + R"(<tuple id="t"><status/></tuple>)" + kClose) == RichState::unknown);
    CHECK(state_of(kOpen + R"(<tuple id="t"/>)" + kClose) == RichState::unknown);
    CHECK(state_of(kOpen + kClose) == RichState::unknown);
    CHECK(state_of(kOpen + tuple("maybe") + kClose) == RichState::unknown);
    CHECK(state_of(kOpen + R"(<tuple id="t"><status/></tuple>)" + person("<rpid:meal/>") + kClose) == RichState::away);
    const auto doc = parsed(kOpen + R"(<tuple id="t"><status/></tuple>)" + kClose);
    CHECK_FALSE(doc.entries[0].open.has_value());
}

TEST_CASE("several tuples: one open is available, all closed is offline", "[pidf]") {
    CHECK(state_of(kOpen + tuple("closed") + tuple("open") + tuple("closed") + kClose) == RichState::available);
    CHECK(state_of(kOpen + tuple("closed") + tuple("closed") + kClose) == RichState::offline);
    // A tuple without basic does not make the others less closed.
    CHECK(state_of(kOpen + tuple("closed") + R"(<tuple id="u"><status/></tuple>)" + kClose) == RichState::offline);
    // basic is read with surrounding whitespace.
    CHECK(state_of(kOpen + tuple("\n  open\n ") + kClose) == RichState::available);
}

TEST_CASE("person activities beat tuple activities", "[pidf]") {
    const std::string tuple_busy = tuple("open", "<rpid:activities><rpid:on-the-phone/></rpid:activities>");
    CHECK(state_of(kOpen + tuple_busy + kClose) == RichState::busy);
    CHECK(state_of(kOpen + tuple_busy + person("<rpid:vacation/>") + kClose) == RichState::away);
    // A person with no activities still decides: the tuple's do not count.
    CHECK(state_of(kOpen + tuple_busy + person("") + kClose) == RichState::available);
    // Activities under the tuple's <status> are read too.
    CHECK(state_of(kOpen +
                   R"(<tuple id="t"><status><basic>open</basic><rpid:activities><rpid:meeting/></rpid:activities>)"
                   R"(</status></tuple>)" +
                   kClose) == RichState::busy);
}

TEST_CASE("the newest person by timestamp decides", "[pidf]") {
    const auto p = [](const std::string& id, const std::string& act, const std::string& ts, const std::string& note) {
        return R"(<dm:person id=")" + id + R"("><rpid:activities>)" + act + "</rpid:activities><dm:note>" + note +
               "</dm:note>" + (ts.empty() ? "" : "<dm:timestamp>" + ts + "</dm:timestamp>") + "</dm:person>";
    };
    SECTION("newer later in the document") {
        const auto doc = parsed(kOpen + tuple("open") + p("a", "<rpid:busy/>", "2024-01-01T10:00:00Z", "old") +
                                p("b", "<rpid:away/>", "2024-01-01T11:00:00Z", "new") + kClose);
        CHECK(normalise_rich(doc) == RichState::away);
        CHECK(rich_message(doc) == "new");
    }
    SECTION("newer earlier in the document") {
        CHECK(state_of(kOpen + tuple("open") + p("a", "<rpid:busy/>", "2024-01-01T11:00:00Z", "x") +
                       p("b", "<rpid:away/>", "2024-01-01T10:00:00Z", "y") + kClose) == RichState::busy);
    }
    SECTION("time zone offsets are honoured") {
        // 12:30+02:00 is 10:30Z, older than 11:00Z.
        CHECK(state_of(kOpen + tuple("open") + p("a", "<rpid:busy/>", "2024-01-01T12:30:00+02:00", "x") +
                       p("b", "<rpid:away/>", "2024-01-01T11:00:00Z", "y") + kClose) == RichState::away);
        CHECK(state_of(kOpen + tuple("open") + p("a", "<rpid:busy/>", "2024-01-01T11:00:00.5Z", "x") +
                       p("b", "<rpid:away/>", "2024-01-01T11:00:00Z", "y") + kClose) == RichState::busy);
    }
    SECTION("ties and missing timestamps: document order, timestamped beats none") {
        CHECK(state_of(kOpen + tuple("open") + p("a", "<rpid:busy/>", "2024-01-01T11:00:00Z", "x") +
                       p("b", "<rpid:away/>", "2024-01-01T11:00:00Z", "y") + kClose) == RichState::busy);
        CHECK(state_of(kOpen + tuple("open") + p("a", "<rpid:busy/>", "", "x") + p("b", "<rpid:away/>", "", "y") +
                       kClose) == RichState::busy);
        CHECK(state_of(kOpen + tuple("open") + p("a", "<rpid:busy/>", "", "x") +
                       p("b", "<rpid:away/>", "2024-01-01T11:00:00Z", "y") + kClose) == RichState::away);
        CHECK(state_of(kOpen + tuple("open") + p("a", "<rpid:busy/>", "garbage", "x") +
                       p("b", "<rpid:away/>", "2024-01-01T11:00:00Z", "y") + kClose) == RichState::away);
    }
}

TEST_CASE("activity classes", "[pidf]") {
    const auto with = [](const std::string& activity, const std::string& basic = "open") {
        return state_of(kOpen + tuple(basic) + person("<rpid:" + activity + "/>") + kClose);
    };
    SECTION("away class over an open tuple or no basic; closed is offline") {
        for (const char* a :
             {"away", "vacation", "holiday", "travel", "in-transit", "steering", "sleeping", "meal", "breakfast",
              "dinner", "shopping", "playing", "spectator", "tv", "worship", "looking-for-work"}) {
            INFO(a);
            CHECK(with(a) == RichState::away);
            CHECK(with(a, "closed") == RichState::offline);
            CHECK(state_of(kOpen + person(std::string("<rpid:") + a + "/>") + kClose) == RichState::away);
        }
    }
    SECTION("busy class over an open tuple or no basic; closed is offline") {
        for (const char* a : {"on-the-phone", "busy", "meeting", "appointment", "presentation", "performance"}) {
            INFO(a);
            CHECK(with(a) == RichState::busy);
            CHECK(with(a, "closed") == RichState::offline);
            CHECK(state_of(kOpen + person(std::string("<rpid:") + a + "/>") + kClose) == RichState::busy);
        }
    }
    SECTION("no effect") {
        for (const char* a : {"working", "unknown", "other", "made-up-activity"}) {
            INFO(a);
            CHECK(with(a) == RichState::available);
            CHECK(with(a, "closed") == RichState::offline);
        }
    }
    SECTION("permanent-absence is offline whatever else is said") {
        CHECK(with("permanent-absence") == RichState::offline);
        CHECK(state_of(kOpen + tuple("open") + person("<rpid:on-the-phone/><rpid:permanent-absence/>") + kClose) ==
              RichState::offline);
    }
    SECTION("busy beats away") {
        CHECK(state_of(kOpen + tuple("open") + person("<rpid:away/><rpid:meeting/>") + kClose) == RichState::busy);
    }
    SECTION("other carries its text") {
        const auto doc = parsed(kOpen + person("<rpid:other> Gardening </rpid:other><rpid:tv/>") + kClose);
        CHECK(doc.entries[0].activities == std::vector<std::string>{"other:Gardening", "tv"});
    }
}

TEST_CASE("user-input idle is away", "[pidf]") {
    CHECK(state_of(kOpen + tuple("open") +
                   R"(<dm:person id="p"><rpid:user-input idle-threshold="600">idle</rpid:user-input></dm:person>)" +
                   kClose) == RichState::away);
    CHECK(state_of(kOpen + tuple("open") +
                   R"(<dm:person id="p"><rpid:user-input>active</rpid:user-input></dm:person>)" + kClose) ==
          RichState::available);
    // Without persons, a device's idleness counts.
    const auto doc = parsed(kOpen + tuple("open") +
                            R"(<dm:device id="d"><rpid:user-input>idle</rpid:user-input>)"
                            R"(<dm:deviceID>urn:uuid:1</dm:deviceID></dm:device>)" +
                            kClose);
    CHECK(doc.entries[1].kind == RichEntry::Kind::device);
    CHECK(doc.entries[1].idle);
    CHECK(doc.entries[1].device_id == "urn:uuid:1");
    CHECK(normalise_rich(doc) == RichState::away);
}

TEST_CASE("dnd: busy with a Do not disturb note", "[pidf]") {
    CHECK(state_of(kOpen + tuple("open") + person("<rpid:busy/>", "<dm:note>Do not disturb</dm:note>") + kClose) ==
          RichState::dnd);
    CHECK(state_of(kOpen + tuple("open") + person("<rpid:busy/>", "<dm:note> dnd </dm:note>") + kClose) ==
          RichState::dnd);
    CHECK(state_of(kOpen + R"(<note>DO NOT DISTURB</note>)" + tuple("open") + person("<rpid:busy/>") + kClose) ==
          RichState::dnd);
    // The note alone, or with another busy-class activity, is not dnd.
    CHECK(state_of(kOpen + tuple("open") + person("", "<dm:note>DND</dm:note>") + kClose) == RichState::available);
    CHECK(state_of(kOpen + tuple("open") + person("<rpid:meeting/>", "<dm:note>DND</dm:note>") + kClose) ==
          RichState::busy);
    CHECK(state_of(kOpen + tuple("open") + person("<rpid:busy/>", "<dm:note>Busy</dm:note>") + kClose) ==
          RichState::busy);
}

TEST_CASE("Asterisk device-state notes on a closed tuple", "[pidf]") {
    CHECK(state_of(asterisk("Ready", "open")) == RichState::available);
    CHECK(state_of(asterisk("On the phone", "closed")) == RichState::busy);
    CHECK(state_of(asterisk("Ringing", "closed")) == RichState::busy);
    CHECK(state_of(asterisk("On hold", "closed")) == RichState::busy);
    CHECK(state_of(asterisk("Busy", "closed")) == RichState::busy);
    CHECK(state_of(asterisk("Unavailable", "closed")) == RichState::offline);
    const auto doc = parsed(asterisk("Ringing", "closed"));
    CHECK(doc.note == "Ringing");
    CHECK(rich_message(doc) == "Ringing");
    REQUIRE(doc.entries.size() == 1);
    CHECK(doc.entries[0].id == "1000");
    CHECK(doc.entries[0].contact == "sip:watcher@192.0.2.10:5060");
    CHECK(doc.entries[0].contact_priority == std::optional<double>(1.0));
    // The same note in a tuple or a person counts as well, in any case.
    CHECK(state_of(kOpen + tuple("closed", "<note>On hold</note>") + kClose) == RichState::busy);
    CHECK(state_of(kOpen + tuple("closed") + person("<rpid:away/>", "<dm:note> ON THE PHONE </dm:note>") + kClose) ==
          RichState::busy);
    // On a device it does not.
    CHECK(state_of(kOpen + tuple("closed") + R"(<dm:device id="d"><note>Busy</note></dm:device>)" + kClose) ==
          RichState::offline);
    // With an open tuple the note is only the message: the line is free.
    CHECK(state_of(asterisk("On the phone", "open")) == RichState::available);
}

TEST_CASE("closed beats activities except for the vendor hints", "[pidf]") {
    // rfc-checklist 12.20d/e.
    CHECK(state_of(kOpen + tuple("closed") + person("<rpid:meeting/>") + kClose) == RichState::offline);
    CHECK(state_of(kOpen + tuple("closed") +
                   R"(<dm:person id="p"><rpid:user-input>idle</rpid:user-input></dm:person>)" + kClose) ==
          RichState::offline);
    // busy with a DND note is dnd even when closed, and beats an Asterisk note.
    CHECK(state_of(kOpen + tuple("closed") + person("<rpid:busy/>", "<dm:note>Do not disturb</dm:note>") + kClose) ==
          RichState::dnd);
    CHECK(state_of(kOpen + "<note>On the phone</note>" + tuple("closed") +
                   person("<rpid:busy/>", "<dm:note>DND</dm:note>") + kClose) == RichState::dnd);
    // A DND note without the busy activity is no hint.
    CHECK(state_of(kOpen + tuple("closed") + person("<rpid:away/>", "<dm:note>DND</dm:note>") + kClose) ==
          RichState::offline);
    // permanent-absence stays offline even with a vendor hint.
    CHECK(state_of(kOpen + "<note>On the phone</note>" + tuple("closed") + person("<rpid:permanent-absence/>") +
                   kClose) == RichState::offline);
    // One open tuple among closed ones: activities decide again.
    CHECK(state_of(kOpen + tuple("closed") + tuple("open") + person("<rpid:meeting/>") + kClose) == RichState::busy);
}

TEST_CASE("notes: language preference and namespaces", "[pidf]") {
    const auto doc =
        parsed(kOpen + R"(<note xml:lang="fr">Bonjour</note><note xml:lang="EN-gb">Hello</note>)" +
               R"(<tuple id="t"><note xml:lang="de">Hallo</note><note>Plain</note><status><basic>open</basic></status>)"
               R"(</tuple>)" +
               R"(<dm:person id="p"><note xml:lang="de">Nur deutsch</note></dm:person>)" + kClose);
    CHECK(doc.note == "Hello");
    CHECK(doc.entries[0].note == "Plain");
    CHECK(doc.entries[1].note == "Nur deutsch");  // the only one; a PIDF <note> in a person is accepted
    CHECK(rich_message(doc) == "Nur deutsch");
    const auto tuple_only = parsed(kOpen + R"(<note>Presence</note>)" + tuple("open", "<note>Tuple</note>") + kClose);
    CHECK(rich_message(tuple_only) == "Tuple");
    CHECK(rich_message(parsed(kOpen + R"(<note>Presence</note>)" + tuple("open") + kClose)) == "Presence");
}

TEST_CASE("contact, priority, timestamp, deviceID and the wrong entity are kept as written", "[pidf]") {
    const auto doc =
        parsed(R"(<presence xmlns="urn:ietf:params:xml:ns:pidf" )"
               R"(xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="sip:not-who-we-asked@x">)"
               R"(<tuple id="t"><status><basic>open</basic></status>)"
               R"(<contact priority="0.25">sip:watcher@127.0.0.1</contact>)"
               R"(<timestamp>2024-05-01T10:00:00Z</timestamp><dm:deviceID>urn:uuid:d</dm:deviceID></tuple>)"
               R"(<tuple id="u"><contact priority="7">sip:u@x</contact></tuple>)"
               R"(<tuple id="v"><contact priority="high">sip:v@x</contact></tuple></presence>)");
    CHECK(doc.entity == "sip:not-who-we-asked@x");
    CHECK(doc.entries[0].contact == "sip:watcher@127.0.0.1");
    CHECK(doc.entries[0].contact_priority == std::optional<double>(0.25));
    CHECK(doc.entries[0].timestamp == "2024-05-01T10:00:00Z");
    CHECK(doc.entries[0].device_id == "urn:uuid:d");
    CHECK_FALSE(doc.entries[1].contact_priority.has_value());
    CHECK_FALSE(doc.entries[2].contact_priority.has_value());
    CHECK(normalise_rich(doc) == RichState::available);
}

TEST_CASE("unknown elements and attributes are ignored", "[pidf]") {
    const auto doc = parsed(
        R"(<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:x="urn:example:x" xmlns:c="urn:ietf:params:xml:ns:pidf:caps" )"
        R"(xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" x:flavour="odd" entity="sip:a@b">)"
        R"(<x:banner>hello</x:banner><tuple id="t" x:weird="1"><status><basic>open</basic><x:im>busy</x:im></status>)"
        R"(<c:servcaps><c:audio>true</c:audio></c:servcaps><x:note>not a PIDF note</x:note>)"
        R"(<rpid:activities><x:custom/></rpid:activities></tuple><x:tuple id="fake"/></presence>)");
    REQUIRE(doc.entries.size() == 1);
    CHECK(doc.entries[0].note.empty());
    CHECK(doc.entries[0].activities.empty());
    CHECK(normalise_rich(doc) == RichState::available);
}

TEST_CASE("mustUnderstand on an unknown extension refuses the document", "[pidf]") {
    const std::string head = R"(<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:e="urn:example:critical" )"
                             R"(xmlns:p="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><tuple id="t"><status>)"
                             R"(<basic>open</basic>)";
    const std::string tail = "</status></tuple></presence>";
    CHECK(error_of(head + R"(<e:lock mustUnderstand="true"/>)" + tail) == "must_understand");
    CHECK(error_of(head + R"(<e:lock mustUnderstand=" 1 "/>)" + tail) == "must_understand");
    CHECK(error_of(head + R"(<e:lock p:mustUnderstand="true"/>)" + tail) == "must_understand");
    CHECK(error_of(head + "<e:a><e:b><e:c mustUnderstand=\"1\"/></e:b></e:a>" + tail) == "must_understand");
    CHECK(error_of(head + R"(<lock xmlns="" mustUnderstand="true"/>)" + tail) == "must_understand");
    CHECK(error_of(head + R"(<e:lock mustUnderstand="false"/>)" + tail) == "ok");
    CHECK(error_of(head + R"(<e:lock mustUnderstand="0"/>)" + tail) == "ok");
    CHECK(error_of(head + R"(<e:lock e:mustUnderstand="true"/>)" + tail) == "ok");  // not the PIDF attribute
    // Elements we understand may carry it.
    CHECK(error_of(R"(<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b">)"
                   R"(<tuple id="t" mustUnderstand="true"><status><basic>open</basic></status></tuple></presence>)") ==
          "ok");
}

TEST_CASE("hostile and broken documents get an error, never a crash", "[pidf]") {
    SECTION("empty and not well-formed") {
        CHECK(error_of("") == "malformed");
        CHECK(error_of("   \r\n") == "malformed");
        CHECK(error_of("not xml at all") == "malformed");
        CHECK(error_of(kOpen + tuple("open")) == "malformed");  // truncated
        CHECK(error_of(kOpen + "<tuple id='t'></status></tuple>" + kClose) == "malformed");
        CHECK(error_of(kOpen + kClose + "<presence/>") == "malformed");  // two roots
        CHECK(error_of(R"(<presence xmlns="urn:ietf:params:xml:ns:pidf"><x:a/></presence>)") ==
              "malformed");  // unbound prefix
        CHECK(
            error_of(std::string("<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><note>\xff\xfe</note></presence>")) ==
            "malformed");  // bad UTF-8
        CHECK(error_of(std::string("<presence xmlns=\"urn:ietf:params:xml:ns:pidf\">") + '\0' + "</presence>") ==
              "malformed");
    }
    SECTION("DOCTYPE, entity bomb and external entity") {
        CHECK(error_of(R"(<?xml version="1.0"?><!DOCTYPE presence [<!ENTITY a "aaaaaaaaaa">)"
                       R"(<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>)"
                       R"(<presence xmlns="urn:ietf:params:xml:ns:pidf"><note>&c;</note></presence>)") == "malformed");
        CHECK(error_of(R"(<!DOCTYPE presence SYSTEM "http://example.com/evil.dtd">)"
                       R"(<presence xmlns="urn:ietf:params:xml:ns:pidf"/>)") == "malformed");
        CHECK(error_of(R"(<!DOCTYPE presence [<!ENTITY x SYSTEM "file:///etc/passwd">]>)"
                       R"(<presence xmlns="urn:ietf:params:xml:ns:pidf"><note>&x;</note></presence>)") == "malformed");
        CHECK(error_of(R"(<presence xmlns="urn:ietf:params:xml:ns:pidf"><note>&undefined;</note></presence>)") ==
              "malformed");
    }
    SECTION("size, depth, node, text and entry limits") {
        std::string big = kOpen + "<note>";
        while (big.size() < 2 * 1024 * 1024) big += "0123456789abcdef";
        big += "</note>" + kClose;
        CHECK(error_of(big) == "too_large");

        BodyLimits limits;
        std::string deep = kOpen;
        for (int i = 0; i < 40; ++i) deep += "<x:a xmlns:x='urn:x'>";
        for (int i = 0; i < 40; ++i) deep += "</x:a>";
        deep += kClose;
        CHECK(error_of(deep, limits) == "too_deep");

        limits.max_nodes = 50;
        std::string many = kOpen;
        for (int i = 0; i < 60; ++i) many += "<x:a xmlns:x='urn:x'/>";
        many += kClose;
        CHECK(error_of(many, limits) == "too_many_nodes");

        limits = {};
        limits.max_text = 100;
        CHECK(error_of(kOpen + "<note>" + std::string(101, 'n') + "</note>" + kClose, limits) == "text_too_long");
        CHECK(error_of(kOpen + R"(<tuple id=")" + std::string(101, 'i') + R"("/>)" + kClose, limits) ==
              "text_too_long");
        CHECK(error_of(kOpen + "<note>" + std::string(100, 'n') + "</note>" + kClose, limits) == "ok");

        limits = {};
        limits.max_entries = 3;
        CHECK(error_of(kOpen + tuple("open") + tuple("open") + person("") + kClose, limits) == "ok");
        CHECK(error_of(kOpen + tuple("open") + tuple("open") + person("") + R"(<dm:device id="d"/>)" + kClose,
                       limits) == "too_many_entries");
        // Unknown elements do not count as entries.
        CHECK(error_of(
                  kOpen + tuple("open") + "<x:t xmlns:x='urn:x'/><x:t xmlns:x='urn:x'/><x:t xmlns:x='urn:x'/>" + kClose,
                  limits) == "ok");
    }
}

TEST_CASE("RFC 3339 times with offsets and fractions", "[pidf][time]") {
    CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == std::optional<double>(0.0));
    CHECK(parse_rfc3339("2024-01-01T10:00:00Z") == std::optional<double>(1704103200.0));
    CHECK(parse_rfc3339("2024-01-01T12:30:00+02:30") == std::optional<double>(1704103200.0));
    CHECK(parse_rfc3339("2024-01-01T05:00:00-05:00") == std::optional<double>(1704103200.0));
    CHECK(parse_rfc3339("2024-01-01t10:00:00.25z") == std::optional<double>(1704103200.25));
    CHECK(parse_rfc3339("2024-02-29T00:00:00Z") == std::optional<double>(1709164800.0));  // leap day
    for (const char* bad : {"", "2024-01-01", "2024-01-01T10:00:00", "2024-13-01T00:00:00Z", "2024-01-01T10:00:00+2",
                            "2024-01-01T10:00:00Zjunk", "2024-01-01T10:00:00.Z", "yesterday"}) {
        INFO(bad);
        CHECK_FALSE(parse_rfc3339(bad).has_value());
    }
}

TEST_CASE("RPID from/until bound activities and entries", "[pidf][time]") {
    // 2024-01-01T10:00:00Z; kValiditySkew either side is still valid.
    const std::time_t now = 1704103200;
    const auto acts = [](const std::string& attrs, const std::string& activity) {
        return R"(<dm:person id="p"><rpid:activities )" + attrs + "><rpid:" + activity +
               "/></rpid:activities></dm:person>";
    };
    SECTION("the parser keeps the bounds as written") {
        const auto doc = parsed(kOpen + tuple("open") +
                                R"(<dm:person id="p" from="2024-01-01T09:00:00Z" until="2024-01-01T11:00:00Z">)"
                                R"(<rpid:activities until="2024-01-01T09:30:00Z"><rpid:meeting/></rpid:activities>)"
                                R"(<rpid:activities><rpid:away/></rpid:activities></dm:person>)" +
                                kClose);
        const RichEntry& p = doc.entries[1];
        CHECK(p.validity.from == "2024-01-01T09:00:00Z");
        CHECK(p.validity.until == "2024-01-01T11:00:00Z");
        CHECK(p.activities == std::vector<std::string>{"meeting", "away"});
        REQUIRE(p.bounded_activities.size() == 1);
        CHECK(p.bounded_activities[0].name == "meeting");
        CHECK(p.bounded_activities[0].validity.until == "2024-01-01T09:30:00Z");
        CHECK(p.bounded_activities[0].validity.from.empty());
        // Without a clock nothing is filtered: meeting still counts.
        CHECK(normalise_rich(doc) == RichState::busy);
        // At now the meeting is over: away.
        CHECK(normalise_rich(doc, now) == RichState::away);
    }
    SECTION("until in the past beyond the skew drops the activity") {
        const auto doc = parsed(kOpen + tuple("open") + acts(R"(until="2024-01-01T09:54:59Z")", "meeting") + kClose);
        CHECK(normalise_rich(doc, now) == RichState::available);
        CHECK(normalise_rich(doc, now - 2) == RichState::busy);
        // Within the skew it still holds.
        CHECK(normalise_rich(
                  parsed(kOpen + tuple("open") + acts(R"(until="2024-01-01T09:55:00Z")", "meeting") + kClose), now) ==
              RichState::busy);
    }
    SECTION("from in the future beyond the skew drops the activity") {
        const auto doc = parsed(kOpen + tuple("open") + acts(R"(from="2024-01-01T10:05:01Z")", "vacation") + kClose);
        CHECK(normalise_rich(doc, now) == RichState::available);
        CHECK(normalise_rich(doc, now + 2) == RichState::away);
        CHECK(normalise_rich(
                  parsed(kOpen + tuple("open") + acts(R"(from="2024-01-01T11:05:00+01:00")", "vacation") + kClose),
                  now) == RichState::away);
    }
    SECTION("an unparsable time is no bound") {
        const auto doc = parsed(kOpen + tuple("open") + acts(R"(from="soon" until="last week")", "meeting") + kClose);
        CHECK(normalise_rich(doc, now) == RichState::busy);
    }
    SECTION("an expired person is dropped with its notes; the older person decides") {
        const auto doc =
            parsed(kOpen + tuple("closed") +
                   R"(<dm:person id="old"><rpid:activities><rpid:away/></rpid:activities>)"
                   R"(<dm:timestamp>2024-01-01T08:00:00Z</dm:timestamp></dm:person>)"
                   R"(<dm:person id="new" until="2024-01-01T09:00:00Z"><rpid:activities><rpid:busy/></rpid:activities>)"
                   R"(<dm:note>DND</dm:note><dm:timestamp>2024-01-01T08:30:00Z</dm:timestamp></dm:person>)" +
                   kClose);
        CHECK(normalise_rich(doc) == RichState::dnd);
        CHECK(normalise_rich(doc, now) == RichState::offline);
        const RichDocument current = valid_at(doc, now);
        REQUIRE(current.entries.size() == 2);
        CHECK(current.entries[1].id == "old");
    }
    SECTION("a name also given without bounds stays valid") {
        const auto doc = parsed(kOpen + tuple("open") +
                                R"(<dm:person id="p"><rpid:activities><rpid:meeting/></rpid:activities>)"
                                R"(<rpid:activities until="2020-01-01T00:00:00Z"><rpid:meeting/></rpid:activities>)"
                                R"(</dm:person>)" +
                                kClose);
        CHECK(doc.entries[1].bounded_activities.empty());
        CHECK(normalise_rich(doc, now) == RichState::busy);
    }
    SECTION("a tuple outside its bounds does not count") {
        const auto doc = parsed(kOpen +
                                R"(<tuple id="t" until="2023-12-31T00:00:00Z">)"
                                R"(<status><basic>open</basic></status></tuple>)" +
                                kClose);
        CHECK(normalise_rich(doc) == RichState::available);
        CHECK(normalise_rich(doc, now) == RichState::unknown);
    }
}
