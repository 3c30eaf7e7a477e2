// Small string helpers: concatenation, escaping for logs, trimming.
#pragma once

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace presenced::util {

// cat("a", 1, 'b') == "a1b": GCC 12 has no <format>, and this keeps call
// sites readable without printf-style format strings.
template <class... Args>
std::string cat(const Args&... args) {
    std::ostringstream out;
    (out << ... << args);
    return out.str();
}

// Escape CR, LF, other control characters and backslash, so text that came
// from the network or a file cannot forge log lines (rfc-checklist 16.13).
std::string escape_control(std::string_view text);

// True when text has a control character (below 0x20, or DEL).
bool has_control(std::string_view text);

std::string_view trim(std::string_view text);

// ASCII case folding: SIP and HTTP tokens are case-insensitive in ASCII
// only, whatever the locale.
inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
std::string to_lower(std::string_view text);
bool iequals(std::string_view a, std::string_view b);

std::string join(const std::vector<std::string>& parts, std::string_view separator);

// %HH escapes decoded (URIs, RFC 3986 §2.1; cid URLs, RFC 2392 §2); a
// malformed escape is kept as written.
std::string percent_decode(std::string_view text);

// 1*DIGIT as a 32-bit value (leading zeros allowed); nullopt when empty, not
// all digits, or above UINT32_MAX (never a wrap).
std::optional<uint32_t> parse_u32(std::string_view s);

// "42s", "5m12s", "3h04m", "3d04h": compact relative durations for tables.
std::string format_duration(long long seconds);

}  // namespace presenced::util
