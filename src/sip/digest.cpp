// HTTP Digest for SIP: a bounded, non-recursive challenge parser, the
// RFC 7616 §3.4 response computed with OpenSSL EVP digests, and the
// per-request round policy of rfc-checklist 11.10-11.14. Nothing here logs:
// passwords and responses must never reach a log (rfc-checklist 11.17).
#include "sip/digest.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <initializer_list>

#include "util/random.hpp"
#include "util/text.hpp"

namespace presenced::sip::digest {

namespace {

// rfc-checklist 11.12: one normal round plus one stale round per realm,
// three rounds in all for one request.
constexpr int kMaxRoundsPerRealm = 2;
constexpr int kMaxRoundsTotal = 3;
// rfc-checklist 11.8: at least 64 bits of randomness in every cnonce.
constexpr size_t kCnonceBits = 64;

bool is_lws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// RFC 3261 §25.1 token characters.
bool is_token_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '-':
        case '.':
        case '!':
        case '%':
        case '*':
        case '_':
        case '+':
        case '`':
        case '\'':
        case '~':
            return true;
        default:
            return false;
    }
}

bool is_control(char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
}

using util::ascii_lower;
using util::iequals;

std::string_view trim_lws(std::string_view s) {
    while (!s.empty() && is_lws(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_lws(s.back())) s.remove_suffix(1);
    return s;
}

std::optional<Algorithm> algorithm_from_token(std::string_view token) {
    static constexpr Algorithm all[] = {Algorithm::md5,         Algorithm::md5_sess,   Algorithm::sha256,
                                        Algorithm::sha256_sess, Algorithm::sha512_256, Algorithm::sha512_256_sess};
    for (Algorithm a : all)
        if (iequals(token, algorithm_token(a))) return a;
    return std::nullopt;
}

bool is_sess(Algorithm a) {
    return a == Algorithm::md5_sess || a == Algorithm::sha256_sess || a == Algorithm::sha512_256_sess;
}

const EVP_MD* evp_md(Algorithm a) {
    switch (a) {
        case Algorithm::md5:
        case Algorithm::md5_sess:
            return EVP_md5();
        case Algorithm::sha256:
        case Algorithm::sha256_sess:
            return EVP_sha256();
        case Algorithm::sha512_256:
        case Algorithm::sha512_256_sess:
            return EVP_sha512_256();
    }
    return nullptr;
}

util::Error malformed(std::string message) { return util::make_error("malformed", std::move(message)); }

// A left-to-right reader over one header value: every step consumes at
// least one character or stops, so hostile input costs linear time.
class Reader {
public:
    explicit Reader(std::string_view text) : text_(text) {}

    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return text_[pos_]; }
    void advance() { ++pos_; }
    void skip_lws() {
        while (!at_end() && is_lws(peek())) ++pos_;
    }
    std::string_view token() {
        const size_t start = pos_;
        while (!at_end() && is_token_char(peek())) ++pos_;
        return text_.substr(start, pos_ - start);
    }
    // RFC 3261 §25.1 quoted-string after the opening quote, with quoted-pair
    // escapes removed. Control characters are refused because the value is
    // echoed into our own request (header injection).
    std::optional<std::string> quoted_rest() {
        std::string out;
        while (!at_end()) {
            char c = peek();
            ++pos_;
            if (c == '"') return out;
            if (c == '\\') {
                if (at_end()) return std::nullopt;
                c = peek();
                ++pos_;
            }
            if (is_control(c)) return std::nullopt;
            out += c;
        }
        return std::nullopt;  // unterminated
    }
    // An unquoted value: servers send tokens (algorithm=MD5, stale=TRUE) and
    // sometimes bare base64 nonces, so take everything up to a separator.
    std::optional<std::string> bare_value() {
        const size_t start = pos_;
        while (!at_end() && peek() != ',' && !is_lws(peek())) {
            if (peek() == '"' || is_control(peek())) return std::nullopt;
            ++pos_;
        }
        if (pos_ == start) return std::nullopt;
        return std::string(text_.substr(start, pos_ - start));
    }

private:
    std::string_view text_;
    size_t pos_ = 0;
};

struct RawParams {
    std::optional<std::string> realm, nonce, opaque, algorithm, qop, stale, userhash;
};

std::optional<std::string>* slot_for(RawParams& p, std::string_view name) {
    if (iequals(name, "realm")) return &p.realm;
    if (iequals(name, "nonce")) return &p.nonce;
    if (iequals(name, "opaque")) return &p.opaque;
    if (iequals(name, "algorithm")) return &p.algorithm;
    if (iequals(name, "qop")) return &p.qop;
    if (iequals(name, "stale")) return &p.stale;
    if (iequals(name, "userhash")) return &p.userhash;
    return nullptr;  // domain, charset and extensions: ignored
}

// value as an RFC 7616 quoted-string body: only '"' and '\' need escaping.
void append_quoted(std::string& out, std::string_view name, std::string_view value) {
    out += name;
    out += "=\"";
    for (char c : value) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
}

// The colon-joined inputs of H() in RFC 7616 §3.4.
std::string join(std::initializer_list<std::string_view> parts) {
    std::string out;
    bool first = true;
    for (auto p : parts) {
        if (!first) out += ':';
        first = false;
        out += p;
    }
    return out;
}

std::string nc_hex(uint32_t nonce_count) {
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(nonce_count));
    return buf;
}

}  // namespace

std::string_view algorithm_token(Algorithm a) {
    switch (a) {
        case Algorithm::md5:
            return "MD5";
        case Algorithm::md5_sess:
            return "MD5-sess";
        case Algorithm::sha256:
            return "SHA-256";
        case Algorithm::sha256_sess:
            return "SHA-256-sess";
        case Algorithm::sha512_256:
            return "SHA-512-256";
        case Algorithm::sha512_256_sess:
            return "SHA-512-256-sess";
    }
    return "MD5";
}

int strength(Algorithm a) {
    switch (a) {
        case Algorithm::md5:
        case Algorithm::md5_sess:
            return 1;
        case Algorithm::sha256:
        case Algorithm::sha256_sess:
            return 2;
        case Algorithm::sha512_256:
        case Algorithm::sha512_256_sess:
            return 3;
    }
    return 0;
}

util::Result<Challenge> parse_challenge(std::string_view value, bool proxy) {
    if (value.size() > kMaxChallengeLength) return malformed("challenge too long");
    Reader in(value);
    in.skip_lws();
    const std::string_view scheme = in.token();
    if (scheme.empty()) return malformed("no authentication scheme");
    // RFC 3261 §22.1: Basic (and any other scheme) is never answered.
    if (!iequals(scheme, "Digest")) return util::make_error("not_digest", "not a Digest challenge");
    if (!in.at_end() && !is_lws(in.peek())) return malformed("bad authentication scheme");

    // RFC 7616 §3.3 / RFC 2617 §3.2.1: a comma-separated list of auth-params.
    RawParams raw;
    for (;;) {
        in.skip_lws();
        while (!in.at_end() && (in.peek() == ',' || is_lws(in.peek()))) in.advance();  // empty list elements
        if (in.at_end()) break;
        const std::string_view name = in.token();
        if (name.empty()) return malformed("bad parameter name");
        in.skip_lws();
        if (in.at_end() || in.peek() != '=') return malformed("parameter without value");
        in.advance();
        in.skip_lws();
        if (in.at_end()) return malformed("parameter without value");
        std::optional<std::string> v;
        if (in.peek() == '"') {
            in.advance();
            v = in.quoted_rest();
            if (!v) return malformed("bad quoted string");
        } else {
            v = in.bare_value();
            if (!v) return malformed("bad parameter value");
        }
        if (auto* slot = slot_for(raw, name)) {
            // A repeated directive is ambiguous (which algorithm?), so refuse it.
            if (slot->has_value()) return malformed("repeated parameter");
            *slot = std::move(v);
        }
        in.skip_lws();
        if (!in.at_end() && in.peek() != ',') return malformed("missing comma between parameters");
    }

    if (!raw.realm) return malformed("no realm");
    if (!raw.nonce || raw.nonce->empty()) return malformed("no nonce");

    Challenge c;
    c.proxy = proxy;
    c.realm = std::move(*raw.realm);
    c.nonce = std::move(*raw.nonce);
    if (raw.opaque) {
        c.opaque = std::move(*raw.opaque);
        c.has_opaque = true;
    }
    if (raw.algorithm) {
        const auto a = algorithm_from_token(*raw.algorithm);
        if (!a) return util::make_error("unsupported_algorithm", "unsupported digest algorithm");
        c.algorithm = *a;
        c.algorithm_given = true;
    }
    if (raw.qop) {
        bool any = false;
        std::string_view rest = *raw.qop;
        while (!rest.empty()) {
            const size_t comma = rest.find(',');
            const std::string_view item = trim_lws(rest.substr(0, comma));
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            if (item.empty()) continue;
            any = true;
            if (iequals(item, "auth")) c.qop_auth = true;
            if (iequals(item, "auth-int")) c.qop_auth_int = true;
        }
        // RFC 3261 §22.4 item 8: with qop we MUST answer with one we support.
        if (any && !c.qop_auth && !c.qop_auth_int)
            return util::make_error("unsupported_qop", "no supported quality of protection");
    }
    // *-sess needs the cnonce, which exists only with qop (rfc-checklist 11.7).
    if (is_sess(c.algorithm) && !c.qop_auth && !c.qop_auth_int)
        return util::make_error("unsupported_algorithm", "session algorithm without qop");
    c.stale = raw.stale && iequals(trim_lws(*raw.stale), "true");
    c.userhash = raw.userhash && iequals(trim_lws(*raw.userhash), "true");
    return c;
}

std::string hash_hex(Algorithm a, std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    // Fails only when the provider refuses the digest (MD5 under FIPS): the
    // empty result then yields a response the server rejects.
    if (EVP_Digest(data.data(), data.size(), md, &len, evp_md(a), nullptr) != 1) return {};
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(static_cast<size_t>(len) * 2);
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 0x0f];
    }
    return out;
}

std::string authorization(const Challenge& challenge, const Credentials& credentials, std::string_view method,
                          std::string_view digest_uri, std::string_view body, uint32_t nonce_count,
                          std::string_view cnonce) {
    const Algorithm alg = challenge.algorithm;
    auto H = [alg](std::string_view s) { return hash_hex(alg, s); };

    // rfc-checklist 11.7: auth when offered, auth-int only as the sole choice.
    std::string_view qop;
    if (challenge.qop_auth)
        qop = "auth";
    else if (challenge.qop_auth_int)
        qop = "auth-int";
    const bool with_qop = !qop.empty();
    // A -sess A1 needs a cnonce; parse_challenge never yields -sess without
    // qop, but a hand-built challenge still gets a verifiable answer.
    const bool send_cnonce = with_qop || is_sess(alg);

    // RFC 7616 §3.4.2: A1, hashed once more with nonce and cnonce for -sess.
    std::string ha1 = H(join({credentials.username, challenge.realm, credentials.password}));
    if (is_sess(alg)) ha1 = H(join({ha1, challenge.nonce, cnonce}));
    // RFC 7616 §3.4.3: A2, with the body hash for auth-int.
    const std::string ha2 = qop == "auth-int" ? H(join({method, digest_uri, H(body)})) : H(join({method, digest_uri}));
    const std::string nc = nc_hex(nonce_count);
    // RFC 7616 §3.4.1 with qop; RFC 2069 form (RFC 2617 §3.2.2.1) without.
    const std::string response =
        with_qop ? H(join({ha1, challenge.nonce, nc, cnonce, qop, ha2})) : H(join({ha1, challenge.nonce, ha2}));

    // RFC 7616 §3.4.4: with userhash=true the username field is H(user:realm).
    const std::string username =
        challenge.userhash ? H(join({credentials.username, challenge.realm})) : credentials.username;

    std::string out = "Digest ";
    append_quoted(out, "username", username);
    out += ", ";
    append_quoted(out, "realm", challenge.realm);
    out += ", ";
    append_quoted(out, "nonce", challenge.nonce);
    out += ", ";
    append_quoted(out, "uri", digest_uri);
    out += ", ";
    append_quoted(out, "response", response);
    if (challenge.algorithm_given) {
        out += ", algorithm=";
        out += algorithm_token(alg);
    }
    if (send_cnonce) {
        out += ", ";
        append_quoted(out, "cnonce", cnonce);
    }
    if (challenge.has_opaque) {
        out += ", ";
        append_quoted(out, "opaque", challenge.opaque);
    }
    if (with_qop) {
        out += ", qop=";
        out += qop;
    }
    if (send_cnonce) {
        out += ", nc=";
        out += nc;
    }
    if (challenge.userhash) out += ", userhash=true";
    return out;
}

Session::Verdict Session::on_challenge(const std::vector<std::string>& values, bool proxy) {
    // RFC 8760 §2.4 / §3 and rfc-checklist 11.3: per realm, the strongest
    // supported challenge; among equals the first, the server's preference.
    std::vector<Challenge> chosen;
    for (const auto& value : values) {
        auto parsed = parse_challenge(value, proxy);
        if (!parsed) continue;  // Basic, unknown algorithms, garbage: ignored
        auto same =
            std::find_if(chosen.begin(), chosen.end(), [&](const Challenge& c) { return c.realm == parsed->realm; });
        if (same == chosen.end())
            chosen.push_back(std::move(*parsed));
        else if (strength(parsed->algorithm) > strength(same->algorithm))
            *same = std::move(*parsed);
    }
    if (chosen.empty()) return Verdict::unsupported;
    last_realm_ = chosen.back().realm;

    auto find = [this, proxy](const std::string& realm) -> Answered* {
        for (auto& a : answered_)
            if (a.challenge.proxy == proxy && a.challenge.realm == realm) return &a;
        return nullptr;
    };

    // Decide for every realm before changing anything, so a refused round
    // leaves the cached credentials as they were.
    bool wrong = false;
    bool too_many = total_rounds_ >= kMaxRoundsTotal;
    for (const auto& c : chosen) {
        const Answered* a = find(c.realm);
        if (!a) continue;
        if (a->rounds + 1 > kMaxRoundsPerRealm) too_many = true;
        if (!a->answered) continue;  // nothing sent for this challenge yet
        if (c.stale) {
            // RFC 7616 §3.3: stale means the password was right; retry once.
            if (a->stale_retried) too_many = true;
        } else if (a->rounds > 0) {
            // RFC 3261 §22.1 / rfc-checklist 11.11: our answer was refused.
            wrong = true;
        }
        // else: cached credentials sent preemptively after on_success() and
        // the server wants a new nonce without saying stale: a fresh round.
    }
    if (wrong) return Verdict::wrong_credentials;
    if (too_many) return Verdict::too_many_rounds;

    ++total_rounds_;
    for (auto& c : chosen) {
        Answered* a = find(c.realm);
        if (!a) {
            answered_.push_back(Answered{c, {}, 0, 0});
            a = &answered_.back();
            a->cnonce = util::random_hex(kCnonceBits);
        } else if (a->challenge.nonce != c.nonce) {
            // rfc-checklist 11.8: a new nonce gets a fresh cnonce and nc restarts.
            a->cnonce = util::random_hex(kCnonceBits);
            a->nonce_count = 0;
        }
        if (c.stale && a->answered) a->stale_retried = true;
        a->challenge = std::move(c);
        a->rounds += 1;
        a->answered = false;
    }
    return Verdict::retry;
}

std::vector<std::pair<std::string, std::string>> Session::headers(std::string_view method, std::string_view digest_uri,
                                                                  std::string_view body) {
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(answered_.size());
    for (auto& a : answered_) {
        // rfc-checklist 11.8: nc counts every request that uses this nonce.
        ++a.nonce_count;
        a.answered = true;
        out.emplace_back(a.challenge.proxy ? "Proxy-Authorization" : "Authorization",
                         authorization(a.challenge, credentials_, method, digest_uri, body, a.nonce_count, a.cnonce));
    }
    return out;
}

void Session::on_success() {
    // rfc-checklist 11.12 / 11.14: the round counters restart, the cached
    // challenges stay for preemptive credentials on later requests.
    total_rounds_ = 0;
    for (auto& a : answered_) {
        a.rounds = 0;
        a.stale_retried = false;
    }
}

}  // namespace presenced::sip::digest
