// SIP URI comparison keys; see uri_key.hpp.
#include "sip/uri_key.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "util/text.hpp"

namespace presenced::sip {

namespace {

// RFC 3261 §19.1.4: these parameters must match when either URI has them.
constexpr std::array<std::string_view, 5> kSignificantParams{"user", "ttl", "method", "maddr", "transport"};
}  // namespace

std::optional<std::string> uri_key(std::string_view uri) {
    uri = util::trim(uri);
    if (!uri.empty() && uri.front() == '<' && uri.back() == '>') uri = uri.substr(1, uri.size() - 2);
    const auto colon = uri.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const std::string scheme = util::to_lower(uri.substr(0, colon));
    if (scheme != "sip" && scheme != "sips") return std::nullopt;
    std::string_view rest = uri.substr(colon + 1);
    if (const auto q = rest.find('?'); q != std::string_view::npos) rest = rest.substr(0, q);
    // The last '@' ends the userinfo: a telephone-subscriber user part may
    // hold ';' (RFC 3261 §19.1.1), so parameters start after the host.
    std::string_view userinfo, hostpart = rest;
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        userinfo = rest.substr(0, at);
        hostpart = rest.substr(at + 1);
    }
    std::string_view params;
    if (const auto semi = hostpart.find(';'); semi != std::string_view::npos) {
        params = hostpart.substr(semi + 1);
        hostpart = hostpart.substr(0, semi);
    }
    if (hostpart.empty()) return std::nullopt;
    std::string key =
        scheme + ":" + util::percent_decode(userinfo) + "@" + util::to_lower(util::percent_decode(hostpart));
    std::vector<std::string> kept;
    size_t start = 0;
    while (start <= params.size() && !params.empty()) {
        const auto end = std::min(params.find(';', start), params.size());
        const std::string_view p = params.substr(start, end - start);
        const auto eq = p.find('=');
        const std::string name = util::to_lower(util::percent_decode(p.substr(0, eq)));
        if (std::find(kSignificantParams.begin(), kSignificantParams.end(), name) != kSignificantParams.end()) {
            const std::string value = eq == std::string_view::npos ? "" : util::percent_decode(p.substr(eq + 1));
            kept.push_back(name + "=" + (name == "ttl" ? value : util::to_lower(value)));
        }
        start = end + 1;
        if (end == params.size()) break;
    }
    std::sort(kept.begin(), kept.end());
    for (const auto& p : kept) key += ";" + p;
    return key;
}

bool uri_equivalent(std::string_view a, std::string_view b) {
    const auto ka = uri_key(a), kb = uri_key(b);
    return ka && kb && *ka == *kb;
}

}  // namespace presenced::sip
