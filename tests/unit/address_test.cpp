// host[:port] and SIP URI syntax checks (config/address).
#include <catch2/catch.hpp>

#include "config/address.hpp"

using namespace presenced::config;

TEST_CASE("host:port forms", "[address]") {
    std::string why;
    auto a = parse_host_port("192.0.2.1", false, why);
    REQUIRE(a);
    CHECK(a->kind == HostKind::ipv4);
    CHECK(a->port == 5060);
    CHECK_FALSE(a->explicit_port);

    auto b = parse_host_port("[2001:db8::1]:5070", false, why);
    REQUIRE(b);
    CHECK(b->kind == HostKind::ipv6);
    CHECK(b->host == "2001:db8::1");
    CHECK(b->port == 5070);
    CHECK(b->str() == "[2001:db8::1]:5070");

    auto c = parse_host_port("pbx.example.com.", false, why);
    REQUIRE(c);
    CHECK(c->kind == HostKind::fqdn);

    // RFC 5118 §4.3: the port-looking tail inside the brackets is part of the address.
    auto d = parse_host_port("[2001:db8::10:5070]", false, why);
    REQUIRE(d);
    CHECK(d->host == "2001:db8::10:5070");
    CHECK(d->port == 5060);

    auto e = parse_host_port("[::ffff:192.0.2.10]:19823", false, why);
    REQUIRE(e);
    CHECK(e->port == 19823);

    CHECK(parse_host_port("0.0.0.0:0", true, why));
    CHECK_FALSE(parse_host_port("0.0.0.0:0", false, why));
}

TEST_CASE("bad host:port forms say why", "[address]") {
    struct Case {
        const char* text;
        const char* why;
    };
    for (const Case& c :
         {Case{"", "is empty"}, Case{"[::1", "has a '[' without ']'"},
          Case{"[::1]5060", "has text after ']' that is not :port"},
          Case{"[192.0.2.1]", "has an invalid IPv6 address in brackets"},
          Case{"2001:db8::1", "looks like an IPv6 address without brackets (write [addr]:port)"},
          Case{"-pbx.example.com", "has an invalid host (not an IPv4 address or a DNS name)"},
          Case{"pbx..example.com", "has an invalid host (not an IPv4 address or a DNS name)"},
          Case{"a:65536", "has a port that is not 1-65535"}, Case{"a:", "has a port that is not 1-65535"},
          Case{"a:+5", "has a port that is not 1-65535"}, Case{"a:5x", "has a port that is not 1-65535"}}) {
        std::string why;
        INFO(c.text);
        CHECK_FALSE(parse_host_port(c.text, false, why));
        CHECK(why == c.why);
    }
    std::string why;
    CHECK_FALSE(is_hostname(std::string(64, 'a') + ".example.com"));  // a label over 63
    CHECK(is_hostname(std::string(63, 'a') + ".example.com"));
}

TEST_CASE("SIP URIs", "[address]") {
    std::string why;
    for (const char* good : {"sip:alice@example.com", "SIP:alice@example.com", "sips:alice@example.com:5061",
                             "sip:1001@192.0.2.10;user=phone", "sip:[2001:db8::1]:5060", "sip:example.com",
                             "sip:user;par=u%40example.net@example.com"}) {
        INFO(good);
        CHECK(is_sip_uri(good, why));
    }
    struct Case {
        const char* text;
        const char* why;
    };
    for (const Case& c :
         {Case{"tel:+123", "must start with sip: or sips:"},
          Case{"sip:a b@example.com", "must not contain spaces, quotes, angle brackets or control characters"},
          Case{"sip:<a@example.com>", "must not contain spaces, quotes, angle brackets or control characters"},
          Case{"sip:a@example.com?Route=x", "must not carry ?headers"},
          Case{"sip:@example.com", "has an empty user part"}, Case{"sip:a@", "host is empty"},
          Case{"sip:a@2001:db8::1", "host looks like an IPv6 address without brackets (write [addr]:port)"}}) {
        INFO(c.text);
        CHECK_FALSE(is_sip_uri(c.text, why));
        CHECK(why == c.why);
    }
}
