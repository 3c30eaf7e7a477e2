// Small string helpers shared by the daemon and presencectl.
#include "util/text.hpp"

#include <cstdio>

namespace presenced::util {

std::string escape_control(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        switch (c) {
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\\':
                out += "\\\\";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\x%02x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out;
}

bool has_control(std::string_view text) {
    for (unsigned char c : text)
        if (c < 0x20 || c == 0x7f) return true;
    return false;
}

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(" \t\r\n");
    return text.substr(first, last - first + 1);
}

std::string to_lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = ascii_lower(c);
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i) out += separator;
        out += parts[i];
    }
    return out;
}

std::string format_duration(long long seconds) {
    if (seconds < 0) seconds = 0;
    char buf[32];
    const long long d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60, s = seconds % 60;
    if (d > 0)
        std::snprintf(buf, sizeof buf, "%lldd%02lldh", d, h);
    else if (h > 0)
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", h, m);
    else if (m > 0)
        std::snprintf(buf, sizeof buf, "%lldm%02llds", m, s);
    else
        std::snprintf(buf, sizeof buf, "%llds", s);
    return buf;
}

std::optional<uint32_t> parse_u32(std::string_view s) {
    constexpr size_t kMaxDigits = 10;  // UINT32_MAX has 10
    if (s.empty() || s.size() > kMaxDigits) return std::nullopt;
    uint64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (v > UINT32_MAX) return std::nullopt;
    return static_cast<uint32_t>(v);
}

namespace {
int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    const char l = ascii_lower(c);
    if (l >= 'a' && l <= 'f') return l - 'a' + 10;
    return -1;
}
}  // namespace

std::string percent_decode(std::string_view text) {
    constexpr int kHexBase = 16;
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            const int hi = hex_digit(text[i + 1]), lo = hex_digit(text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * kHexBase + lo);
                i += 2;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

}  // namespace presenced::util
