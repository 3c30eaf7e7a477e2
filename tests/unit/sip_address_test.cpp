// sip::Address: parsing, printing, and comparing IPs across families.
#include <catch2/catch.hpp>

#include "sip/address.hpp"

using presenced::sip::Address;

TEST_CASE("addresses print with brackets for IPv6", "[address]") {
    auto v4 = Address::from_ip("127.0.0.1", 5060);
    auto v6 = Address::from_ip("::1", 5070);
    REQUIRE(v4);
    REQUIRE(v6);
    CHECK(v4->str() == "127.0.0.1:5060");
    CHECK(v6->str() == "[::1]:5070");
    CHECK(v6->host_for_uri() == "[::1]");
    CHECK_FALSE(Address::from_ip("pbx.example.com", 5060));
}

TEST_CASE("an IPv4-mapped IPv6 source is the same IP as its IPv4 address", "[address]") {
    // A dual-stack socket bound to [::] sees IPv4 peers as ::ffff:a.b.c.d;
    // the UDP source check must still recognise the configured server.
    auto v4 = Address::from_ip("127.0.0.1", 5060);
    auto mapped = Address::from_ip("::ffff:127.0.0.1", 40000);
    auto other = Address::from_ip("::ffff:127.0.0.2", 5060);
    CHECK(v4->same_ip(*mapped));
    CHECK(mapped->same_ip(*v4));
    CHECK_FALSE(v4->same_ip(*other));
    CHECK_FALSE(v4->same_ip(*Address::from_ip("::1", 5060)));
    CHECK_FALSE(*v4 == *mapped);  // the ports differ
}
