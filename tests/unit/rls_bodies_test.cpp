// RFC 4662 list NOTIFY bodies: multipart/related framing (RFC 2046 §5.1.1,
// RFC 2387), Content-ID matching (RFC 2392), RLMI (RFC 4662 §5) and
// parse_list_notify (rfc-checklist 14.4-14.14), with Kamailio's real list
// NOTIFYs and the Asterisk shape as goldens (tests/golden/bodies/rls/).
//
// Goldens: every tests/golden/bodies/rls/NAME.notify ("Content-Type: ..."
// line, a blank line, the body, as on the wire) is parsed and described;
// the text must equal NAME.expected. kamailio-*.notify are the lab README's
// two list NOTIFYs (shared/lab/kamailio/README.md, "RLS") byte for byte with
// CRLF line ends, including the README's "..." elisions inside the PIDF
// parts (not parsed here); asterisk-partial.notify is built after
// res_pjsip_pubsub.c's RLMI and pjsip's multipart printer, not captured.
// Regenerate on purpose, then review:
//   PRESENCED_UPDATE_GOLDEN=1 ./build/bin/bodies_tests "[rls][golden]"
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "presence/multipart.hpp"
#include "presence/rlmi.hpp"
#include "rls_test_support.hpp"

using namespace presenced::presence;
using namespace rls_test;

// ---- Content-Type --------------------------------------------------------------

TEST_CASE("multipart: Content-Type parameters", "[rls][multipart]") {
    auto m = parse_media_type(R"( Multipart/Related ; TYPE="application/rlmi+xml"; Start = "<a\"b@x>" ;boundary=abc;)");
    REQUIRE(m);
    CHECK(m->type == "multipart");
    CHECK(m->subtype == "related");
    CHECK(m->param("type") == "application/rlmi+xml");
    CHECK(m->param("start") == "<a\"b@x>");  // quoted-pair resolved
    CHECK(m->param("boundary") == "abc");
    CHECK(m->param("missing").empty());
    CHECK(m->essence() == "multipart/related");

    auto dup = parse_media_type("multipart/related;boundary=first;boundary=second");
    REQUIRE(dup);
    CHECK(dup->param("boundary") == "first");

    for (const char* bad : {"", "multipart", "multipart/", "/related", "multipart/related;boundary",
                            "multipart/related;boundary=", "multipart/related;boundary=\"open", "multipart/related x"})
        CHECK(!parse_media_type(bad));
}

TEST_CASE("multipart: boundary parameter checks", "[rls][multipart]") {
    const std::string body = framed("b", {part("text/plain", "", "x")});
    CHECK(framing_error("multipart/related", body) == "no_boundary");
    CHECK(framing_error("application/pidf+xml;boundary=b", body) == "bad_content_type");
    CHECK(framing_error("multipart/related;boundary=\"\"", body) == "bad_boundary");
    CHECK(framing_error("multipart/related;boundary=\"b \"", body) == "bad_boundary");  // may not end in a space
    CHECK(framing_error("multipart/related;boundary=\"b<x\"", body) == "bad_boundary");
    const std::string b70(70, 'z');
    CHECK(framing_error("multipart/related;boundary=" + b70, framed(b70, {part("", "", "x")})) == "ok");
    const std::string b71(71, 'z');
    CHECK(framing_error("multipart/related;boundary=" + b71, framed(b71, {part("", "", "x")})) == "bad_boundary");
}

// ---- framing ---------------------------------------------------------------------

namespace {

using Strings = std::vector<std::string>;

// The part bodies of text framed on boundary b.
Strings bodies(const std::string& text, const std::string& b = "b") {
    Strings out;
    for (const auto& p : framing("multipart/related;boundary=" + b, text).parts) out.emplace_back(p.body);
    return out;
}

}  // namespace

TEST_CASE("multipart: framing variants (RFC 2046 §5.1.1)", "[rls][multipart]") {
    const auto m = framing("multipart/related;boundary=b",
                           framed("b", {part("application/rlmi+xml", "<r@x>", "<list/>"), part("text/plain", "", "")}));
    REQUIRE(m.parts.size() == 2);
    CHECK(m.boundary == "b");
    CHECK(m.parts[0].content_type == "application/rlmi+xml");
    CHECK(m.parts[0].content_id == "<r@x>");
    CHECK(m.parts[0].media_type() == "application/rlmi+xml");
    CHECK(m.depth == 0);
    CHECK(bodies(framed("b", {part("", "", "<list/>"), part("", "", "")})) == Strings{"<list/>", ""});
    // Preamble and epilogue are ignored, even when the epilogue repeats the boundary.
    CHECK(bodies("Preamble.\r\n--b\r\n" + part("", "", "one") + "\r\n--b--\r\nEpilogue.\r\n--b\r\nno\r\n") ==
          Strings{"one"});
    // Transport padding (LWSP) after the boundary and after the close delimiter.
    CHECK(bodies("--b \t \r\n" + part("", "", "one") + "\r\n--b\t\r\n" + part("", "", "two") + "\r\n--b--  \r\n") ==
          Strings{"one", "two"});
    // The CRLF before the first delimiter is optional.
    CHECK(bodies("\r\n--b\r\n" + part("", "", "x") + "\r\n--b--\r\n") == Strings{"x"});
    // A quoted boundary with every RFC 2046 bchar, a space inside.
    const std::string special = "a'()+_,-./:=? z";
    const auto q = framing("multipart/related; boundary=\"" + special + "\"", framed(special, {part("", "", "x")}));
    CHECK(q.boundary == special);
    CHECK(q.parts.at(0).body == "x");
    // A line that only starts with the boundary, or a boundary inside a line, is content.
    const std::string content = "line\r\n--bb is not a delimiter\r\n--bbb\r\nx--bb\r\nend";
    CHECK(bodies(framed("bb", {part("", "", content)}), "bb") == Strings{content});
}

TEST_CASE("multipart: LF-only line ends are tolerated", "[rls][multipart]") {
    const auto m =
        framing("multipart/related;boundary=b",
                "--b\nContent-Type: text/plain\nContent-ID: <p@x>\n\nline one\nline two\n--b\n\nbare\n--b--\n");
    REQUIRE(m.parts.size() == 2);
    CHECK(m.parts[0].content_type == "text/plain");
    CHECK(m.parts[0].content_id == "<p@x>");
    CHECK(m.parts[0].body == "line one\nline two");
    CHECK(m.parts[1].headers.empty());
    CHECK(m.parts[1].body == "bare");
}

TEST_CASE("multipart: missing delimiters", "[rls][multipart]") {
    const std::string type = "multipart/related;boundary=b";
    CHECK(framing_error(type, "") == "no_delimiter");
    CHECK(framing_error(type, "just text\r\n") == "no_delimiter");
    CHECK(framing_error(type, "--b\r\n" + part("", "", "x")) == "unterminated");
    CHECK(framing_error(type, "--b\r\n" + part("", "", "x") + "\r\n--b\r\n") == "unterminated");
    CHECK(framing_error(type, "--b") == "unterminated");
    // A close delimiter alone: a body with no parts (parse_list_notify says no_root).
    CHECK(framing(type, "--b--\r\n").parts.empty());
}

TEST_CASE("multipart: empty parts and parts without headers", "[rls][multipart]") {
    // "--b CRLF CRLF --b": nothing between the two delimiter lines' own line breaks.
    const auto m = framing("multipart/related;boundary=b", "--b\r\n\r\n--b\r\n--b\r\n\r\nbody\r\n--b--");
    REQUIRE(m.parts.size() == 3);
    for (const auto& p : m.parts) CHECK(p.headers.empty());
    CHECK(bodies("--b\r\n\r\n--b\r\n--b\r\n\r\nbody\r\n--b--") == Strings{"", "", "body"});
    CHECK(m.parts[2].media_type() == "text/plain");  // RFC 2046 §5.1 default
    // Headers only, no blank line, no body.
    const auto headers_only = framing("multipart/related;boundary=b", "--b\r\nContent-ID: <h@x>\r\n--b--");
    REQUIRE(headers_only.parts.size() == 1);
    CHECK(headers_only.parts[0].content_id == "<h@x>");
    CHECK(headers_only.parts[0].body.empty());
}

TEST_CASE("multipart: part headers are folded and case-insensitive", "[rls][multipart]") {
    const std::string body =
        "--b\r\ncontent-type: application/pidf+xml;\r\n charset=\"UTF-8\"\r\nCONTENT-id:\t<f@x> \r\n"
        "content-transfer-encoding: BINARY\r\nX-Other: kept\r\n\r\n<p/>\r\n--b--\r\n";
    const auto m = framing("multipart/related;boundary=b", body);
    REQUIRE(m.parts.size() == 1);
    const auto& p = m.parts[0];
    CHECK(p.content_type == "application/pidf+xml; charset=\"UTF-8\"");
    CHECK(p.media_type() == "application/pidf+xml");
    CHECK(p.content_id == "<f@x>");
    CHECK(p.transfer_encoding == "binary");
    CHECK(p.refused.empty());
    CHECK(p.body == "<p/>");
    REQUIRE(p.header("x-other"));
    CHECK(*p.header("X-OTHER") == "kept");
    CHECK(p.headers.size() == 4);
    CHECK_FALSE(p.header("Content-Length"));
}

TEST_CASE("multipart: malformed part headers", "[rls][multipart]") {
    CHECK(framing_error("multipart/related;boundary=b", "--b\r\nno colon here\r\n\r\nx\r\n--b--") ==
          "bad_part_headers");
    CHECK(framing_error("multipart/related;boundary=b", "--b\r\n continued\r\n\r\nx\r\n--b--") == "bad_part_headers");
    CHECK(framing_error("multipart/related;boundary=b", "--b\r\n: empty\r\n\r\nx\r\n--b--") == "bad_part_headers");
    MultipartLimits few;
    few.max_headers = 2;
    CHECK(framing_error("multipart/related;boundary=b", "--b\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\nx\r\n--b--", few) ==
          "bad_part_headers");
}

TEST_CASE("multipart: Content-Transfer-Encoding other than identity is refused per part", "[rls][multipart]") {
    const std::string body =
        framed("b", {"Content-Transfer-Encoding: 7bit\r\n\r\nseven", "Content-Transfer-Encoding: 8bit\r\n\r\neight",
                     "Content-Transfer-Encoding: base64\r\nContent-ID: <b64@x>\r\n\r\nPHByZXNlbmNlLz4=",
                     "Content-Transfer-Encoding: quoted-printable\r\n\r\na=3Db"});
    const auto m = framing("multipart/related;boundary=b", body);
    REQUIRE(m.parts.size() == 4);
    CHECK(m.parts[0].body == "seven");
    CHECK(m.parts[1].body == "eight");
    CHECK(m.parts[2].refused == "unsupported_encoding");
    CHECK(m.parts[2].body.empty());
    CHECK(m.parts[2].content_id == "<b64@x>");  // still findable, so the caller can say why
    CHECK(m.parts[3].refused == "unsupported_encoding");
}

TEST_CASE("multipart: limits", "[rls][multipart]") {
    std::vector<std::string> parts(5, part("", "", "x"));
    MultipartLimits limits;
    limits.max_parts = 4;
    CHECK(framing_error("multipart/related;boundary=b", framed("b", parts), limits) == "too_many_parts");
    limits.max_parts = 5;
    CHECK(framing_error("multipart/related;boundary=b", framed("b", parts), limits) == "ok");

    limits.max_part_bytes = 10;
    CHECK(framing_error("multipart/related;boundary=b", framed("b", {part("", "", std::string(10, 'a'))}), limits) ==
          "ok");
    CHECK(framing_error("multipart/related;boundary=b", framed("b", {part("", "", std::string(11, 'a'))}), limits) ==
          "part_too_large");

    limits.max_total_bytes = 20;
    CHECK(framing_error("multipart/related;boundary=b", framed("b", {part("", "", std::string(10, 'a'))}), limits) ==
          "too_large");

    // The defaults are the named constants.
    const MultipartLimits defaults;
    CHECK(defaults.max_parts == kMaxParts);
    CHECK(defaults.max_part_bytes == kMaxPartBytes);
    CHECK(defaults.max_total_bytes == kMaxMultipartBytes);
}

TEST_CASE("multipart: nested multipart parts and the depth limit", "[rls][multipart]") {
    // Build a chain: each level's only part is the next multipart level.
    std::string inner = framed("l4", {part("text/plain", "<leaf@x>", "leaf")});
    for (int level = 3; level >= 0; --level) {
        const std::string b = "l" + std::to_string(level);
        std::string cid = "<n";
        cid += b;
        cid += "@x>";
        inner = framed(b, {part("multipart/related;boundary=l" + std::to_string(level + 1), cid, inner)});
    }
    auto outer = framing("multipart/related;boundary=l0", inner);
    REQUIRE(outer.parts.size() == 1);
    CHECK(outer.parts[0].is_multipart());
    MultipartBody current = outer;
    for (unsigned depth = 1; depth <= kMaxMultipartDepth; ++depth) {
        auto next = parse_nested_multipart(current, current.parts[0]);
        REQUIRE(next);
        CHECK(next->depth == depth);
        current = *next;
    }
    auto too_deep = parse_nested_multipart(current, current.parts[0]);
    REQUIRE_FALSE(too_deep);
    CHECK(too_deep.error().code == "too_deep");
    // A part that is not multipart.
    const auto flat = framing("multipart/related;boundary=b", framed("b", {part("text/plain", "", "x")}));
    CHECK_FALSE(flat.parts[0].is_multipart());
    CHECK(parse_nested_multipart(flat, flat.parts[0]).error().code == "bad_content_type");
}

// ---- Content-ID matching (RFC 2392) -------------------------------------------

TEST_CASE("cid: references against Content-IDs", "[rls][cid]") {
    CHECK(cid_matches("a1@host", "<a1@host>"));        // RLMI cid attribute, RFC 4662 §5.5
    CHECK(cid_matches("<a1@host>", "<a1@host>"));      // tolerated: brackets on the reference
    CHECK(cid_matches("a1@host", "a1@host"));          // tolerated: a Content-ID without brackets
    CHECK(cid_matches("cid:a1@host", "<a1@host>"));    // RFC 2392 URL
    CHECK(cid_matches("CID:a1%40host", "<a1@host>"));  // %-encoded, scheme in any case
    CHECK(cid_matches("cid:foo4%25bar@x", "<foo4%bar@x>"));
    CHECK(cid_matches("  a1@host ", " <a1@host> "));
    CHECK_FALSE(cid_matches("A1@host", "<a1@host>"));  // otherwise exact
    CHECK_FALSE(cid_matches("a1@host", "<a1@host2>"));
    CHECK_FALSE(cid_matches("a1%40host", "<a1@host>"));  // no decoding without cid:
    CHECK_FALSE(cid_matches("", "<>"));
    CHECK_FALSE(cid_matches("", ""));
    CHECK(cid_matches("cid:bad%zzescape", "<bad%zzescape>"));  // an invalid escape stays as written
    CHECK(normalise_cid("cid:%3Cx%3E") == "x");

    const auto m = framing("multipart/related;boundary=b",
                           framed("b", {part("", "<one@x>", "1"), part("", "<two@x>", "2"), part("", "", "3")}));
    REQUIRE(find_by_cid(m.parts, "two@x"));
    CHECK(find_by_cid(m.parts, "two@x")->body == "2");
    CHECK(find_by_cid(m.parts, "cid:one%40x")->body == "1");
    CHECK_FALSE(find_by_cid(m.parts, "three@x"));
    CHECK_FALSE(find_by_cid(m.parts, ""));

    REQUIRE(root(m.parts, ""));
    CHECK(root(m.parts, "")->body == "1");  // RFC 2387 §3.2: no start -> the first part
    CHECK(root(m.parts, "<two@x>")->body == "2");
    CHECK_FALSE(root(m.parts, "<nine@x>"));
    CHECK_FALSE(root({}, ""));
}

// ---- RLMI (RFC 4662 §5) -------------------------------------------------------------

TEST_CASE("rlmi: full state with names and instances", "[rls][rlmi]") {
    const auto l =
        list_of(rlmi(R"(version="0" fullState="true" cid="lst@x")",
                     "<name xml:lang=\"en\">Buddies</name><name xml:lang=\"de\">Freunde</name>" +
                         resource("sip:alice@example.com", "<name>Alice</name>" + instance("i1", "active", "a1@x") +
                                                               instance("i2", "pending", "")) +
                         resource("sip:bob@example.com", "")));
    CHECK(l.uri == "sip:buddies@example.com");
    CHECK(l.version == 0);
    CHECK(l.full_state);
    CHECK(l.name == "Buddies");
    CHECK(l.cid == "lst@x");
    REQUIRE(l.resources.size() == 2);
    CHECK(l.resources[0].uri == "sip:alice@example.com");
    CHECK(l.resources[0].name == "Alice");
    REQUIRE(l.resources[0].instances.size() == 2);
    CHECK(l.resources[0].instances[0].id == "i1");
    CHECK(l.resources[0].instances[0].state == InstanceState::active);
    CHECK(l.resources[0].instances[0].cid == "a1@x");
    CHECK(l.resources[0].instances[1].state == InstanceState::pending);
    CHECK(l.resources[0].instances[1].cid.empty());
    CHECK(l.resources[1].instances.empty());  // no state yet (Kamailio's first NOTIFY)
    CHECK(l.resources[1].name.empty());
}

TEST_CASE("rlmi: partial state, terminated instances with reasons", "[rls][rlmi]") {
    const auto l = list_of(rlmi(R"(version="7" fullState="false")",
                                resource("sip:a@x", instance("1", "terminated", "", "Rejected")) +
                                    resource("sip:b@x", instance("2", " terminated ", "", "noresource")) +
                                    resource("sip:c@x", instance("3", "terminated", "")) +
                                    resource("sip:d@x", instance("4", "Pending", ""))));
    CHECK(l.version == 7);
    CHECK_FALSE(l.full_state);
    REQUIRE(l.resources.size() == 4);
    CHECK(l.resources[0].instances[0].state == InstanceState::terminated);
    CHECK(l.resources[0].instances[0].reason == "rejected");
    CHECK(l.resources[1].instances[0].state == InstanceState::terminated);
    CHECK(l.resources[1].instances[0].reason == "noresource");
    CHECK(l.resources[2].instances[0].reason.empty());
    CHECK(l.resources[3].instances[0].state == InstanceState::pending);
    CHECK(instance_state_name(InstanceState::terminated) == "terminated");
}

TEST_CASE("rlmi: version and fullState", "[rls][rlmi]") {
    CHECK(list_of(rlmi(R"(version="4294967295" fullState="1")", "")).version == 4294967295u);
    CHECK(list_of(rlmi(R"(version=" 12 " fullState="1")", "")).full_state);
    CHECK_FALSE(list_of(rlmi(R"(version="1" fullState="0")", "")).full_state);
    CHECK_FALSE(list_of(rlmi(R"(version="1" fullState="false")", "")).full_state);
    for (const char* bad : {R"(fullState="true")", R"(version="" fullState="true")", R"(version="-1" fullState="true")",
                            R"(version="4294967296" fullState="true")", R"(version="1.0" fullState="true")",
                            R"(version="0x10" fullState="true")", R"(version="99999999999" fullState="true")"})
        CHECK(rlmi_error(rlmi(bad, "")) == "bad_version");
    for (const char* bad : {R"(version="1")", R"(version="1" fullState="yes")", R"(version="1" fullState="")"})
        CHECK(rlmi_error(rlmi(bad, "")) == "bad_full_state");
}

TEST_CASE("rlmi: uri checks", "[rls][rlmi]") {
    CHECK(rlmi_error(R"(<list xmlns="urn:ietf:params:xml:ns:rlmi" version="1" fullState="true"/>)") == "missing_uri");
    CHECK(rlmi_error(R"(<list xmlns="urn:ietf:params:xml:ns:rlmi" uri=" " version="1" fullState="true"/>)") ==
          "missing_uri");
    CHECK(rlmi_error(rlmi(R"(version="1" fullState="true")",
                          "<resource>" + instance("1", "active", "") + "</resource>")) == "missing_uri");
    RlmiLimits limits;
    limits.max_uri = 23;  // exactly the list uri, sip:buddies@example.com
    CHECK(rlmi_error(rlmi(R"(version="1" fullState="true")", resource("sip:012345678@abcdefghij", "")), limits) ==
          "uri_too_long");
    CHECK(rlmi_error(rlmi(R"(version="1" fullState="true")", resource("sip:012345678@abcdefghi", "")), limits) == "ok");
}

TEST_CASE("rlmi: instance checks", "[rls][rlmi]") {
    const std::string attrs = R"(version="1" fullState="true")";
    CHECK(rlmi_error(rlmi(attrs, resource("sip:a@x", R"(<instance state="active"/>)"))) == "bad_instance");
    CHECK(rlmi_error(rlmi(attrs, resource("sip:a@x", R"(<instance id="1"/>)"))) == "bad_instance");
    CHECK(rlmi_error(rlmi(attrs, resource("sip:a@x", instance("1", "open", "")))) == "bad_instance");
}

TEST_CASE("rlmi: structure, namespaces and unknown content", "[rls][rlmi]") {
    const std::string attrs = R"(version="1" fullState="true")";
    // RFC 4662 §5.2: lists nest through a body part, never inside the document.
    CHECK(rlmi_error(rlmi(attrs, rlmi(attrs, ""))) == "nested_list");
    CHECK(rlmi_error(rlmi(attrs, resource("sip:a@x", rlmi(attrs, "")))) == "nested_list");
    CHECK(rlmi_error(R"(<list uri="sip:l@x" version="1" fullState="true"/>)") == "wrong_root");  // no namespace
    CHECK(rlmi_error(R"(<presence xmlns="urn:ietf:params:xml:ns:pidf"/>)") == "wrong_root");
    CHECK(rlmi_error("<list") == "malformed");
    CHECK(rlmi_error(R"(<!DOCTYPE l [<!ENTITY a "aaaa">]><list/>)") == "malformed");
    // Prefixed namespace, foreign elements and attributes are ignored.
    const auto l = list_of(
        R"(<r:list xmlns:r="urn:ietf:params:xml:ns:rlmi" xmlns:v="urn:vendor" uri="sip:l@x" version="2" fullState="true" v:extra="1">)"
        R"(<v:list/><v:resource uri="sip:ignored@x"/><r:unknown/>)"
        R"(<r:resource uri="sip:a@x" v:flag="y"><v:instance id="no"/><r:instance id="1" state="active" v:x="1"/></r:resource>)"
        R"(</r:list>)");
    REQUIRE(l.resources.size() == 1);
    CHECK(l.resources[0].uri == "sip:a@x");
    REQUIRE(l.resources[0].instances.size() == 1);
    CHECK(l.resources[0].instances[0].id == "1");
}

TEST_CASE("rlmi: resource and instance limits", "[rls][rlmi]") {
    const std::string attrs = R"(version="1" fullState="true")";
    RlmiLimits limits;
    limits.max_resources = 2;
    limits.max_instances = 2;
    const std::string r = resource("sip:a@x", "");
    CHECK(rlmi_error(rlmi(attrs, r + r), limits) == "ok");
    CHECK(rlmi_error(rlmi(attrs, r + r + r), limits) == "too_many_resources");
    const std::string i = instance("1", "active", "");
    CHECK(rlmi_error(rlmi(attrs, resource("sip:a@x", i + i)), limits) == "ok");
    CHECK(rlmi_error(rlmi(attrs, resource("sip:a@x", i + i + i)), limits) == "too_many_instances");
    CHECK(RlmiLimits{}.max_resources == kMaxRlmiResources);
}

TEST_CASE("rlmi: a list of 10,000 members fits the default limits", "[rls][rlmi]") {
    std::string inner;
    for (size_t n = 0; n < kMaxRlmiResources; ++n)
        inner += resource("sip:user" + std::to_string(n) + "@example.com",
                          "<name>User " + std::to_string(n) + "</name>" +
                              instance("i" + std::to_string(n), "active", "c" + std::to_string(n) + "@x"));
    const auto l = list_of(rlmi(R"(version="1" fullState="true")", inner));
    CHECK(l.resources.size() == kMaxRlmiResources);
    CHECK(l.resources.back().instances.at(0).cid == "c9999@x");
}

// ---- the list NOTIFY body ---------------------------------------------------------

TEST_CASE("rlmi: 10,000 resources, one per indented line, parse (whitespace between elements is no text)",
          "[rls][rlmi]") {
    std::string inner;
    for (int i = 0; i < 10'000; ++i) inner += "\n    <resource uri=\"sip:u" + std::to_string(i) + "@example.com\"/>";
    const auto list = parse_rlmi(rlmi(R"(version="0" fullState="true")", inner + "\n"));
    REQUIRE(list);
    CHECK(list->resources.size() == 10'000);
    // Real text beyond the limit is still refused.
    RlmiLimits small;
    small.xml.max_text = 10;
    CHECK(parse_rlmi(rlmi(R"(version="0" fullState="true")", "<name>" + std::string(11, 'n') + "</name>"), small)
              .error()
              .code == "text_too_long");
}
