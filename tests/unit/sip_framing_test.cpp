// SIP stream framing (sip/framing): messages delimited by the blank line and
// Content-Length, checked whole, coalesced and split at every byte.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sip/framing.hpp"

using presenced::sip::FramingLimits;
using presenced::sip::StreamFramer;
using Error = StreamFramer::Error;

namespace {

std::string message(const std::string& body, const std::string& length_header = "Content-Length") {
    return "NOTIFY sip:watcher@192.0.2.10:5060;transport=tcp SIP/2.0\r\n"
           "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n"
           "From: <sip:alice@example.com>;tag=1928301774\r\n"
           "To: <sip:watcher@example.com>;tag=a6c85cf\r\n"
           "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
           "CSeq: 4 NOTIFY\r\n" +
           length_header + ": " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string with_headers(const std::string& headers, const std::string& body = "") {
    return "SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n" + headers + "\r\n" + body;
}

std::vector<std::string> drain(StreamFramer& f) {
    std::vector<std::string> out;
    std::string m;
    while (f.next(m)) out.push_back(m);
    return out;
}

struct Framed {
    std::vector<std::string> messages;
    size_t pings = 0;
    Error error = Error::none;
    size_t pending = 0;
};

Framed frame_pieces(const std::vector<std::string_view>& pieces, FramingLimits limits = {}) {
    StreamFramer f(limits);
    Framed r;
    for (auto p : pieces) {
        f.feed(p);
        for (auto& m : drain(f)) r.messages.push_back(m);
        r.pings += f.take_pings();
    }
    r.error = f.error();
    r.pending = f.pending();
    return r;
}

Framed frame(std::string_view bytes, FramingLimits limits = {}) { return frame_pieces({bytes}, limits); }

Error error_of(const std::string& bytes, FramingLimits limits = {}) { return frame(bytes, limits).error; }

}  // namespace

TEST_CASE("one message", "[framing]") {
    const std::string m = message("hello");
    StreamFramer f;
    f.feed(m);
    std::string out;
    REQUIRE(f.next(out));
    CHECK(out == m);
    CHECK_FALSE(f.next(out));
    CHECK(f.error() == Error::none);
    CHECK(f.pending() == 0);
    CHECK(f.take_pings() == 0);
}

TEST_CASE("two messages coalesced in one feed", "[framing]") {
    const std::string a = message("first body"), b = message("");
    const auto r = frame(a + b);
    REQUIRE(r.messages.size() == 2);
    CHECK(r.messages[0] == a);
    CHECK(r.messages[1] == b);
    CHECK(r.pending == 0);
    CHECK(r.error == Error::none);
}

TEST_CASE("a stream split at every byte boundary frames the same", "[framing]") {
    std::string body("bin\0ary\r\n\r\nbody\0", 17);
    const std::string a = message(body), b = message("second", "l");
    // Leading CRLFs, a ping between the messages and a lone CRLF after.
    const std::string stream = "\r\n" + a + "\r\n\r\n" + b + "\r\n";

    const auto whole = frame(stream);
    REQUIRE(whole.messages.size() == 2);
    CHECK(whole.messages[0] == a);
    CHECK(whole.messages[1] == b);
    CHECK(whole.pings == 1);
    CHECK(whole.pending == 0);

    SECTION("two pieces, at every split point") {
        for (size_t split = 0; split <= stream.size(); ++split) {
            INFO("split at " << split);
            const std::string_view s(stream);
            const auto r = frame_pieces({s.substr(0, split), s.substr(split)});
            CHECK(r.messages == whole.messages);
            CHECK(r.pings == 1);
            CHECK(r.error == Error::none);
            CHECK(r.pending == 0);
        }
    }
    SECTION("byte by byte") {
        std::vector<std::string_view> pieces;
        for (size_t i = 0; i < stream.size(); ++i) pieces.push_back(std::string_view(stream).substr(i, 1));
        const auto r = frame_pieces(pieces);
        CHECK(r.messages == whole.messages);
        CHECK(r.pings == 1);
        CHECK(r.pending == 0);
    }
}

TEST_CASE("a body with NULs and CRLFCRLF inside is taken by length", "[framing]") {
    const std::string body("\0\0\r\n\r\nX\0", 8);
    const std::string m = message(body);
    const auto r = frame(m + m);
    REQUIRE(r.messages.size() == 2);
    CHECK(r.messages[0] == m);
    CHECK(r.messages[0].size() == m.size());
    CHECK(r.messages[1] == m);
}

TEST_CASE("Content-Length 0", "[framing]") {
    const std::string m = with_headers("Content-Length: 0\r\n");
    const auto r = frame(m + m);
    REQUIRE(r.messages.size() == 2);
    CHECK(r.messages[0] == m);
}

TEST_CASE("Content-Length spellings", "[framing]") {
    SECTION("compact form l") {
        const std::string m = with_headers("l: 4\r\n", "abcd");
        const auto r = frame(m);
        REQUIRE(r.messages.size() == 1);
        CHECK(r.messages[0] == m);
    }
    SECTION("compact form L, no space") {
        const auto r = frame(with_headers("L:4\r\n", "abcd"));
        CHECK(r.messages.size() == 1);
    }
    SECTION("lower case") {
        const auto r = frame(with_headers("content-length: 4\r\n", "abcd"));
        CHECK(r.messages.size() == 1);
    }
    SECTION("mixed case, whitespace before the colon, leading zeros") {
        const auto r = frame(with_headers("CONTENT-length \t: 0004 \t\r\n", "abcd"));
        CHECK(r.messages.size() == 1);
    }
    SECTION("folded value") {
        const std::string m = with_headers("Content-Length:\r\n   4\r\n", "abcd");
        const auto r = frame(m);
        REQUIRE(r.messages.size() == 1);
        CHECK(r.messages[0] == m);
    }
    SECTION("the same value twice") {
        CHECK(frame(with_headers("Content-Length: 4\r\nl: 4\r\n", "abcd")).messages.size() == 1);
    }
    SECTION("a header merely starting with the name does not count") {
        CHECK(error_of(with_headers("Content-Length-X: 4\r\nLx: 4\r\n", "abcd")) == Error::bad_content_length);
    }
    SECTION("bare LF line ends") {
        const std::string m = "SIP/2.0 200 OK\nCSeq: 1 OPTIONS\nContent-Length: 2\n\nok";
        const auto r = frame(m + m);
        REQUIRE(r.messages.size() == 2);
        CHECK(r.messages[0] == m);
    }
}

TEST_CASE("bad Content-Length loses framing", "[framing]") {
    CHECK(error_of(with_headers("")) == Error::bad_content_length);  // missing (RFC 3261 §18.3)
    CHECK(error_of(with_headers("Content-Length: -1\r\n")) == Error::bad_content_length);
    CHECK(error_of(with_headers("Content-Length: +1\r\n")) == Error::bad_content_length);
    CHECK(error_of(with_headers("Content-Length: abc\r\n")) == Error::bad_content_length);
    CHECK(error_of(with_headers("Content-Length: 12a\r\n")) == Error::bad_content_length);
    CHECK(error_of(with_headers("Content-Length: 1 2\r\n")) == Error::bad_content_length);
    CHECK(error_of(with_headers("Content-Length: 0x10\r\n")) == Error::bad_content_length);
    CHECK(error_of(with_headers("Content-Length:\r\n")) == Error::bad_content_length);
    CHECK(error_of(with_headers("Content-Length: 2, 2\r\n")) == Error::bad_content_length);
    // Overflow is an error, never a wrap (rfc-checklist 16.14): 2^63 and 2^64+1.
    CHECK(error_of(with_headers("Content-Length: 9223372036854775808\r\n")) == Error::bad_content_length);
    CHECK(error_of(with_headers("Content-Length: 18446744073709551617\r\n")) == Error::bad_content_length);
    CHECK(error_of(with_headers("Content-Length: 99999999999999999999999999\r\n")) == Error::bad_content_length);
    // Conflicting copies.
    CHECK(error_of(with_headers("Content-Length: 4\r\nContent-Length: 5\r\n", "abcde")) == Error::bad_content_length);
    CHECK(error_of(with_headers("Content-Length: 4\r\nl: 5\r\n", "abcde")) == Error::bad_content_length);
}

TEST_CASE("after an error the stream is dead", "[framing]") {
    const std::string good = message("ok");
    const std::string bad = "OPTIONS sip:x SIP/2.0\r\nCall-ID: 1\r\n\r\n";
    StreamFramer f;
    f.feed(good + bad + good);
    CHECK(f.error() == Error::bad_content_length);
    CHECK(f.failed_head() == bad);
    const auto got = drain(f);
    REQUIRE(got.size() == 1);  // the message before the error stands
    CHECK(got[0] == good);
    f.feed(good);
    std::string more;
    CHECK_FALSE(f.next(more));
    CHECK(f.pending() == 0);
}

TEST_CASE("header block limit", "[framing]") {
    FramingLimits limits;
    limits.max_header_bytes = 200;
    const std::string start = "SIP/2.0 200 OK\r\nContent-Length: 0\r\nX-Pad: ";
    const std::string end = "\r\n\r\n";
    const std::string exact = start + std::string(200 - start.size() - end.size(), 'p') + end;
    REQUIRE(exact.size() == 200);

    SECTION("exactly at the limit is fine, whole or byte by byte") {
        CHECK(frame(exact, limits).messages.size() == 1);
        std::vector<std::string_view> pieces;
        for (size_t i = 0; i < exact.size(); ++i) pieces.push_back(std::string_view(exact).substr(i, 1));
        const auto r = frame_pieces(pieces, limits);
        CHECK(r.error == Error::none);
        CHECK(r.messages.size() == 1);
    }
    SECTION("one byte over fails") {
        const std::string over = start + std::string(201 - start.size() - end.size(), 'p') + end;
        CHECK(error_of(over, limits) == Error::headers_too_large);
    }
    SECTION("no blank line: not before the limit, then fails") {
        StreamFramer f(limits);
        f.feed(exact.substr(0, 196));  // 196 bytes, no blank line yet
        f.feed("ab");
        f.feed("c");
        CHECK(f.error() == Error::none);
        CHECK(f.pending() == 199);
        f.feed("d");  // 200 bytes and still no blank line: it cannot fit
        CHECK(f.error() == Error::headers_too_large);
        CHECK(f.pending() == 0);
        CHECK(f.failed_head().size() == 200);
    }
}

TEST_CASE("body limit", "[framing]") {
    FramingLimits limits;
    limits.max_body_bytes = 10;
    CHECK(frame(with_headers("Content-Length: 10\r\n", std::string(10, 'b')), limits).messages.size() == 1);
    // Refused as soon as the headers are in, before any body arrives.
    CHECK(error_of(with_headers("Content-Length: 11\r\n"), limits) == Error::body_too_large);
    CHECK(error_of(with_headers("Content-Length: 9223372036854775807\r\n"), limits) == Error::body_too_large);
}

TEST_CASE("CRLF keep-alives", "[framing]") {
    const std::string m = message("x");
    SECTION("leading CRLFs are skipped") {
        const auto r = frame("\r\n\r\n\r\n" + m);
        REQUIRE(r.messages.size() == 1);
        CHECK(r.messages[0] == m);
        CHECK(r.pings == 1);  // one CRLFCRLF, then a lone CRLF
    }
    SECTION("pings between messages are counted") {
        const auto r = frame(m + "\r\n\r\n" + "\r\n\r\n" + m + "\r\n\r\n");
        CHECK(r.messages.size() == 2);
        CHECK(r.pings == 3);
        CHECK(r.pending == 0);
    }
    SECTION("a lone CRLF (a pong) is ignored and not pending") {
        StreamFramer f;
        f.feed("\r\n");
        CHECK(f.take_pings() == 0);
        CHECK(f.pending() == 0);
        f.feed(m);
        CHECK(drain(f).size() == 1);
        CHECK(f.take_pings() == 0);
    }
    SECTION("take_pings resets") {
        StreamFramer f;
        f.feed("\r\n\r\n");
        CHECK(f.take_pings() == 1);
        CHECK(f.take_pings() == 0);
    }
}

TEST_CASE("pending counts the unfinished message", "[framing]") {
    const std::string m = message("0123456789");
    StreamFramer f;
    f.feed("\r\n");
    CHECK(f.pending() == 0);
    f.feed(m.substr(0, 10));
    CHECK(f.pending() == 10);
    f.feed(m.substr(10, m.size() - 15));
    CHECK(f.pending() == m.size() - 5);
    f.feed(m.substr(m.size() - 5) + m.substr(0, 3));
    CHECK(f.pending() == 3);
    CHECK(drain(f).size() == 1);
}
