// Server side of HTTP digest for SIP (RFC 3261 §22.4, RFC 2617 / RFC 7616
// with algorithm MD5 and qop=auth): the challenge the generator sends and
// the verification of the credentials that come back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loadgen {

class DigestCheck {
public:
    // user:password as given on the command line; realm is ours.
    DigestCheck(std::string user, std::string password, std::string realm);

    // A fresh nonce (unique per challenge; the generator keeps it per Call-ID).
    std::string make_nonce();
    // The WWW-Authenticate header line (with CRLF) for nonce.
    std::string challenge_header(std::string_view nonce) const;

    enum class Verdict { ok, wrong_nonce, bad };
    // Checks an Authorization value for method against the nonce we issued
    // (RFC 7616 §3.4.1: response = KD(HA1, nonce:nc:cnonce:qop:HA2)).
    Verdict verify(std::string_view authorization, std::string_view method, std::string_view nonce) const;

    // Hex MD5 of text (lower case), exposed for the self-test.
    static std::string md5_hex(std::string_view text);

private:
    std::string user_;
    std::string realm_;
    std::string ha1_;  // MD5(user:realm:password), computed once
    uint64_t nonce_counter_ = 0;
    uint64_t nonce_salt_ = 0;
};

}  // namespace loadgen
