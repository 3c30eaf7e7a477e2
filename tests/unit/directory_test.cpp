// presence/directory and connector/health: what the model says before any
// subscription exists, and the state and status names.
#include <catch2/catch.hpp>

#include "connector/health.hpp"
#include "presence/directory.hpp"

using namespace presenced;

namespace {
std::shared_ptr<const config::Config> load(const std::string& text) {
    auto o = config::load_string(text, "t.toml");
    for (const auto& e : o.errors) UNSCOPED_INFO(e.str());
    REQUIRE(o.ok());
    return o.config;
}
}  // namespace

TEST_CASE("a user without a URI for a kind shows not_configured for it", "[directory]") {
    auto c = load(
        "[[connector]]\nname = \"k\"\ndomain = \"pbx.example\"\n"
        "[[user]]\nusername = \"a\"\nrich_uri = \"sip:a@x\"\n"
        "[[user]]\nusername = \"b\"\nextension = \"1002\"\n");
    const auto d = presence::Directory::from_config(*c);
    REQUIRE(d.users().size() == 2);
    CHECK(d.find("a")->rich == presence::RichState::unknown);
    CHECK(d.find("a")->telephony == presence::TelephonyState::not_configured);
    CHECK(d.find("b")->rich == presence::RichState::not_configured);
    CHECK(d.find("b")->telephony == presence::TelephonyState::unknown);
    CHECK(d.find("b")->telephony_uri == "sip:1002@pbx.example");
    CHECK(d.find("zz") == nullptr);
}

TEST_CASE("text filter matches username, display name and department", "[directory]") {
    presence::UserEntry u{"jdoe", "Jane Doe", "Front Desk", "", "", "", {}, {}};
    CHECK(presence::matches_text(u, ""));
    CHECK(presence::matches_text(u, "JDO"));
    CHECK(presence::matches_text(u, "jane"));
    CHECK(presence::matches_text(u, "desk"));
    CHECK_FALSE(presence::matches_text(u, "sales"));
}

TEST_CASE("state names round-trip", "[directory]") {
    for (auto name : presence::rich_state_names())
        CHECK(presence::state_name(*presence::parse_rich_state(name)) == name);
    for (auto name : presence::telephony_state_names())
        CHECK(presence::state_name(*presence::parse_telephony_state(name)) == name);
    CHECK_FALSE(presence::parse_rich_state("idle"));
    CHECK_FALSE(presence::parse_telephony_state("away"));
}

TEST_CASE("connector status before the SIP engine runs", "[directory]") {
    auto c = load(
        "[presence]\npreferred_connector = \"a\"\n"
        "[[connector]]\nname = \"a\"\nserver = \"192.0.2.1\"\nuri = \"sip:p@x\"\nauth_id = \"p\"\ndomain = \"x\"\n"
        "[[connector]]\nname = \"b\"\n"
        "[[connector]]\nname = \"c\"\nenabled = false\n");
    auto ks = connector::build_connectors(*c, {}, 100);
    REQUIRE(ks.size() == 3);
    CHECK(ks[0].health.status == connector::Status::connection_error);
    CHECK(ks[0].health.cause == "not started");
    CHECK(ks[1].health.status == connector::Status::not_configured);
    CHECK(ks[2].health.status == connector::Status::disabled);
    CHECK_FALSE(connector::is_positive(ks[0].health.status));
    CHECK(connector::is_positive(connector::Status::credentials_not_found));
    CHECK(connector::is_positive(connector::Status::connected));

    SECTION("a reload keeps since-when of an unchanged status") {
        auto again = connector::build_connectors(*c, ks, 500);
        CHECK(again[0].health.since == 100);
        auto c2 = load("[[connector]]\nname = \"a\"\nenabled = false\n");
        auto changed = connector::build_connectors(*c2, ks, 500);
        CHECK(changed[0].health.status == connector::Status::disabled);
        CHECK(changed[0].health.since == 500);
    }
}
