// Stateless error responses for requests the parser refused.
#include <catch2/catch.hpp>

#include "sip/stateless.hpp"

using presenced::sip::stateless_response;

TEST_CASE("a 400 copies Via, From, To, Call-ID and CSeq", "[stateless]") {
    const std::string request =
        "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa\r\nVia: SIP/2.0/UDP "
        "h2;branch=z9hG4bKb\r\n"
        "f: <sip:a@b>;tag=1\r\nt: <sip:x@y>\r\ni: abc\r\nCSeq: 1 OPTIONS\r\nBroken header line\r\n\r\n";
    auto r = stateless_response(request, 400, "Bad Request");
    REQUIRE(r);
    CHECK(*r ==
          "SIP/2.0 400 Bad Request\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa\r\nVia: SIP/2.0/UDP "
          "h2;branch=z9hG4bKb\r\n"
          "From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: abc\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE("folded lines are unfolded, blank continuation lines add nothing", "[stateless]") {
    const std::string request =
        "OPTIONS sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h;\r\n branch=z9hG4bKa\r\n \t \r\nCSeq: 1\r\n  OPTIONS\r\n\r\n";
    auto r = stateless_response(request, 400, "Bad Request");
    REQUIRE(r);
    CHECK(r->find("Via: SIP/2.0/UDP h; branch=z9hG4bKa\r\n") != std::string::npos);
    CHECK(r->find("CSeq: 1 OPTIONS\r\n") != std::string::npos);
}

TEST_CASE("no answer without a Via or a CSeq, to a response, or with a NUL", "[stateless]") {
    CHECK_FALSE(stateless_response("OPTIONS sip:x@h SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n", 400, "Bad Request"));
    CHECK_FALSE(stateless_response("OPTIONS sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n", 400, "Bad Request"));
    CHECK_FALSE(
        stateless_response("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nCSeq: 1 OPTIONS\r\n\r\n", 400, "Bad Request"));
    CHECK_FALSE(
        stateless_response(std::string("OPTIONS sip:x@h SIP/2.0\r\nVia: a\0b\r\nCSeq: 1 X\r\n\r\n", 45), 400, "x"));
    CHECK_FALSE(stateless_response("", 400, "Bad Request"));
    CHECK_FALSE(stateless_response("garbage", 400, "Bad Request"));
}
