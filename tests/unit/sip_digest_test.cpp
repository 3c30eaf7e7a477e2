// sip/digest: challenge parsing, RFC 2617 / RFC 7616 response vectors, and
// the per-request round policy (strongest algorithm, stale once, no loops).
// Expected values not printed in an RFC were computed independently with
// `printf '%s' ... | openssl dgst -<alg>` and are noted where used.
#include <catch2/catch.hpp>

#include "sip/digest.hpp"

#include <string>
#include <vector>

using namespace presenced::sip::digest;

namespace {

// The value of name= in an Authorization header, unquoted (no escapes in
// the values these tests read back); "<absent>" when missing.
std::string param(const std::string& header, const std::string& name) {
    const std::string key = name + "=";
    size_t pos = 0;
    for (;;) {
        pos = header.find(key, pos);
        if (pos == std::string::npos) return "<absent>";
        if (pos == 0 || header[pos - 1] == ' ') break;
        ++pos;
    }
    pos += key.size();
    if (header[pos] == '"') {
        const size_t end = header.find('"', pos + 1);
        return header.substr(pos + 1, end - pos - 1);
    }
    const size_t end = header.find(',', pos);
    return header.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

Challenge must_parse(std::string_view value, bool proxy = false) {
    auto r = parse_challenge(value, proxy);
    INFO(std::string(value));
    REQUIRE(r.ok());
    return *r;
}

std::string error_of(std::string_view value) {
    auto r = parse_challenge(value, false);
    return r.ok() ? "ok" : r.error().code;
}

const Credentials mufasa_2617{"Mufasa", "Circle Of Life"};
const Credentials mufasa_7616{"Mufasa", "Circle of Life"};  // erratum 4495: lower-case "of"

constexpr const char* kNonce7616 = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
constexpr const char* kOpaque7616 = "FQhe/qaqaSwr0oazAz3hgOKGRSZgvlwgSHMnU3UT";
constexpr const char* kCnonce7616 = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

Challenge rfc7616(const char* algorithm) {
    return must_parse(std::string("Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=") +
                      algorithm + ", nonce=\"" + kNonce7616 + "\", opaque=\"" + kOpaque7616 + "\"");
}

Challenge rfc2617() {
    return must_parse(
        "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
        "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
}

// The response the server would compute from what the header says.
std::string recompute(const Challenge& c, const Credentials& cred, const std::string& header, std::string_view method,
                      std::string_view uri) {
    const uint32_t nc = static_cast<uint32_t>(std::stoul(param(header, "nc"), nullptr, 16));
    return param(authorization(c, cred, method, uri, {}, nc, param(header, "cnonce")), "response");
}

}  // namespace

TEST_CASE("hashes are OpenSSL's, lowercase hex", "[digest]") {
    // FIPS 180-2 / 180-4 "abc" examples (the SHA-512/256 one also checked
    // with `openssl dgst -sha512-256`), RFC 1321 for MD5.
    CHECK(hash_hex(Algorithm::md5, "abc") == "900150983cd24fb0d6963f7d28e17f72");
    CHECK(hash_hex(Algorithm::sha256, "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(hash_hex(Algorithm::sha512_256, "abc") == "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23");
    CHECK(hash_hex(Algorithm::sha512_256_sess, "") ==
          "c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a");
    CHECK(hash_hex(Algorithm::md5_sess, "") == "d41d8cd98f00b204e9800998ecf8427e");
}

TEST_CASE("algorithm tokens and strength order", "[digest]") {
    CHECK(algorithm_token(Algorithm::md5) == "MD5");
    CHECK(algorithm_token(Algorithm::md5_sess) == "MD5-sess");
    CHECK(algorithm_token(Algorithm::sha256) == "SHA-256");
    CHECK(algorithm_token(Algorithm::sha256_sess) == "SHA-256-sess");
    CHECK(algorithm_token(Algorithm::sha512_256) == "SHA-512-256");
    CHECK(algorithm_token(Algorithm::sha512_256_sess) == "SHA-512-256-sess");
    CHECK(strength(Algorithm::sha512_256) > strength(Algorithm::sha256));
    CHECK(strength(Algorithm::sha256) > strength(Algorithm::md5));
    CHECK(strength(Algorithm::md5_sess) == strength(Algorithm::md5));
    CHECK(strength(Algorithm::sha256_sess) == strength(Algorithm::sha256));
    CHECK(strength(Algorithm::sha512_256_sess) == strength(Algorithm::sha512_256));
}

TEST_CASE("RFC 2617 section 3.5 vector (MD5, qop=auth)", "[digest]") {
    const Challenge c = rfc2617();
    CHECK_FALSE(c.algorithm_given);
    const std::string h = authorization(c, mufasa_2617, "GET", "/dir/index.html", {}, 1, "0a4f113b");
    CHECK(h ==
          "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
          "uri=\"/dir/index.html\", response=\"6629fae49393a05397450978507c4ef1\", cnonce=\"0a4f113b\", "
          "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", qop=auth, nc=00000001");
}

TEST_CASE("RFC 7616 section 3.9.1 vectors (MD5 and SHA-256)", "[digest]") {
    SECTION("MD5") {
        const std::string h = authorization(rfc7616("MD5"), mufasa_7616, "GET", "/dir/index.html", {}, 1, kCnonce7616);
        CHECK(h == std::string("Digest username=\"Mufasa\", realm=\"http-auth@example.org\", nonce=\"") + kNonce7616 +
                       "\", uri=\"/dir/index.html\", response=\"8ca523f5e9506fed4657c9700eebdbec\", algorithm=MD5, "
                       "cnonce=\"" +
                       kCnonce7616 + "\", opaque=\"" + kOpaque7616 + "\", qop=auth, nc=00000001");
    }
    SECTION("SHA-256") {
        const std::string h =
            authorization(rfc7616("SHA-256"), mufasa_7616, "GET", "/dir/index.html", {}, 1, kCnonce7616);
        CHECK(param(h, "response") == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
        CHECK(param(h, "algorithm") == "SHA-256");
        CHECK(param(h, "qop") == "auth");
        CHECK(param(h, "opaque") == kOpaque7616);
    }
    SECTION("the RFC 2617 password capitalisation gives another answer") {
        const std::string h = authorization(rfc7616("MD5"), mufasa_2617, "GET", "/dir/index.html", {}, 1, kCnonce7616);
        CHECK(param(h, "response") != "8ca523f5e9506fed4657c9700eebdbec");
    }
}

TEST_CASE("SHA-512-256 and the -sess variants", "[digest]") {
    // Expected values: openssl dgst over the RFC 7616 §3.9.1 inputs, with
    // A1 = H(user:realm:pass):nonce:cnonce for -sess (RFC 7616 §3.4.2).
    auto response = [](const char* alg) {
        return param(authorization(rfc7616(alg), mufasa_7616, "GET", "/dir/index.html", {}, 1, kCnonce7616),
                     "response");
    };
    CHECK(response("SHA-512-256") == "430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0");
    CHECK(response("MD5-sess") == "e783283f46242139c486a698fec7211d");
    CHECK(response("SHA-256-sess") == "2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7");
    CHECK(response("SHA-512-256-sess") == "3f2a34f923c38b0fb26dce2fdfc2ce326c23cecf86fbb1444f3e51fbbc2cb92e");
    // RFC 2617 inputs with MD5-sess (hex H(A1) inside A1, erratum 1649).
    Challenge c = rfc2617();
    c.algorithm = Algorithm::md5_sess;
    c.algorithm_given = true;
    const std::string h = authorization(c, mufasa_2617, "GET", "/dir/index.html", {}, 1, "0a4f113b");
    CHECK(param(h, "response") == "8e3825c57e897f5a0dec6c2d4e5059d0");
    CHECK(param(h, "algorithm") == "MD5-sess");
}

TEST_CASE("no qop: RFC 2069 form without cnonce, nc or qop", "[digest]") {
    const Challenge c = must_parse("Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\"");
    CHECK_FALSE(c.qop_auth);
    CHECK_FALSE(c.qop_auth_int);
    const std::string h = authorization(c, mufasa_2617, "GET", "/dir/index.html", {}, 1, "0a4f113b");
    // H(HA1:nonce:HA2), computed with openssl dgst -md5.
    CHECK(h ==
          "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
          "uri=\"/dir/index.html\", response=\"670fd8c2df070c60b045671b8b24ff02\"");
    CHECK(h.find("cnonce") == std::string::npos);
    CHECK(h.find("nc=") == std::string::npos);
    CHECK(h.find("qop") == std::string::npos);
    CHECK(h.find("algorithm") == std::string::npos);
    CHECK(h.find("opaque") == std::string::npos);
}

TEST_CASE("auth-int only when it is the only choice, body hashed", "[digest]") {
    const std::string base = "Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", ";
    const Challenge only_int = must_parse(base + "qop=\"auth-int\"");
    CHECK(only_int.qop_auth_int);
    CHECK_FALSE(only_int.qop_auth);
    // Expected: openssl dgst -md5 with A2 = SUBSCRIBE:uri:H(body).
    std::string h =
        authorization(only_int, mufasa_2617, "SUBSCRIBE", "sip:alice@example.com", "<presence/>", 2, "0a4f113b");
    CHECK(param(h, "qop") == "auth-int");
    CHECK(param(h, "nc") == "00000002");
    CHECK(param(h, "response") == "d0f80cf0cc7653e9817d2f08ad0cdd2e");
    h = authorization(only_int, mufasa_2617, "SUBSCRIBE", "sip:alice@example.com", "", 1, "0a4f113b");
    CHECK(param(h, "response") == "aad06f87a3b27d85d9c32da8b48cf7de");  // H("") for the empty body

    const Challenge both = must_parse(base + "qop=\"auth-int, auth\"");
    h = authorization(both, mufasa_2617, "SUBSCRIBE", "sip:alice@example.com", "<presence/>", 1, "0a4f113b");
    CHECK(param(h, "qop") == "auth");
}

TEST_CASE("opaque and algorithm are echoed only when given", "[digest]") {
    const Challenge plain = must_parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth\"");
    std::string h = authorization(plain, mufasa_2617, "SUBSCRIBE", "sip:a@b", {}, 1, "c");
    CHECK(param(h, "algorithm") == "<absent>");
    CHECK(param(h, "opaque") == "<absent>");

    const Challenge named = must_parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth\", algorithm=md5, opaque=\"\"");
    CHECK(named.algorithm_given);
    CHECK(named.has_opaque);
    h = authorization(named, mufasa_2617, "SUBSCRIBE", "sip:a@b", {}, 1, "c");
    CHECK(param(h, "algorithm") == "MD5");  // canonical token, unquoted
    CHECK(h.find("algorithm=MD5,") != std::string::npos);
    CHECK(h.find("opaque=\"\"") != std::string::npos);  // empty but present: echoed
    CHECK(h.find("qop=auth,") != std::string::npos);    // unquoted
    CHECK(h.find(", nc=00000001") != std::string::npos);
}

TEST_CASE("quoted values escape quote and backslash", "[digest]") {
    const Challenge c = must_parse(R"(Digest realm="a \"quoted\" realm\\x", nonce="n\"1", qop=auth)");
    CHECK(c.realm == R"(a "quoted" realm\x)");
    CHECK(c.nonce == "n\"1");
    const Credentials cred{R"(us"er\)", "p"};
    const std::string h = authorization(c, cred, "SUBSCRIBE", "sip:a@b", {}, 1, "c");
    CHECK(h.find(R"(username="us\"er\\")") != std::string::npos);
    CHECK(h.find(R"(realm="a \"quoted\" realm\\x")") != std::string::npos);
    CHECK(h.find(R"(nonce="n\"1")") != std::string::npos);
    // The hash is over the unescaped values.
    CHECK(param(h, "response") ==
          hash_hex(Algorithm::md5, hash_hex(Algorithm::md5, std::string(R"(us"er\:a "quoted" realm\x:p)")) +
                                       ":n\"1:00000001:c:auth:" + hash_hex(Algorithm::md5, "SUBSCRIBE:sip:a@b")));
}

TEST_CASE("userhash=true sends H(user:realm) as the username", "[digest]") {
    Challenge c = rfc7616("SHA-512-256");
    c.userhash = true;
    const std::string h = authorization(c, mufasa_7616, "GET", "/dir/index.html", {}, 1, kCnonce7616);
    // openssl dgst -sha512-256 of "Mufasa:http-auth@example.org".
    CHECK(param(h, "username") == "e2dfabd1a96ddf867710b653b6e6857d1f147086de7d7ef79dcd249859872570");
    CHECK(h.find(", userhash=true") != std::string::npos);
    // A1 still uses the clear username (RFC 7616 §3.4.4).
    CHECK(param(h, "response") == "430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0");
    CHECK(must_parse("Digest realm=\"r\", nonce=\"n\", userhash=true").userhash);
}

TEST_CASE("parse_challenge: what real servers send", "[digest]") {
    SECTION("Kamailio") {
        const Challenge c =
            must_parse(R"(Digest realm="127.0.0.1", nonce="awfDHGsHwfDlg0cQqFsKOJSlmxg369Mu", qop="auth")", true);
        CHECK(c.proxy);
        CHECK(c.realm == "127.0.0.1");
        CHECK(c.nonce == "awfDHGsHwfDlg0cQqFsKOJSlmxg369Mu");
        CHECK(c.qop_auth);
        CHECK_FALSE(c.qop_auth_int);
        CHECK_FALSE(c.stale);
        CHECK_FALSE(c.has_opaque);
        CHECK_FALSE(c.algorithm_given);
        CHECK(c.algorithm == Algorithm::md5);
    }
    SECTION("no qop") {
        const Challenge c = must_parse(R"(Digest realm="asterisk",nonce="1690000000/abc")");
        CHECK(c.realm == "asterisk");
        CHECK(c.nonce == "1690000000/abc");
        CHECK_FALSE(c.qop_auth);
        CHECK_FALSE(c.qop_auth_int);
    }
    SECTION("qop list") {
        const Challenge c = must_parse(R"(Digest realm="r", nonce="n", qop="auth,auth-int")");
        CHECK(c.qop_auth);
        CHECK(c.qop_auth_int);
        const Challenge spaced = must_parse(R"(Digest realm="r", nonce="n", qop=" auth-int ,  AUTH ")");
        CHECK(spaced.qop_auth);
        CHECK(spaced.qop_auth_int);
        const Challenge unknown_too = must_parse(R"(Digest realm="r", nonce="n", qop="auth-conf,auth")");
        CHECK(unknown_too.qop_auth);
        CHECK(error_of(R"(Digest realm="r", nonce="n", qop="auth-conf")") == "unsupported_qop");
    }
    SECTION("stale") {
        CHECK(must_parse(R"(Digest realm="r", nonce="n", stale=TRUE)").stale);
        CHECK(must_parse(R"(Digest realm="r", nonce="n", stale="true")").stale);
        CHECK(must_parse(R"(Digest realm="r", nonce="n", stale=True)").stale);
        CHECK_FALSE(must_parse(R"(Digest realm="r", nonce="n", stale=FALSE)").stale);
        CHECK_FALSE(must_parse(R"(Digest realm="r", nonce="n", stale=yes)").stale);
    }
    SECTION("algorithms, quoted or not, any case") {
        CHECK(must_parse(R"(Digest realm="r", nonce="n", algorithm=MD5)").algorithm == Algorithm::md5);
        CHECK(must_parse(R"(Digest realm="r", nonce="n", algorithm="SHA-256")").algorithm == Algorithm::sha256);
        CHECK(must_parse(R"(Digest realm="r", nonce="n", algorithm=sha-512-256)").algorithm == Algorithm::sha512_256);
        CHECK(must_parse(R"(Digest realm="r", nonce="n", qop=auth, algorithm=md5-SESS)").algorithm ==
              Algorithm::md5_sess);
        CHECK(must_parse(R"(Digest realm="r", nonce="n", qop=auth, algorithm=SHA-256-sess)").algorithm ==
              Algorithm::sha256_sess);
        CHECK(must_parse(R"(Digest realm="r", nonce="n", qop=auth, algorithm=SHA-512-256-Sess)").algorithm ==
              Algorithm::sha512_256_sess);
        CHECK(error_of(R"(Digest realm="r", nonce="n", algorithm=SHA-1)") == "unsupported_algorithm");
        CHECK(error_of(R"(Digest realm="r", nonce="n", algorithm=AKAv1-MD5)") == "unsupported_algorithm");
        // -sess has no cnonce to build A1 from without qop.
        CHECK(error_of(R"(Digest realm="r", nonce="n", algorithm=MD5-sess)") == "unsupported_algorithm");
    }
    SECTION("mixed case, extra spaces, folding, unknown parameters") {
        const Challenge c = must_parse(
            "  dIgEsT   REALM = \"r\" ,,  Nonce=\"n\"\r\n\t, Domain=\"sip:a.example sip:b.example\", "
            "charset=UTF-8,  x-vendor=\"a,b=c\" , OPAQUE=\"o\"  ,QOP=\"auth\"  ");
        CHECK(c.realm == "r");
        CHECK(c.nonce == "n");
        CHECK(c.opaque == "o");
        CHECK(c.has_opaque);
        CHECK(c.qop_auth);
    }
    SECTION("unquoted base64 nonce") { CHECK(must_parse("Digest realm=r, nonce=YWJj+/d==").nonce == "YWJj+/d=="); }
}

TEST_CASE("parse_challenge: refusals", "[digest]") {
    CHECK(error_of(R"(Basic realm="r")") == "not_digest");
    CHECK(error_of("basic") == "not_digest");
    CHECK(error_of(R"(Bearer realm="r", nonce="n")") == "not_digest");
    CHECK(error_of(R"(Digest realm="r")") == "malformed");
    CHECK(error_of(R"(Digest nonce="n")") == "malformed");
    CHECK(error_of(R"(Digest realm="r", nonce="")") == "malformed");
    CHECK(error_of("Digest") == "malformed");
    CHECK(error_of("") == "malformed");
    CHECK(error_of("   ") == "malformed");
    CHECK(error_of(R"(Digest realm="r", nonce="n)") == "malformed");    // unterminated
    CHECK(error_of(R"(Digest realm="r", nonce="n\)") == "malformed");   // escape at the end
    CHECK(error_of(R"(Digest realm="r" nonce="n")") == "malformed");    // no comma
    CHECK(error_of(R"(Digest realm="r", nonce)") == "malformed");       // no value
    CHECK(error_of(R"(Digest realm="r", nonce=)") == "malformed");      // empty value
    CHECK(error_of(R"(Digest realm="r", ="n")") == "malformed");        // no name
    CHECK(error_of(R"(Digest realm="r", nonce=a"b")") == "malformed");  // quote inside a token
    CHECK(error_of(R"(Digestrealm="r", nonce="n")") == "not_digest");   // another scheme name
    CHECK(error_of(R"(Digest,realm="r", nonce="n")") == "malformed");   // no space after the scheme
    CHECK(error_of(R"(Digest realm="r", nonce="n", nonce="m")") == "malformed");
    CHECK(error_of(R"(Digest realm="r", nonce="n", algorithm=MD5, algorithm=SHA-256)") == "malformed");
    // CR/LF inside a value would be echoed into our request: refused.
    CHECK(error_of("Digest realm=\"r\", nonce=\"n\r\nX-Injected: 1\"") == "malformed");
    const char with_nul[] = "Digest realm=\"r\", nonce=\"n\0x\"";
    CHECK(error_of(std::string(with_nul, sizeof with_nul - 1)) == "malformed");
}

TEST_CASE("parse_challenge survives hostile input", "[digest]") {
    const std::string long_value = "Digest realm=\"r\", nonce=\"" + std::string(kMaxChallengeLength, 'a') + "\"";
    CHECK(error_of(long_value) == "malformed");
    CHECK(error_of(std::string(1 << 20, ',')) == "malformed");
    CHECK(error_of("Digest " + std::string(kMaxChallengeLength - 7, ',')) == "malformed");
    std::string quotes = "Digest realm=";
    while (quotes.size() < kMaxChallengeLength - 2) quotes += "\\\"";
    CHECK(error_of(quotes) == "malformed");
    const char* garbage[] = {"\"",
                             "\\",
                             "Digest =",
                             "Digest ,,,,,",
                             "Digest realm",
                             "Digest realm=\"",
                             "Digest realm=\"\\",
                             "Digest realm=r,nonce=n,qop=\"",
                             "Digest realm=r,nonce=n,qop=\",,,,\"",
                             "Digest realm=r,nonce=n,algorithm=\"\"",
                             "Digest\t\r\n",
                             "\xff\xfe\x00\x01",
                             "Digest realm=\xff, nonce=\x80"};
    for (const char* g : garbage) {
        INFO(g);
        (void)parse_challenge(g, false);
    }
    // Every prefix of a real challenge: no crash, and only the full one parses.
    const std::string full = R"(Digest realm="r", nonce="n", qop="auth", opaque="o", algorithm=SHA-256)";
    for (size_t n = 0; n < full.size(); ++n) (void)parse_challenge(full.substr(0, n), false);
    CHECK(error_of(full) == "ok");
    CHECK(error_of("Digest realm=r,nonce=n,qop=\",,,,\"") == "ok");  // an empty qop list is no qop
}

TEST_CASE("Session: 401, retry, success", "[digest][session]") {
    Session s(mufasa_2617);
    CHECK(s.headers("SUBSCRIBE", "sip:alice@example.com").empty());  // nothing known yet
    const std::vector<std::string> www = {
        R"(Digest realm="127.0.0.1", nonce="awfDHGsHwfDlg0cQqFsKOJSlmxg369Mu", qop="auth")"};
    REQUIRE(s.on_challenge(www, false) == Session::Verdict::retry);
    CHECK(s.last_realm() == "127.0.0.1");
    const auto h = s.headers("SUBSCRIBE", "sip:alice@example.com");
    REQUIRE(h.size() == 1);
    CHECK(h[0].first == "Authorization");
    const std::string& v = h[0].second;
    CHECK(param(v, "realm") == "127.0.0.1");
    CHECK(param(v, "nonce") == "awfDHGsHwfDlg0cQqFsKOJSlmxg369Mu");
    CHECK(param(v, "uri") == "sip:alice@example.com");
    CHECK(param(v, "nc") == "00000001");
    CHECK(param(v, "qop") == "auth");
    CHECK(param(v, "cnonce").size() == 16);  // 64 random bits
    CHECK(v.find("Circle") == std::string::npos);
    CHECK(param(v, "response") == recompute(must_parse(www[0]), mufasa_2617, v, "SUBSCRIBE", "sip:alice@example.com"));
    s.on_success();
}

TEST_CASE("Session: the same realm challenged again without stale is wrong credentials", "[digest][session]") {
    Session s(mufasa_2617);
    REQUIRE(s.on_challenge({R"(Digest realm="r", nonce="n1", qop="auth")"}, false) == Session::Verdict::retry);
    (void)s.headers("SUBSCRIBE", "sip:a@b");
    CHECK(s.on_challenge({R"(Digest realm="r", nonce="n2", qop="auth")"}, false) ==
          Session::Verdict::wrong_credentials);
    CHECK(s.last_realm() == "r");
}

TEST_CASE("Session: stale=true retries once with the new nonce", "[digest][session]") {
    Session s(mufasa_2617);
    REQUIRE(s.on_challenge({R"(Digest realm="r", nonce="n1", qop="auth")"}, false) == Session::Verdict::retry);
    const auto first = s.headers("SUBSCRIBE", "sip:a@b");
    REQUIRE(s.on_challenge({R"(Digest realm="r", nonce="n2", qop="auth", stale=true)"}, false) ==
            Session::Verdict::retry);
    const auto second = s.headers("SUBSCRIBE", "sip:a@b");
    REQUIRE(second.size() == 1);
    CHECK(param(second[0].second, "nonce") == "n2");
    CHECK(param(second[0].second, "nc") == "00000001");
    CHECK(param(second[0].second, "cnonce") != param(first[0].second, "cnonce"));

    SECTION("a second stale is one round too many") {
        CHECK(s.on_challenge({R"(Digest realm="r", nonce="n3", qop="auth", stale=TRUE)"}, false) ==
              Session::Verdict::too_many_rounds);
    }
    SECTION("then a plain challenge means the password is wrong") {
        CHECK(s.on_challenge({R"(Digest realm="r", nonce="n3", qop="auth")"}, false) ==
              Session::Verdict::wrong_credentials);
    }
}

TEST_CASE("Session: strongest algorithm per realm wins", "[digest][session]") {
    Session s(mufasa_7616);
    const std::vector<std::string> offered = {
        R"(Digest realm="r", nonce="n-md5", qop="auth", algorithm=MD5)",
        R"(Digest realm="r", nonce="n-sha", qop="auth", algorithm=SHA-256)",
        R"(Basic realm="r")",
        R"(Digest realm="r", nonce="n-x", qop="auth", algorithm=SHA-3)",
    };
    REQUIRE(s.on_challenge(offered, false) == Session::Verdict::retry);
    auto h = s.headers("SUBSCRIBE", "sip:a@b");
    REQUIRE(h.size() == 1);
    CHECK(param(h[0].second, "algorithm") == "SHA-256");
    CHECK(param(h[0].second, "nonce") == "n-sha");
    CHECK(param(h[0].second, "response").size() == 64);

    Session t(mufasa_7616);
    REQUIRE(t.on_challenge({R"(Digest realm="r", nonce="a", qop="auth", algorithm=SHA-512-256-sess)",
                            R"(Digest realm="r", nonce="b", qop="auth", algorithm=SHA-256)"},
                           false) == Session::Verdict::retry);
    h = t.headers("SUBSCRIBE", "sip:a@b");
    REQUIRE(h.size() == 1);
    CHECK(param(h[0].second, "algorithm") == "SHA-512-256-sess");
}

TEST_CASE("Session: several realms and proxy plus www", "[digest][session]") {
    Session s(mufasa_2617);
    REQUIRE(s.on_challenge({R"(Digest realm="proxy.example", nonce="p1", qop="auth")"}, true) ==
            Session::Verdict::retry);
    REQUIRE(s.on_challenge({R"(Digest realm="registrar.example", nonce="w1", qop="auth")"}, false) ==
            Session::Verdict::retry);
    auto h = s.headers("SUBSCRIBE", "sip:a@b");
    REQUIRE(h.size() == 2);
    CHECK(h[0].first == "Proxy-Authorization");
    CHECK(param(h[0].second, "realm") == "proxy.example");
    CHECK(param(h[0].second, "nc") == "00000001");
    CHECK(h[1].first == "Authorization");
    CHECK(param(h[1].second, "realm") == "registrar.example");
    CHECK(param(h[1].second, "nc") == "00000001");

    // The next attempt still carries the proxy credentials, nc counting on.
    h = s.headers("SUBSCRIBE", "sip:a@b");
    REQUIRE(h.size() == 2);
    CHECK(param(h[0].second, "nc") == "00000002");

    Session two(mufasa_2617);
    REQUIRE(two.on_challenge({R"(Digest realm="a", nonce="1", qop="auth")", R"(Digest realm="b", nonce="2")"}, false) ==
            Session::Verdict::retry);
    h = two.headers("SUBSCRIBE", "sip:a@b");
    REQUIRE(h.size() == 2);
    CHECK(param(h[0].second, "realm") == "a");
    CHECK(param(h[1].second, "realm") == "b");
    CHECK(param(h[1].second, "nc") == "<absent>");  // no qop: RFC 2069 form
}

TEST_CASE("Session: at most 3 rounds in total", "[digest][session]") {
    Session s(mufasa_2617);
    REQUIRE(s.on_challenge({R"(Digest realm="p", nonce="1", qop="auth")"}, true) == Session::Verdict::retry);
    (void)s.headers("SUBSCRIBE", "sip:a@b");
    REQUIRE(s.on_challenge({R"(Digest realm="w", nonce="2", qop="auth")"}, false) == Session::Verdict::retry);
    (void)s.headers("SUBSCRIBE", "sip:a@b");
    REQUIRE(s.on_challenge({R"(Digest realm="w", nonce="3", qop="auth", stale=true)"}, false) ==
            Session::Verdict::retry);
    (void)s.headers("SUBSCRIBE", "sip:a@b");
    CHECK(s.on_challenge({R"(Digest realm="p", nonce="4", qop="auth", stale=true)"}, true) ==
          Session::Verdict::too_many_rounds);
}

TEST_CASE("Session: a realm is not answered more than twice even without headers()", "[digest][session]") {
    Session s(mufasa_2617);
    REQUIRE(s.on_challenge({R"(Digest realm="r", nonce="1", qop="auth")"}, false) == Session::Verdict::retry);
    REQUIRE(s.on_challenge({R"(Digest realm="r", nonce="2", qop="auth")"}, false) == Session::Verdict::retry);
    CHECK(s.on_challenge({R"(Digest realm="r", nonce="3", qop="auth")"}, false) == Session::Verdict::too_many_rounds);
}

TEST_CASE("Session: preemptive credentials after success count nc up", "[digest][session]") {
    Session s(mufasa_2617);
    REQUIRE(s.on_challenge({R"(Digest realm="r", nonce="n1", qop="auth")"}, false) == Session::Verdict::retry);
    const auto first = s.headers("SUBSCRIBE", "sip:a@b");
    s.on_success();
    const auto refresh = s.headers("SUBSCRIBE", "sip:a@b");
    REQUIRE(refresh.size() == 1);
    CHECK(param(refresh[0].second, "nonce") == "n1");
    CHECK(param(refresh[0].second, "nc") == "00000002");
    CHECK(param(refresh[0].second, "cnonce") == param(first[0].second, "cnonce"));
    CHECK(param(refresh[0].second, "response") != param(first[0].second, "response"));
    s.on_success();
    CHECK(param(s.headers("SUBSCRIBE", "sip:a@b")[0].second, "nc") == "00000003");

    SECTION("the short-lived nonce expired: stale retry, nc back to 1") {
        REQUIRE(s.on_challenge({R"(Digest realm="r", nonce="n2", qop="auth", stale=true)"}, false) ==
                Session::Verdict::retry);
        CHECK(param(s.headers("SUBSCRIBE", "sip:a@b")[0].second, "nc") == "00000001");
        CHECK(s.on_challenge({R"(Digest realm="r", nonce="n3", qop="auth", stale=true)"}, false) ==
              Session::Verdict::too_many_rounds);
    }
    SECTION("a new nonce without stale is a fresh round, and a refusal after it is final") {
        REQUIRE(s.on_challenge({R"(Digest realm="r", nonce="n2", qop="auth")"}, false) == Session::Verdict::retry);
        CHECK(param(s.headers("SUBSCRIBE", "sip:a@b")[0].second, "nc") == "00000001");
        CHECK(s.on_challenge({R"(Digest realm="r", nonce="n3", qop="auth")"}, false) ==
              Session::Verdict::wrong_credentials);
    }
}

TEST_CASE("Session: nothing supported", "[digest][session]") {
    Session s(mufasa_2617);
    CHECK(s.on_challenge({R"(Basic realm="r")"}, false) == Session::Verdict::unsupported);
    CHECK(s.on_challenge({}, false) == Session::Verdict::unsupported);
    CHECK(s.on_challenge({R"(Digest realm="r", nonce="n", algorithm=SHA-1)", "garbage"}, true) ==
          Session::Verdict::unsupported);
    CHECK(s.headers("SUBSCRIBE", "sip:a@b").empty());
}
