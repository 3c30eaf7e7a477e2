// host[:port] and SIP URI syntax checks used by config validation.
#include "config/address.hpp"

#include "util/text.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>

namespace presenced::config {

namespace {

constexpr size_t kMaxHostnameLength = 253;
constexpr size_t kMaxLabelLength = 63;

std::optional<uint16_t> parse_port(std::string_view text, bool allow_zero) {
    unsigned value = 0;
    if (text.empty() || text.size() > 5) return std::nullopt;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value > 65535) return std::nullopt;
    if (value == 0 && !allow_zero) return std::nullopt;
    return static_cast<uint16_t>(value);
}

}  // namespace

std::string HostPort::str() const {
    std::string out = kind == HostKind::ipv6 ? "[" + host + "]" : host;
    return out + ":" + std::to_string(port);
}

bool is_ipv4(std::string_view text) {
    in_addr addr{};
    return inet_pton(AF_INET, std::string(text).c_str(), &addr) == 1;
}

bool is_ipv6(std::string_view text) {
    in6_addr addr{};
    return inet_pton(AF_INET6, std::string(text).c_str(), &addr) == 1;
}

bool is_hostname(std::string_view text) {
    if (text.empty() || text.size() > kMaxHostnameLength) return false;
    if (text.back() == '.') text.remove_suffix(1);  // fully qualified form
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('.', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view label = text.substr(start, end - start);
        if (label.empty() || label.size() > kMaxLabelLength) return false;
        if (label.front() == '-' || label.back() == '-') return false;
        for (unsigned char c : label)
            if (!std::isalnum(c) && c != '-') return false;
        start = end + 1;
    }
    return true;
}

std::optional<HostPort> parse_host_port(std::string_view text, bool allow_port_zero, std::string& why) {
    HostPort out;
    std::string_view host, port;
    if (text.empty()) {
        why = "is empty";
        return std::nullopt;
    }
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            why = "has a '[' without ']'";
            return std::nullopt;
        }
        host = text.substr(1, close - 1);
        std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                why = "has text after ']' that is not :port";
                return std::nullopt;
            }
            port = rest.substr(1);
            out.explicit_port = true;
        }
        if (!is_ipv6(host)) {
            why = "has an invalid IPv6 address in brackets";
            return std::nullopt;
        }
        out.kind = HostKind::ipv6;
    } else {
        const auto colon = text.find(':');
        if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
            why = "looks like an IPv6 address without brackets (write [addr]:port)";
            return std::nullopt;
        }
        host = text.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = text.substr(colon + 1);
            out.explicit_port = true;
        }
        if (is_ipv4(host))
            out.kind = HostKind::ipv4;
        else if (is_hostname(host))
            out.kind = HostKind::fqdn;
        else {
            why = "has an invalid host (not an IPv4 address or a DNS name)";
            return std::nullopt;
        }
    }
    out.host = std::string(host);
    if (out.explicit_port) {
        auto value = parse_port(port, allow_port_zero);
        if (!value) {
            why = allow_port_zero ? "has a port that is not 0-65535" : "has a port that is not 1-65535";
            return std::nullopt;
        }
        out.port = *value;
    } else {
        out.port = kDefaultSipPort;
    }
    return out;
}

bool is_sip_uri(std::string_view text, std::string& why) {
    std::string_view rest;
    auto starts_with_ci = [&](std::string_view prefix) { return util::iequals(text.substr(0, prefix.size()), prefix); };
    if (starts_with_ci("sip:"))
        rest = text.substr(4);
    else if (starts_with_ci("sips:"))
        rest = text.substr(5);
    else {
        why = "must start with sip: or sips:";
        return false;
    }
    for (unsigned char c : rest) {
        if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"') {
            why = "must not contain spaces, quotes, angle brackets or control characters";
            return false;
        }
    }
    if (rest.find('?') != std::string_view::npos) {
        why = "must not carry ?headers";
        return false;
    }
    const auto at = rest.find('@');
    if (at == 0) {
        why = "has an empty user part";
        return false;
    }
    std::string_view hostport = at == std::string_view::npos ? rest : rest.substr(at + 1);
    hostport = hostport.substr(0, hostport.find(';'));
    std::string inner;
    if (!parse_host_port(hostport, false, inner)) {
        why = "host " + inner;
        return false;
    }
    return true;
}

}  // namespace presenced::config
