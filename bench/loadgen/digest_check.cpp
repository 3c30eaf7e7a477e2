// Digest challenge and verification (MD5, qop=auth); see digest_check.hpp.
#include "digest_check.hpp"

#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <cstdio>

#include "sip_text.hpp"

namespace loadgen {
namespace {

constexpr size_t kMd5Bytes = 16;
constexpr std::string_view kHex = "0123456789abcdef";

}  // namespace

DigestCheck::DigestCheck(std::string user, std::string password, std::string realm)
    : user_(std::move(user)), realm_(std::move(realm)) {
    ha1_ = md5_hex(user_ + ":" + realm_ + ":" + password);
    // Nonces only need to be unique within one run; the clock is enough salt.
    nonce_salt_ = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

std::string DigestCheck::md5_hex(std::string_view text) {
    std::array<unsigned char, kMd5Bytes> digest{};
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_md5(), nullptr);
    std::string out;
    out.reserve(2 * kMd5Bytes);
    for (unsigned char b : digest) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 0x0f]);
    }
    return out;
}

std::string DigestCheck::make_nonce() {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx%08llx", static_cast<unsigned long long>(nonce_salt_),
                  static_cast<unsigned long long>(++nonce_counter_));
    return buf;
}

std::string DigestCheck::challenge_header(std::string_view nonce) const {
    std::string h = "WWW-Authenticate: Digest realm=\"";
    h.append(realm_).append("\", nonce=\"").append(nonce).append("\", qop=\"auth\", algorithm=MD5\r\n");
    return h;
}

DigestCheck::Verdict DigestCheck::verify(std::string_view authorization, std::string_view method,
                                         std::string_view nonce) const {
    using sip::auth_param;
    if (authorization.size() < 7 || !sip::iequals(authorization.substr(0, 7), "Digest ")) return Verdict::bad;
    if (auth_param(authorization, "nonce") != nonce) return Verdict::wrong_nonce;
    if (auth_param(authorization, "username") != user_ || auth_param(authorization, "realm") != realm_)
        return Verdict::bad;
    const std::string_view alg = auth_param(authorization, "algorithm");
    if (!alg.empty() && !sip::iequals(alg, "MD5")) return Verdict::bad;
    const std::string_view qop = auth_param(authorization, "qop");
    const std::string_view uri = auth_param(authorization, "uri");
    const std::string_view response = auth_param(authorization, "response");
    std::string a2(method);
    a2.append(":").append(uri);
    const std::string ha2 = md5_hex(a2);
    std::string kd = ha1_;
    kd.append(":").append(nonce).append(":");
    if (!qop.empty()) {
        // We offered only auth (RFC 7616 §3.3); nc and cnonce are required with it.
        if (!sip::iequals(qop, "auth")) return Verdict::bad;
        const std::string_view nc = auth_param(authorization, "nc");
        const std::string_view cnonce = auth_param(authorization, "cnonce");
        if (nc.empty() || cnonce.empty()) return Verdict::bad;
        kd.append(nc).append(":").append(cnonce).append(":").append(qop).append(":");
    }
    kd.append(ha2);
    return sip::iequals(md5_hex(kd), response) ? Verdict::ok : Verdict::bad;
}

}  // namespace loadgen
