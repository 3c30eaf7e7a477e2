// Syntax checks for the addresses and URIs the config names: host[:port]
// (IPv4, [IPv6] or FQDN) and sip:/sips: URIs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace presenced::config {

enum class HostKind { ipv4, ipv6, fqdn };

struct HostPort {
    std::string host;  // without brackets for IPv6
    uint16_t port = 5060;
    HostKind kind = HostKind::fqdn;
    bool explicit_port = false;
    std::string str() const;  // host:port with [] around IPv6
};

inline constexpr uint16_t kDefaultSipPort = 5060;

// Parses "host", "host:port", "[v6]" or "[v6]:port". On failure returns
// nullopt and sets why to a sentence fragment ("port must be 1-65535").
std::optional<HostPort> parse_host_port(std::string_view text, bool allow_port_zero, std::string& why);

bool is_ipv4(std::string_view text);
bool is_ipv6(std::string_view text);
bool is_hostname(std::string_view text);

// A sip: or sips: URI with a valid host part and no ?headers (rfc-checklist
// 1.2): enough to refuse typos at load time, not a full RFC 3261 parser.
bool is_sip_uri(std::string_view text, std::string& why);

}  // namespace presenced::config
