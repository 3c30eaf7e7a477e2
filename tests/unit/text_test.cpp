// util/text: durations, escaping for logs, trimming.
#include <catch2/catch.hpp>

#include "util/error.hpp"
#include "util/text.hpp"

#include <cerrno>

using namespace presenced::util;

TEST_CASE("compact durations", "[text]") {
    CHECK(format_duration(-5) == "0s");
    CHECK(format_duration(0) == "0s");
    CHECK(format_duration(42) == "42s");
    CHECK(format_duration(312) == "5m12s");
    CHECK(format_duration(3600) == "1h00m");
    CHECK(format_duration(3 * 86400 + 4 * 3600 + 59) == "3d04h");
}

TEST_CASE("control characters are escaped, never passed to logs", "[text]") {
    CHECK(escape_control("a\nb\r\tc\\") == "a\\nb\\r\\tc\\\\");
    CHECK(escape_control(std::string("x\0y", 3)) == "x\\x00y");
    CHECK(escape_control("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 passes through
    CHECK(has_control("a\x7f"));
    CHECK_FALSE(has_control("plain text"));
}

TEST_CASE("trim, join, cat and errno names", "[text]") {
    CHECK(trim("  a b \r\n") == "a b");
    CHECK(trim(" \t ").empty());
    CHECK(join({"a", "b", "c"}, ", ") == "a, b, c");
    CHECK(cat("x", 1, '-', 2.5) == "x1-2.5");
    CHECK(errno_name(ECONNREFUSED) == "ECONNREFUSED");
}

TEST_CASE("ASCII case folding ignores the locale and non-ASCII bytes", "[text]") {
    CHECK(to_lower("Content-LENGTH") == "content-length");
    CHECK(to_lower("\xc3\x89t\xc3\xa9") == "\xc3\x89t\xc3\xa9");  // UTF-8 bytes are left alone
    CHECK(iequals("Digest", "DIGEST"));
    CHECK_FALSE(iequals("Digest", "Digests"));
    CHECK_FALSE(iequals("a", "b"));
    CHECK(ascii_lower('Z') == 'z');
    CHECK(ascii_lower('[') == '[');
}

TEST_CASE("parse_u32: digits up to UINT32_MAX, nothing else", "[text]") {
    using presenced::util::parse_u32;
    CHECK(parse_u32("0") == 0u);
    CHECK(parse_u32("0003600") == 3600u);
    CHECK(parse_u32("4294967295") == 4294967295u);
    CHECK_FALSE(parse_u32("4294967296"));  // no wrap
    CHECK_FALSE(parse_u32("99999999999"));
    CHECK_FALSE(parse_u32(""));
    CHECK_FALSE(parse_u32("12a"));
    CHECK_FALSE(parse_u32("-1"));
    CHECK_FALSE(parse_u32(" 1"));
}

TEST_CASE("percent_decode: %HH in either case, malformed escapes kept", "[text]") {
    using presenced::util::percent_decode;
    CHECK(percent_decode("%61lice%2Fx%2fy") == "alice/x/y");
    CHECK(percent_decode("100%") == "100%");
    CHECK(percent_decode("%4") == "%4");
    CHECK(percent_decode("%zz%41") == "%zzA");
    CHECK(percent_decode("") == "");
}
