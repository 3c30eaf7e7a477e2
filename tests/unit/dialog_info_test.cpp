// dialog-info (RFC 4235): parser, version tracker and DM-1 normalisation
// (rfc-checklist 13.3-13.15). Bodies as Kamailio and Asterisk send them.
#include <catch2/catch.hpp>

#include <string>

#include "presence/bodies.hpp"

using namespace presenced::presence;

namespace {

// Copied from the Kamailio lab (shared/lab/kamailio/README.md, "Event: dialog").
const std::string kKamailioConfirmed = R"(<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="sip:alice@127.0.0.1">
  <dialog id="dlg-alice-1" call-id="dlg-alice-1-call@127.0.0.1" local-tag="lt-dlg-alice-1" remote-tag="rt-dlg-alice-1" direction="initiator">
<state>confirmed</state>
<local><identity>sip:alice@127.0.0.1</identity><target uri="sip:alice@127.0.0.1"/></local>
<remote><identity>sip:bob@127.0.0.1</identity><target uri="sip:bob@127.0.0.1"/></remote>
</dialog>
</dialog-info>
)";

const std::string kKamailioTerminated = R"(<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="2" state="full" entity="sip:alice@127.0.0.1">
  <dialog id="dlg-alice-1" call-id="dlg-alice-1-call@127.0.0.1" local-tag="lt-dlg-alice-1" remote-tag="rt-dlg-alice-1" direction="initiator">
<state>terminated</state>
<local><identity>sip:alice@127.0.0.1</identity><target uri="sip:alice@127.0.0.1"/></local>
<remote><identity>sip:bob@127.0.0.1</identity><target uri="sip:bob@127.0.0.1"/></remote>
</dialog>
</dialog-info>
)";

// Asterisk PJSIP shape (rfc-checklist 13.15): one dialog keyed by the
// extension, no call-id or tags, always full.
std::string asterisk(unsigned version, const std::string& dialog_body, const std::string& direction = "") {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"" +
           std::to_string(version) +
           "\" state=\"full\" entity=\"sip:1001@pbx.example\">\n"
           " <dialog id=\"1001\"" +
           (direction.empty() ? "" : " direction=\"" + direction + "\"") + ">\n" + dialog_body +
           " </dialog>\n</dialog-info>\n";
}

// A document with the given rows; each row is already serialised.
std::string doc(unsigned version, const std::string& state, const std::string& rows) {
    return "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"" + std::to_string(version) +
           "\" state=\"" + state + "\" entity=\"sip:alice@example.com\">" + rows + "</dialog-info>";
}

std::string row(const std::string& id, const std::string& state, const std::string& direction = "",
                const std::string& extra = "") {
    return "<dialog id=\"" + id + "\"" + (direction.empty() ? "" : " direction=\"" + direction + "\"") + "><state>" +
           state + "</state>" + extra + "</dialog>";
}

DialogDocument parsed(const std::string& xml) {
    auto r = parse_dialog_info(xml);
    INFO(xml);
    if (!r) FAIL("parse failed: " << r.error().code << ": " << r.error().message);
    return *r;
}

std::string error_of(const std::string& xml, const BodyLimits& limits = {}) {
    auto r = parse_dialog_info(xml, limits);
    return r ? std::string("ok") : r.error().code;
}

TelephonyState state_of(const std::string& xml) { return normalise_telephony(parsed(xml).dialogs); }

}  // namespace

TEST_CASE("dialog-info: Kamailio confirmed then terminated", "[dialog]") {
    const auto first = parsed(kKamailioConfirmed);
    CHECK(first.entity == "sip:alice@127.0.0.1");
    CHECK(first.version == 1);
    CHECK(first.full);
    REQUIRE(first.dialogs.size() == 1);
    const auto& d = first.dialogs[0];
    CHECK(d.id == "dlg-alice-1");
    CHECK(d.call_id == "dlg-alice-1-call@127.0.0.1");
    CHECK(d.local_tag == "lt-dlg-alice-1");
    CHECK(d.remote_tag == "rt-dlg-alice-1");
    CHECK(d.direction == "initiator");
    CHECK(d.state == "confirmed");
    CHECK(d.local_identity == "sip:alice@127.0.0.1");
    CHECK(d.remote_identity == "sip:bob@127.0.0.1");
    CHECK(d.local_rendering.empty());
    CHECK(normalise_telephony(first.dialogs) == TelephonyState::busy);
    CHECK(ringing_caller(first.dialogs).empty());

    DialogTracker tracker;
    CHECK(tracker.apply(first) == DialogTracker::Outcome::applied);
    CHECK(normalise_telephony(tracker.dialogs()) == TelephonyState::busy);

    const auto second = parsed(kKamailioTerminated);
    CHECK(second.version == 2);
    REQUIRE(second.dialogs.size() == 1);
    CHECK(second.dialogs[0].state == "terminated");
    CHECK(normalise_telephony(second.dialogs) == TelephonyState::idle);
    CHECK(tracker.apply(second) == DialogTracker::Outcome::applied);
    CHECK(tracker.dialogs().empty());
    CHECK(normalise_telephony(tracker.dialogs()) == TelephonyState::idle);
}

TEST_CASE("dialog-info: Asterisk ringing, busy, held, idle", "[dialog]") {
    DialogTracker tracker;
    const auto ringing = parsed(asterisk(0,
                                         "  <state>early</state>\n"
                                         "  <remote><identity display=\"Bob\">sip:1002@pbx.example</identity>"
                                         "<target uri=\"sip:1002@pbx.example\"/></remote>\n"
                                         "  <local><identity display=\"1001\">sip:1001@pbx.example</identity>"
                                         "<target uri=\"sip:1001@pbx.example\"/></local>\n",
                                         "recipient"));
    REQUIRE(ringing.dialogs.size() == 1);
    CHECK(ringing.dialogs[0].id == "1001");
    CHECK(ringing.dialogs[0].call_id.empty());
    CHECK(ringing.dialogs[0].remote_display == "Bob");
    CHECK(tracker.apply(ringing) == DialogTracker::Outcome::applied);
    CHECK(normalise_telephony(tracker.dialogs()) == TelephonyState::ringing);
    CHECK(ringing_caller(tracker.dialogs()) == "Bob");

    const auto busy = parsed(asterisk(1, "  <state>confirmed</state>\n"));
    CHECK(tracker.apply(busy) == DialogTracker::Outcome::applied);
    CHECK(normalise_telephony(tracker.dialogs()) == TelephonyState::busy);
    CHECK(ringing_caller(tracker.dialogs()).empty());

    const auto held = parsed(asterisk(2,
                                      "  <state>confirmed</state>\n"
                                      "  <local><target uri=\"sip:1001@pbx.example\">"
                                      "<param pname=\"+sip.rendering\" pvalue=\"no\"/></target></local>\n"));
    REQUIRE(held.dialogs.size() == 1);
    CHECK(held.dialogs[0].local_rendering == "no");
    CHECK(tracker.apply(held) == DialogTracker::Outcome::applied);
    CHECK(normalise_telephony(tracker.dialogs()) == TelephonyState::held);

    const auto idle = parsed(asterisk(3, "  <state>terminated</state>\n"));
    CHECK(tracker.apply(idle) == DialogTracker::Outcome::applied);
    CHECK(tracker.dialogs().empty());
    CHECK(normalise_telephony(tracker.dialogs()) == TelephonyState::idle);
}

TEST_CASE("dialog-info: DM-1 row states", "[dialog]") {
    CHECK(state_of(doc(1, "full", row("a", "early", "initiator"))) == TelephonyState::dialing);
    CHECK(state_of(doc(1, "full", row("a", "trying", "initiator"))) == TelephonyState::dialing);
    CHECK(state_of(doc(1, "full", row("a", "proceeding", "initiator"))) == TelephonyState::dialing);
    CHECK(state_of(doc(1, "full", row("a", "early"))) == TelephonyState::ringing);
    CHECK(state_of(doc(1, "full", row("a", "early", "recipient"))) == TelephonyState::ringing);
    CHECK(state_of(doc(1, "full", row("a", "trying"))) == TelephonyState::ringing);
    CHECK(state_of(doc(1, "full", row("a", "confirmed"))) == TelephonyState::busy);
    CHECK(state_of(doc(1, "full", row("a", "terminated"))) == TelephonyState::idle);
    CHECK(state_of(doc(1, "full", "")) == TelephonyState::idle);
    CHECK(state_of(doc(1, "full", row("a", "bogus"))) == TelephonyState::idle);
    // Remote target not rendering: the other side put the call on hold.
    CHECK(state_of(doc(1, "full",
                       row("a", "confirmed", "",
                           "<remote><target uri='sip:b@x'><param pname='+sip.rendering' pvalue='no'/></target>"
                           "</remote>"))) == TelephonyState::held);
    // rendering=yes is an ordinary call.
    CHECK(state_of(doc(1, "full",
                       row("a", "confirmed", "",
                           "<local><target uri='sip:a@x'><param pname='+sip.rendering' pvalue='yes'/></target>"
                           "</local>"))) == TelephonyState::busy);
    // Case folding of state and direction.
    CHECK(state_of(doc(1, "full", row("a", " Early ", "Initiator"))) == TelephonyState::dialing);
}

TEST_CASE("dialog-info: precedence ringing > busy > dialing > held", "[dialog]") {
    const std::string held_row = row("h", "confirmed", "",
                                     "<local><target uri='sip:a@x'><param pname='+sip.rendering' pvalue='no'/>"
                                     "</target></local>");
    const std::string busy_row = row("b", "confirmed");
    const std::string dialing_row = row("d", "early", "initiator");
    const std::string ringing_row =
        row("r", "early", "recipient", "<remote><identity>sip:carol@example.com</identity></remote>");
    CHECK(state_of(doc(1, "full", busy_row + ringing_row)) == TelephonyState::ringing);
    CHECK(state_of(doc(1, "full", ringing_row + busy_row)) == TelephonyState::ringing);
    CHECK(state_of(doc(1, "full", dialing_row + busy_row)) == TelephonyState::busy);
    CHECK(state_of(doc(1, "full", held_row + dialing_row)) == TelephonyState::dialing);
    CHECK(state_of(doc(1, "full", held_row + row("t", "terminated"))) == TelephonyState::held);
    CHECK(state_of(doc(1, "full", held_row + busy_row + dialing_row + ringing_row)) == TelephonyState::ringing);
    // Call waiting: the caller is the ringing row's, from the URI user part.
    CHECK(ringing_caller(parsed(doc(1, "full", busy_row + ringing_row)).dialogs) == "carol");
}

TEST_CASE("dialog-info: ringing caller", "[dialog]") {
    auto caller = [](const std::string& remote) {
        return ringing_caller(parsed(doc(1, "full", row("a", "early", "", "<remote>" + remote + "</remote>"))).dialogs);
    };
    CHECK(caller("<identity display=\"Bob Smith\">sip:bob@x</identity>") == "Bob Smith");
    CHECK(caller("<identity>sip:bob@x</identity>") == "bob");
    CHECK(caller("<identity>sips:bob@x;transport=tls</identity>") == "bob");
    CHECK(caller("<identity> tel:+15551234;phone-context=x </identity>") == "+15551234");
    CHECK(caller("<identity display=\"  \">sip:bob@x</identity>") == "bob");
    CHECK(caller("").empty());
    CHECK(ringing_caller(parsed(doc(1, "full", row("a", "confirmed"))).dialogs).empty());
    CHECK(ringing_caller({}).empty());
}

TEST_CASE("dialog-info: tracker versions", "[dialog]") {
    using O = DialogTracker::Outcome;
    DialogTracker t;
    CHECK(t.apply(parsed(doc(1, "full", row("a", "confirmed")))) == O::applied);
    CHECK(t.apply(parsed(doc(2, "partial", row("b", "early")))) == O::applied);
    CHECK(t.apply(parsed(doc(3, "partial", row("c", "early", "initiator")))) == O::applied);
    CHECK(t.dialogs().size() == 3);

    SECTION("a gap is applied and reported") {
        CHECK(t.apply(parsed(doc(5, "partial", row("d", "confirmed")))) == O::applied_gap);
        CHECK(t.dialogs().size() == 4);
        CHECK(t.apply(parsed(doc(6, "partial", row("d", "terminated")))) == O::applied);
        CHECK(t.dialogs().size() == 3);
    }
    SECTION("older and equal partial versions are stale and not applied") {
        CHECK(t.apply(parsed(doc(2, "partial", row("a", "terminated")))) == O::stale);
        CHECK(t.apply(parsed(doc(3, "partial", row("a", "terminated")))) == O::stale);
        CHECK(t.dialogs().size() == 3);
        CHECK(t.apply(parsed(doc(4, "partial", row("a", "terminated")))) == O::applied);
        CHECK(t.dialogs().size() == 2);
    }
    SECTION("a full document resyncs whatever its version") {
        CHECK(t.apply(parsed(doc(0, "full", row("z", "confirmed")))) == O::applied);
        REQUIRE(t.dialogs().size() == 1);
        CHECK(t.dialogs()[0].id == "z");
        CHECK(t.apply(parsed(doc(1, "partial", row("y", "early")))) == O::applied);
        CHECK(t.dialogs().size() == 2);
    }
    SECTION("a full document with a gap is not a gap") {
        CHECK(t.apply(parsed(doc(9, "full", ""))) == O::applied);
        CHECK(t.dialogs().empty());
        CHECK(t.apply(parsed(doc(10, "partial", row("a", "early")))) == O::applied);
    }
    SECTION("reset restarts version tracking") {
        t.reset();
        CHECK(t.dialogs().empty());
        CHECK(t.apply(parsed(doc(0, "full", row("a", "early")))) == O::applied);
        CHECK(t.apply(parsed(doc(1, "partial", row("b", "early")))) == O::applied);
        CHECK(t.dialogs().size() == 2);
    }
    SECTION("a first partial document after reset is applied") {
        t.reset();
        CHECK(t.apply(parsed(doc(7, "partial", row("q", "confirmed")))) == O::applied);
        CHECK(t.dialogs().size() == 1);
        CHECK(t.apply(parsed(doc(7, "partial", row("q", "terminated")))) == O::stale);
    }
}

TEST_CASE("dialog-info: version at the 32-bit edge", "[dialog]") {
    using O = DialogTracker::Outcome;
    DialogTracker t;
    CHECK(t.apply(parsed(doc(4294967294u, "full", ""))) == O::applied);
    CHECK(t.apply(parsed(doc(4294967295u, "partial", row("a", "early")))) == O::applied);
    CHECK(t.apply(parsed(doc(4294967295u, "partial", row("a", "terminated")))) == O::stale);
    CHECK(t.dialogs().size() == 1);
}

TEST_CASE("dialog-info: partial upsert and removal of terminated rows", "[dialog]") {
    DialogTracker t;
    t.apply(parsed(doc(1, "full", row("a", "confirmed") + row("b", "early", "recipient"))));
    REQUIRE(t.dialogs().size() == 2);
    CHECK(normalise_telephony(t.dialogs()) == TelephonyState::ringing);

    // b answered: updated in place, a untouched.
    t.apply(parsed(doc(2, "partial", row("b", "confirmed"))));
    REQUIRE(t.dialogs().size() == 2);
    CHECK(t.dialogs()[0].id == "a");
    CHECK(t.dialogs()[0].state == "confirmed");
    CHECK(t.dialogs()[1].id == "b");
    CHECK(t.dialogs()[1].state == "confirmed");
    CHECK(normalise_telephony(t.dialogs()) == TelephonyState::busy);

    // a hangs up; a partial with a terminated row for an unknown id adds nothing.
    t.apply(parsed(doc(3, "partial", row("a", "terminated") + row("zz", "terminated"))));
    REQUIRE(t.dialogs().size() == 1);
    CHECK(t.dialogs()[0].id == "b");

    // A full document flushes rows it does not list.
    t.apply(parsed(doc(4, "full", row("c", "early", "initiator"))));
    REQUIRE(t.dialogs().size() == 1);
    CHECK(t.dialogs()[0].id == "c");
    CHECK(normalise_telephony(t.dialogs()) == TelephonyState::dialing);
}

TEST_CASE("dialog-info: namespaces, not prefixes", "[dialog]") {
    const std::string prefixed =
        R"(<d:dialog-info xmlns:d="urn:ietf:params:xml:ns:dialog-info" version="7" state="partial" entity="sip:a@x">
  <d:dialog id="x1" direction="recipient"><d:state event="rejected" code="486">early</d:state>
    <d:remote><d:identity display="Eve">sip:eve@x</d:identity></d:remote></d:dialog>
</d:dialog-info>)";
    const auto d = parsed(prefixed);
    CHECK(d.version == 7);
    CHECK_FALSE(d.full);
    REQUIRE(d.dialogs.size() == 1);
    CHECK(d.dialogs[0].event == "rejected");
    CHECK(d.dialogs[0].code == 486);
    CHECK(ringing_caller(d.dialogs) == "Eve");

    // Elements of another namespace, even named like ours, are not ours.
    const std::string foreign =
        R"(<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" xmlns:o="urn:other" version="1" state="full">
  <o:dialog id="x"><state>confirmed</state></o:dialog>
  <dialog id="y"><o:state>confirmed</o:state><o:ext><dialog id="z"/></o:ext><duration>3</duration></dialog>
</dialog-info>)";
    const auto f = parsed(foreign);
    REQUIRE(f.dialogs.size() == 1);
    CHECK(f.dialogs[0].id == "y");
    CHECK(f.dialogs[0].state.empty());
    CHECK(normalise_telephony(f.dialogs) == TelephonyState::idle);

    // Same local name, wrong namespace or no namespace at all.
    CHECK(error_of(R"(<dialog-info version="1" state="full"/>)") == "wrong_root");
    CHECK(error_of(R"(<x:dialog-info xmlns:x="urn:ietf:params:xml:ns:dialog-infox" version="1" state="full"/>)") ==
          "wrong_root");
}

TEST_CASE("dialog-info: attribute details", "[dialog]") {
    const auto d = parsed(doc(1, "full",
                              "<dialog id='a' direction='sideways'><state code='abc'>confirmed</state></dialog>"
                              "<dialog id='a' direction='recipient'><state code='180'>early</state></dialog>"));
    // A repeated id replaces the earlier row.
    REQUIRE(d.dialogs.size() == 1);
    CHECK(d.dialogs[0].direction == "recipient");
    CHECK(d.dialogs[0].code == 180);
    const auto e = parsed(doc(1, "full", "<dialog id='a' direction='sideways'><state code='99999'>x</state></dialog>"));
    REQUIRE(e.dialogs.size() == 1);
    CHECK(e.dialogs[0].direction.empty());
    CHECK_FALSE(e.dialogs[0].code.has_value());
    CHECK(parsed(R"(<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version=" 12 " state="full"/>)")
              .entity.empty());
}

TEST_CASE("dialog-info: hostile and broken documents", "[dialog]") {
    const std::string ns = "xmlns=\"urn:ietf:params:xml:ns:dialog-info\"";
    CHECK(error_of("<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:a@x\"/>") == "wrong_root");
    CHECK(error_of("<dialog-info " + ns +
                   " version=\"1\" state=\"full\"><dialog><state>early</state></dialog>"
                   "</dialog-info>") == "malformed");
    CHECK(error_of("<dialog-info " + ns + " version=\"1\" state=\"full\"><dialog id=\"\"/></dialog-info>") ==
          "malformed");
    CHECK(error_of("<dialog-info " + ns + " state=\"full\"/>") == "malformed");
    CHECK(error_of("<dialog-info " + ns + " version=\"\" state=\"full\"/>") == "malformed");
    CHECK(error_of("<dialog-info " + ns + " version=\"-1\" state=\"full\"/>") == "malformed");
    CHECK(error_of("<dialog-info " + ns + " version=\"1.5\" state=\"full\"/>") == "malformed");
    CHECK(error_of("<dialog-info " + ns + " version=\"0x10\" state=\"full\"/>") == "malformed");
    CHECK(error_of("<dialog-info " + ns + " version=\"4294967296\" state=\"full\"/>") == "malformed");
    CHECK(error_of("<dialog-info " + ns + " version=\"99999999999999999999\" state=\"full\"/>") == "malformed");
    CHECK(error_of("<dialog-info " + ns + " version=\"1\"/>") == "malformed");
    CHECK(error_of("<dialog-info " + ns + " version=\"1\" state=\"Full\"/>") == "malformed");
    CHECK(error_of("<dialog-info " + ns + " version=\"1\" state=\"full\">") == "malformed");
    CHECK(error_of("") == "malformed");
    CHECK(error_of("not xml at all") == "malformed");

    // DTDs and entities: billion laughs and XXE.
    CHECK(error_of("<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
                   "<dialog-info " +
                   ns + " version=\"1\" state=\"full\" entity=\"&b;\"/>") == "malformed");
    CHECK(error_of("<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                   "<dialog-info " +
                   ns + " version=\"1\" state=\"full\" entity=\"&x;\"/>") == "malformed");
    CHECK(error_of("<dialog-info " + ns + " version=\"1\" state=\"full\" entity=\"&undefined;\"/>") == "malformed");

    SECTION("limits") {
        std::string many;
        for (int i = 0; i < 257; ++i) many += row("d" + std::to_string(i), "confirmed");
        CHECK(error_of(doc(1, "full", many)) == "too_many_entries");
        std::string just_enough;
        for (int i = 0; i < 256; ++i) just_enough += row("d" + std::to_string(i), "confirmed");
        CHECK(error_of(doc(1, "full", just_enough)) == "ok");

        BodyLimits small;
        small.max_entries = 2;
        CHECK(error_of(doc(1, "full", row("a", "early") + row("b", "early") + row("c", "early")), small) ==
              "too_many_entries");

        const std::string big = doc(1, "full", std::string(2 * 1024 * 1024, ' '));
        CHECK(error_of(big) == "too_large");

        std::string deep;
        for (int i = 0; i < 40; ++i) deep += "<x>";
        for (int i = 0; i < 40; ++i) deep += "</x>";
        CHECK(error_of(doc(1, "full", deep)) == "too_deep");

        CHECK(error_of(doc(
                  1, "full",
                  row("a", "confirmed", "", "<local><identity>" + std::string(5000, 'a') + "</identity></local>"))) ==
              "text_too_long");
    }
}
