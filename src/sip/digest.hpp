// HTTP Digest for SIP (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760): parse
// challenges, compute credentials with OpenSSL's digests, and the per-
// request policy (strongest algorithm, stale retry once, never loop).
// Passwords and computed responses never reach a log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.hpp"

namespace presenced::sip::digest {

enum class Algorithm { md5, md5_sess, sha256, sha256_sess, sha512_256, sha512_256_sess };

std::string_view algorithm_token(Algorithm a);  // "MD5", "MD5-sess", "SHA-256", ...
// Strength order for choosing among challenges (RFC 8760 §3: block downgrade).
int strength(Algorithm a);

struct Challenge {
    bool proxy = false;  // from Proxy-Authenticate (407) rather than WWW-Authenticate (401)
    std::string realm;
    std::string nonce;
    std::string opaque;  // "" when absent (then not echoed)
    bool has_opaque = false;
    Algorithm algorithm = Algorithm::md5;
    bool algorithm_given = false;  // echo algorithm= only when the server named one
    bool stale = false;
    bool qop_auth = false;      // "auth" offered
    bool qop_auth_int = false;  // "auth-int" offered
    bool userhash = false;
};

// Parses one WWW-/Proxy-Authenticate value ("Digest realm=..., nonce=...").
// Error codes: "not_digest" (another scheme: Basic is never answered),
// "unsupported_algorithm" (also a -sess algorithm without qop, which has no
// cnonce to build A1 from), "unsupported_qop" (a qop list naming neither
// auth nor auth-int), "malformed" (no realm or nonce, bad quoting, a
// repeated parameter, a control character in a value, or longer than
// kMaxChallengeLength).
inline constexpr size_t kMaxChallengeLength = 8192;
util::Result<Challenge> parse_challenge(std::string_view value, bool proxy);

// H(data) as lowercase hex with the algorithm's hash (MD5, SHA-256,
// SHA-512/256), via OpenSSL EVP.
std::string hash_hex(Algorithm a, std::string_view data);

struct Credentials {
    std::string username;
    std::string password;
};

// The Authorization / Proxy-Authorization value answering `challenge` for
// one request (RFC 7616 §3.4): qop=auth when offered (auth-int only when it
// is the only choice; body hashed), nc as 8 hex digits, opaque echoed,
// algorithm echoed when given, realm/nonce/uri/cnonce/opaque/username quoted,
// qop/nc/algorithm not. Without qop: RFC 2069 form, no cnonce or nc.
std::string authorization(const Challenge& challenge, const Credentials& credentials, std::string_view method,
                          std::string_view digest_uri, std::string_view body, uint32_t nonce_count,
                          std::string_view cnonce);

// Per-request authentication policy, kept by whoever resends the request.
// Feed every 401/407 to on_challenge(); add headers() to the next attempt.
class Session {
public:
    explicit Session(Credentials credentials) : credentials_(std::move(credentials)) {}

    enum class Verdict {
        retry,              // resend with headers()
        wrong_credentials,  // the same realm challenged again without stale=true after our answer
        unsupported,        // no Digest challenge with an algorithm we implement
        too_many_rounds,    // more than 2 rounds per realm or 3 in all (rfc-checklist 11.12)
    };
    // values: every WWW-Authenticate (proxy=false) or Proxy-Authenticate
    // (proxy=true) value of the response. Several challenges for one realm:
    // the strongest supported wins. Unparsable and unsupported values are
    // ignored. A challenge after on_success() (the cached credentials were
    // sent preemptively, rfc-checklist 11.14) starts a fresh round rather
    // than failing: the nonce we reused may simply be gone. Each call that
    // answers counts as one round toward the total of 3.
    Verdict on_challenge(const std::vector<std::string>& values, bool proxy);
    // Authorization / Proxy-Authorization headers for the next attempt of
    // method to digest_uri (the Request-URI, character for character), one
    // per realm answered so far; each call counts nc up for its nonce.
    std::vector<std::pair<std::string, std::string>> headers(std::string_view method, std::string_view digest_uri,
                                                             std::string_view body = {});
    // A 2xx (or any non-401/407 final) ends the challenge rounds.
    void on_success();
    // For health causes: the realm of the last challenge.
    const std::string& last_realm() const { return last_realm_; }

private:
    struct Answered {
        Challenge challenge;
        std::string cnonce;
        uint32_t nonce_count = 0;
        int rounds = 0;              // challenge rounds for this realm in the current request
        bool answered = false;       // headers() sent credentials for the current challenge
        bool stale_retried = false;  // the one stale=true retry of this request is used up
    };
    Credentials credentials_;
    std::vector<Answered> answered_;  // one per realm (and per proxy/www)
    int total_rounds_ = 0;
    std::string last_realm_;
};

}  // namespace presenced::sip::digest
