// Hand parser for the few SIP fields the load generator needs; see sip_text.hpp.
#include "sip_text.hpp"

#include <cstring>

#include "util/text.hpp"

namespace loadgen::sip {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kHeaderEnd = "\r\n\r\n";
constexpr std::string_view kSipVersion = "SIP/2.0";
constexpr uint16_t kDefaultSipPort = 5060;
// A status line is "SIP/2.0 NNN reason": the code starts after "SIP/2.0 ".
constexpr size_t kStatusCodeOffset = 8;
constexpr size_t kStatusCodeDigits = 3;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

std::optional<uint32_t> parse_u32(std::string_view s) { return presenced::util::parse_u32(trim(s)); }

// Header names with their RFC 3261 §7.3.3 compact forms (and RFC 6665's "o").
enum class Name {
    other,
    via,
    from,
    to,
    call_id,
    cseq,
    expires,
    contact,
    event,
    authorization,
    content_length,
    supported,
    require
};

constexpr std::string_view kEventlist = "eventlist";

Name classify(std::string_view n) {
    if (n.size() == 1) {
        switch (lower(n[0])) {
            case 'v':
                return Name::via;
            case 'f':
                return Name::from;
            case 't':
                return Name::to;
            case 'i':
                return Name::call_id;
            case 'm':
                return Name::contact;
            case 'o':
                return Name::event;
            case 'l':
                return Name::content_length;
            case 'k':
                return Name::supported;
            default:
                return Name::other;
        }
    }
    if (iequals(n, "Via")) return Name::via;
    if (iequals(n, "From")) return Name::from;
    if (iequals(n, "To")) return Name::to;
    if (iequals(n, "Call-ID")) return Name::call_id;
    if (iequals(n, "CSeq")) return Name::cseq;
    if (iequals(n, "Expires")) return Name::expires;
    if (iequals(n, "Contact")) return Name::contact;
    if (iequals(n, "Event")) return Name::event;
    if (iequals(n, "Authorization")) return Name::authorization;
    if (iequals(n, "Content-Length")) return Name::content_length;
    if (iequals(n, "Supported")) return Name::supported;
    if (iequals(n, "Require")) return Name::require;
    return Name::other;
}

// Splits a Via header value at commas (several Via values in one header).
void add_vias(std::string_view value, Message& m) {
    size_t start = 0;
    while (start <= value.size() && m.via_count < kMaxVia) {
        const size_t comma = value.find(',', start);
        const std::string_view one =
            trim(value.substr(start, comma == std::string_view::npos ? value.npos : comma - start));
        if (!one.empty()) m.via[m.via_count++] = one;
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
}

// Whether a comma-separated list of option tags holds tag.
bool has_tag(std::string_view list, std::string_view tag) {
    size_t start = 0;
    while (start <= list.size()) {
        const size_t comma = list.find(',', start);
        if (iequals(trim(list.substr(start, comma == std::string_view::npos ? list.npos : comma - start)), tag))
            return true;
        if (comma == std::string_view::npos) return false;
        start = comma + 1;
    }
    return false;
}

// "sip:user@host:port;params" -> "user", "host".
void user_host(std::string_view uri, std::string_view& user, std::string_view& host) {
    const size_t colon = uri.find(':');
    std::string_view rest = colon == std::string_view::npos ? uri : uri.substr(colon + 1);
    rest = rest.substr(0, rest.find_first_of(";?>"));
    const size_t at = rest.find('@');
    user = at == std::string_view::npos ? std::string_view{} : rest.substr(0, at);
    host = at == std::string_view::npos ? rest : rest.substr(at + 1);
    host = host.substr(0, host.find(':'));
}

bool parse_start_line(std::string_view line, Message& m) {
    if (line.substr(0, kSipVersion.size()) == kSipVersion) {
        if (line.size() < kStatusCodeOffset + kStatusCodeDigits) return false;
        const auto code = parse_u32(line.substr(kStatusCodeOffset, kStatusCodeDigits));
        if (!code) return false;
        m.request = false;
        m.status = static_cast<int>(*code);
        return true;
    }
    const size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return false;
    const size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return false;
    m.request = true;
    m.method = line.substr(0, sp1);
    m.uri = line.substr(sp1 + 1, sp2 - sp1 - 1);
    return line.substr(sp2 + 1) == kSipVersion;
}

void set_header(Name name, std::string_view value, Message& m) {
    switch (name) {
        case Name::via:
            add_vias(value, m);
            break;
        case Name::from:
            m.from = value;
            m.from_tag = header_param(value, "tag");
            break;
        case Name::to:
            m.to = value;
            m.to_tag = header_param(value, "tag");
            break;
        case Name::call_id:
            m.call_id = value;
            break;
        case Name::cseq: {
            m.cseq_value = value;
            const size_t sp = value.find(' ');
            if (sp == std::string_view::npos) break;
            m.cseq = parse_u32(value.substr(0, sp)).value_or(0);
            m.cseq_method = trim(value.substr(sp + 1));
            break;
        }
        case Name::expires:
            m.expires = parse_u32(value);
            break;
        case Name::contact:
            if (m.contact.empty()) m.contact = value;
            break;
        case Name::event:
            m.event = value;
            break;
        case Name::authorization:
            m.authorization = value;
            break;
        case Name::supported:
        case Name::require:
            if (has_tag(value, kEventlist)) m.eventlist = true;
            break;
        case Name::content_length:
        case Name::other:
            break;
    }
}

}  // namespace

bool same_user_host(std::string_view a, std::string_view b) {
    std::string_view ua, ha, ub, hb;
    user_host(a, ua, ha);
    user_host(b, ub, hb);
    return ua == ub && iequals(ha, hb);
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

bool parse(std::string_view data, Message& m) {
    m = Message{};
    const size_t head_end = data.find(kHeaderEnd);
    if (head_end == std::string_view::npos) return false;
    m.body = data.substr(head_end + kHeaderEnd.size());
    const std::string_view head = data.substr(0, head_end + kCrlf.size());
    size_t pos = head.find(kCrlf);
    if (pos == std::string_view::npos || !parse_start_line(head.substr(0, pos), m)) return false;
    pos += kCrlf.size();
    while (pos < head.size()) {
        const size_t eol = head.find(kCrlf, pos);
        if (eol == std::string_view::npos) break;
        const std::string_view line = head.substr(pos, eol - pos);
        pos = eol + kCrlf.size();
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        set_header(classify(trim(line.substr(0, colon))), trim(line.substr(colon + 1)), m);
    }
    if (m.via_count == 0 || m.from.empty() || m.to.empty() || m.call_id.empty() || m.cseq_method.empty()) return false;
    m.branch = header_param(m.via[0], "branch");
    return true;
}

size_t frame_length(std::string_view buf) {
    const size_t head_end = buf.find(kHeaderEnd);
    if (head_end == std::string_view::npos) return 0;
    size_t pos = buf.find(kCrlf);
    std::optional<uint32_t> length;
    while (pos < head_end) {
        pos += kCrlf.size();
        const size_t eol = buf.find(kCrlf, pos);
        const std::string_view line = buf.substr(pos, eol - pos);
        const size_t colon = line.find(':');
        if (colon != std::string_view::npos && classify(trim(line.substr(0, colon))) == Name::content_length)
            length = parse_u32(line.substr(colon + 1));
        pos = eol;
    }
    if (!length) return std::string_view::npos;
    const size_t total = head_end + kHeaderEnd.size() + *length;
    return buf.size() >= total ? total : 0;
}

std::string_view header_param(std::string_view value, std::string_view name) {
    size_t start = 0;
    if (const size_t gt = value.find('>'); gt != std::string_view::npos) start = gt + 1;
    while (true) {
        const size_t semi = value.find(';', start);
        if (semi == std::string_view::npos) return {};
        size_t end = value.find_first_of(";,", semi + 1);
        if (end == std::string_view::npos) end = value.size();
        const std::string_view p = trim(value.substr(semi + 1, end - semi - 1));
        const size_t eq = p.find('=');
        if (iequals(trim(p.substr(0, eq)), name))
            return eq == std::string_view::npos ? p.substr(p.size()) : trim(p.substr(eq + 1));
        start = end;
        if (start >= value.size()) return {};
    }
}

std::string_view uri_of(std::string_view value) {
    const size_t lt = value.find('<');
    if (lt != std::string_view::npos) {
        const size_t gt = value.find('>', lt);
        return value.substr(lt + 1, gt == std::string_view::npos ? value.npos : gt - lt - 1);
    }
    return trim(value.substr(0, value.find(';')));
}

bool host_port(std::string_view uri, std::string& host, uint16_t& port) {
    const size_t colon = uri.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view rest = uri.substr(colon + 1);
    if (const size_t at = rest.find('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
    rest = rest.substr(0, rest.find_first_of(";?>"));
    port = kDefaultSipPort;
    if (const size_t pc = rest.rfind(':'); pc != std::string_view::npos) {
        const auto p = parse_u32(rest.substr(pc + 1));
        if (!p || *p == 0 || *p > UINT16_MAX) return false;
        port = static_cast<uint16_t>(*p);
        rest = rest.substr(0, pc);
    }
    host.assign(rest);
    return !host.empty();
}

std::string_view auth_param(std::string_view credentials, std::string_view name) {
    size_t pos = credentials.find(' ');  // after the scheme ("Digest")
    while (pos != std::string_view::npos && pos < credentials.size()) {
        while (pos < credentials.size() && (credentials[pos] == ' ' || credentials[pos] == ',')) ++pos;
        const size_t eq = credentials.find('=', pos);
        if (eq == std::string_view::npos) return {};
        const std::string_view key = trim(credentials.substr(pos, eq - pos));
        size_t vstart = eq + 1;
        while (vstart < credentials.size() && credentials[vstart] == ' ') ++vstart;
        std::string_view value;
        if (vstart < credentials.size() && credentials[vstart] == '"') {
            const size_t close = credentials.find('"', vstart + 1);
            if (close == std::string_view::npos) return {};
            value = credentials.substr(vstart + 1, close - vstart - 1);
            pos = close + 1;
        } else {
            const size_t comma = credentials.find(',', vstart);
            value =
                trim(credentials.substr(vstart, comma == std::string_view::npos ? credentials.npos : comma - vstart));
            pos = comma;
        }
        if (iequals(key, name)) return value;
    }
    return {};
}

}  // namespace loadgen::sip
