// RFC 4662 list NOTIFYs end to end: parse_list_notify on Kamailio's real
// list NOTIFYs and the Asterisk shape, broken references, nested lists, and
// the goldens in tests/golden/bodies/rls/ (see rls_bodies_test.cpp for the
// golden file format and how to regenerate them).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "presence/multipart.hpp"
#include "presence/rlmi.hpp"
#include "rls_test_support.hpp"

using namespace presenced::presence;
using namespace rls_test;

TEST_CASE("list notify: Kamailio's first NOTIFY, full state without member states", "[rls][notify]") {
    const auto n = read_notify(kGoldenDir / "kamailio-full.notify");
    const auto r = notify_of(n.content_type, n.body);
    CHECK(r.list.uri == "sip:buddies@127.0.0.1");
    CHECK(r.list.version == 1);
    CHECK(r.list.full_state);
    REQUIRE(r.list.resources.size() == 3);
    CHECK(r.list.resources[2].uri == "sip:carol@127.0.0.1");
    for (const auto& res : r.list.resources) CHECK(res.instances.empty());
    CHECK(r.entries.empty());
    REQUIRE(r.multipart.parts.size() == 1);
    CHECK(r.root_part == 0);
    CHECK(r.multipart.type == "application/rlmi+xml");
    CHECK(r.multipart.start == "<1795670540.sip:buddies@127.0.0.1.374925006>");
    CHECK(r.unreferenced_parts == 0);
    CHECK(r.missing_parts == 0);
    CHECK_FALSE(r.start_unmatched);
}

TEST_CASE("list notify: Kamailio's partial NOTIFY carrying two members", "[rls][notify]") {
    const auto n = read_notify(kGoldenDir / "kamailio-partial.notify");
    const auto r = notify_of(n.content_type, n.body);
    CHECK(r.list.version == 2);
    CHECK_FALSE(r.list.full_state);
    REQUIRE(r.entries.size() == 2);
    CHECK(r.entries[0].resource_uri == "sip:bob@127.0.0.1");
    CHECK(r.entries[1].resource_uri == "sip:alice@127.0.0.1");
    for (const auto& e : r.entries) {
        CHECK(e.instance.id == "Scf8UhwQ");  // Kamailio reuses one instance id: key on (uri, id)
        CHECK(e.instance.state == InstanceState::active);
        REQUIRE(e.part);
        CHECK(e.content_type == "application/pidf+xml");
        CHECK(e.body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        CHECK(e.body.ends_with("</presence>\r\n"));  // Kamailio leaves a blank line before the delimiter
        CHECK_FALSE(e.nested);
    }
    CHECK(r.entries[0].body.find("entity=\"sip:bob@127.0.0.1\"") != std::string_view::npos);
    CHECK(r.entries[1].body.find("entity=\"sip:alice@127.0.0.1\"") != std::string_view::npos);
    CHECK(*r.entries[0].part == 1);
    CHECK(*r.entries[1].part == 2);
    CHECK(r.unreferenced_parts == 0);
    CHECK(r.missing_parts == 0);
}

TEST_CASE("list notify: the Asterisk shape (RLMI first, no start, <name>s)", "[rls][notify]") {
    const auto n = read_notify(kGoldenDir / "asterisk-partial.notify");
    const auto r = notify_of(n.content_type, n.body);
    CHECK(r.multipart.start.empty());
    CHECK(r.root_part == 0);
    CHECK(r.list.name == "buddies");
    CHECK(r.list.version == 3);
    REQUIRE(r.entries.size() == 2);
    CHECK(r.entries[0].resource_name == "1001");
    CHECK(r.entries[0].body.find("On the phone") != std::string_view::npos);
    CHECK(r.entries[1].instance.state == InstanceState::terminated);
    CHECK(r.entries[1].body.find("<basic>closed</basic>") != std::string_view::npos);
    // pjsip pads Content-Length with spaces; values are trimmed.
    REQUIRE(r.multipart.parts[1].header("content-length"));
    CHECK(std::to_string(r.entries[0].body.size()) == *r.multipart.parts[1].header("content-length"));
}

TEST_CASE("list notify: Content-IDs change between NOTIFYs, the keys do not", "[rls][notify]") {
    auto body_with = [](const std::string& cid) {
        return framed(
            "BB", {part("application/rlmi+xml", "<root@x>",
                        rlmi(R"(version="1" fullState="true")", resource("sip:a@x", instance("i1", "active", cid)))),
                   part("application/pidf+xml", "<" + cid + ">", kPidf)});
    };
    const auto first = notify_of(kListType, body_with("one@x"));
    const auto second = notify_of(kListType, body_with("two@x"));
    REQUIRE(first.entries.size() == 1);
    REQUIRE(second.entries.size() == 1);
    CHECK(first.entries[0].resource_uri == second.entries[0].resource_uri);
    CHECK(first.entries[0].instance.id == second.entries[0].instance.id);
    CHECK(first.entries[0].body == second.entries[0].body);
}

TEST_CASE("list notify: broken references are warnings", "[rls][notify]") {
    const std::string doc =
        rlmi(R"(version="5" fullState="false")", resource("sip:a@x", instance("1", "active", "cid:a%40x")) +
                                                     resource("sip:b@x", instance("2", "active", "gone@x")) +
                                                     resource("sip:c@x", instance("3", "pending", "")));
    const std::string body = framed(
        "BB", {part("application/rlmi+xml", "<root@x>", doc), part("application/pidf+xml", "<a@x>", kPidf),
               part("application/pidf+xml", "<a@x>", "duplicate"), part("application/pidf+xml", "<z@x>", kPidf)});
    const auto r = notify_of(kListType, body);
    REQUIRE(r.entries.size() == 3);
    REQUIRE(r.entries[0].part);
    CHECK(*r.entries[0].part == 1);  // the first of two parts with one Content-ID
    CHECK(r.entries[0].body == kPidf);
    CHECK_FALSE(r.entries[1].part);  // its state is unknown
    CHECK(r.entries[1].body.empty());
    CHECK_FALSE(r.entries[2].part);  // pending: no part
    CHECK(r.missing_parts == 1);
    CHECK(r.unreferenced_parts == 2);  // the duplicate and <z@x>
    CHECK(r.duplicate_cids == 1);

    // start naming no part: the first part is the root, flagged.
    const auto unmatched =
        notify_of(R"(multipart/related;type="application/rlmi+xml";start="<nope@x>";boundary=BB)", body);
    CHECK(unmatched.start_unmatched);
    CHECK(unmatched.root_part == 0);
    // start naming a later part.
    const std::string later =
        framed("BB", {part("application/pidf+xml", "<a@x>", kPidf), part("application/rlmi+xml", "<root@x>", doc)});
    const auto second_root = notify_of(kListType, later);
    CHECK(second_root.root_part == 1);
    CHECK(second_root.unreferenced_parts == 0);
}

TEST_CASE("list notify: the root must be RLMI", "[rls][notify]") {
    const std::string doc = rlmi(R"(version="1" fullState="true")", "");
    CHECK(notify_error(kListType, framed("BB", {part("application/pidf+xml", "<root@x>", kPidf)})) ==
          "wrong_root_type");
    // RFC 2387 §3.1: an untyped root takes the `type` parameter.
    CHECK(notify_error(kListType, framed("BB", {part("", "<root@x>", doc)})) == "ok");
    CHECK(notify_error("multipart/related;boundary=BB", framed("BB", {part("", "", doc)})) == "wrong_root_type");
    CHECK(notify_error("multipart/mixed;boundary=BB", framed("BB", {part("application/rlmi+xml", "", doc)})) ==
          "bad_content_type");
    CHECK(notify_error("application/pidf+xml", kPidf) == "bad_content_type");
    CHECK(notify_error(kListType, "--BB--\r\n") == "no_root");
    CHECK(notify_error(kListType, framed("BB", {"Content-Type: application/rlmi+xml\r\nContent-ID: <root@x>\r\n"
                                                "Content-Transfer-Encoding: base64\r\n\r\nPGxpc3Qv"})) ==
          "unsupported_encoding");
    CHECK(notify_error(kListType, framed("BB", {part("application/rlmi+xml", "<root@x>", "<list")})) == "malformed");
    CHECK(notify_error(kListType, "--BB\r\n" + part("application/rlmi+xml", "<root@x>", doc)) == "unterminated");
}

TEST_CASE("list notify: a refused member part is reported on its entry", "[rls][notify]") {
    const std::string doc =
        rlmi(R"(version="1" fullState="true")", resource("sip:a@x", instance("1", "active", "a@x")));
    const auto r = notify_of(kListType, framed("BB", {part("application/rlmi+xml", "<root@x>", doc),
                                                      "Content-Type: application/pidf+xml\r\nContent-ID: <a@x>\r\n"
                                                      "Content-Transfer-Encoding: base64\r\n\r\nPHByZXNlbmNlLz4="}));
    REQUIRE(r.entries.size() == 1);
    CHECK(r.entries[0].refused == "unsupported_encoding");
    CHECK(r.entries[0].content_type == "application/pidf+xml");
    CHECK(r.entries[0].body.empty());
}

TEST_CASE("list notify: a root beyond the part limit is read, a package part beyond it is refused alone",
          "[rls][notify]") {
    // A 10,000-member full state has an RLMI root of about 450 KB.
    std::string members;
    for (int i = 0; members.size() <= kMaxPartBytes; ++i) members += resource("sip:u" + std::to_string(i) + "@x", "");
    members += resource("sip:big@x", instance("1", "active", "big@x")) +
               resource("sip:small@x", instance("1", "active", "small@x"));
    const std::string doc = rlmi(R"(version="1" fullState="true")", members);
    REQUIRE(doc.size() > kMaxPartBytes);
    const std::string big = "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:big@x\"><note>" +
                            std::string(kMaxPartBytes, 'x') + "</note></presence>";
    const auto r = notify_of(kListType, framed("BB", {part("application/rlmi+xml", "<root@x>", doc),
                                                      part("application/pidf+xml", "<big@x>", big),
                                                      part("application/pidf+xml", "<small@x>", kPidf)}));
    REQUIRE(r.entries.size() == 2);
    CHECK(r.entries[0].resource_uri == "sip:big@x");
    CHECK(r.entries[0].refused == "part_too_large");
    CHECK(r.entries[0].body.empty());
    CHECK(r.entries[1].refused.empty());
    CHECK(r.entries[1].body == kPidf);
    // The RLMI limit still holds for the root.
    ListLimits small;
    small.rlmi.xml.max_bytes = 1000;
    small.multipart.max_part_bytes = 1000;
    CHECK(parse_list_notify(kListType, kept(framed("BB", {part("application/rlmi+xml", "<root@x>", doc)})), small)
              .error()
              .code == "part_too_large");
}

TEST_CASE("list notify: a nested list through a multipart part", "[rls][notify]") {
    const std::string inner_doc =
        rlmi(R"(version="3" fullState="true")", resource("sip:x@inner", instance("ix", "active", "x@inner")));
    const std::string inner = framed("IN", {part("application/rlmi+xml", "<iroot@inner>", inner_doc),
                                            part("application/pidf+xml", "<x@inner>", kPidf)});
    const std::string outer_doc =
        rlmi(R"(version="1" fullState="true")", resource("sip:team@x", instance("t", "active", "team@x")));
    const std::string body =
        framed("BB", {part("application/rlmi+xml", "<root@x>", outer_doc),
                      part(R"(multipart/related;type="application/rlmi+xml";start="<iroot@inner>";boundary="IN")",
                           "<team@x>", inner)});
    const auto outer = notify_of(kListType, body);
    REQUIRE(outer.entries.size() == 1);
    CHECK(outer.entries[0].nested);
    CHECK(outer.entries[0].content_type == "multipart/related");
    const auto nested = parse_nested_list(outer, outer.entries[0]);
    REQUIRE(nested);
    CHECK(nested->depth == 1);
    CHECK(nested->list.version == 3);
    REQUIRE(nested->entries.size() == 1);
    CHECK(nested->entries[0].resource_uri == "sip:x@inner");
    CHECK(nested->entries[0].body == kPidf);

    // An entry that is not nested.
    const auto plain = notify_of(kListType, framed("BB", {part("application/rlmi+xml", "<root@x>", inner_doc),
                                                          part("application/pidf+xml", "<x@inner>", kPidf)}));
    REQUIRE(plain.entries.size() == 1);
    CHECK(parse_nested_list(plain, plain.entries[0]).error().code == "bad_content_type");
    // Depth: a parent already at the limit refuses to go deeper.
    ListNotify deep = outer;
    deep.multipart.depth = kMaxMultipartDepth;
    CHECK(parse_nested_list(deep, deep.entries[0]).error().code == "too_deep");
}

// ---- goldens ----------------------------------------------------------------------

TEST_CASE("list notify goldens", "[rls][golden]") {
    const char* update_env = std::getenv("PRESENCED_UPDATE_GOLDEN");
    const bool update = update_env && std::string(update_env) == "1";
    std::vector<fs::path> inputs;
    for (const auto& entry : fs::directory_iterator(kGoldenDir))
        if (entry.path().extension() == ".notify") inputs.push_back(entry.path());
    std::sort(inputs.begin(), inputs.end());
    REQUIRE(inputs.size() >= 3);
    for (const auto& input : inputs) {
        INFO(input.string());
        const std::string out = describe(read_notify(input));
        const fs::path expected = fs::path(input).replace_extension(".expected");
        if (update) {
            std::ofstream(expected, std::ios::binary) << out;
            continue;
        }
        REQUIRE(fs::is_regular_file(expected));
        CHECK(out == read_file(expected));
    }
}
