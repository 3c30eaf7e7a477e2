// SIP messages on libosip2: parse (with the checks libosip2 does not make),
// inspect, and serialise requests and responses. This is the only file that
// includes libosip2; every osip object is owned here and freed here.
//
// How a message is parsed, and why:
//  - The start line is parsed here, not by osip: osip's start-line parser
//    rejects legal schemes such as "soap.beep" (RFC 4475 §3.3.3), cannot tell
//    a 505 case from a 400 case, and reads status codes with atoi.
//  - The header fields are scanned here once (name and value offsets into our
//    copy of the bytes). That index answers header(), the compact forms both
//    ways, and the counts of single-instance fields; osip does not index
//    headers it does not know under their compact names (perf-limits §1).
//  - The body is framed here by Content-Length (RFC 3261 §18.3) and never
//    given to osip: osip would copy it twice, split multipart bodies itself
//    and fail the whole message on a body part the body layer should judge.
//    osip gets the start line and header fields only, with every
//    Content-Length value blanked to 0 so it does not look for a body.
//  - osip then parses the header fields: it validates their syntax (a field
//    it cannot parse makes the message "malformed") and supplies the parsed
//    Vias and the From/To tags.
#include "sip/message.hpp"

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "util/log.hpp"
#include "util/text.hpp"

namespace presenced::sip {
namespace {

// Limits (rfc-checklist 16.6). The transport bounds a message to 64 KiB of
// header (TCP) or one datagram (UDP); these bound the work osip does on it:
// osip appends list elements by walking the list, so thousands of fields
// would cost quadratic time.
constexpr size_t kMaxHeaderFields = 256;
constexpr size_t kMaxFieldBytes = size_t{8} * 1024;  // one header field, folded lines included
constexpr size_t kMaxVias = 70;
constexpr uint64_t kMaxU32 = 0xFFFFFFFFull;
constexpr size_t kSnippet = 80;                     // bytes of peer data quoted in an error message
constexpr size_t kKeepScratch = size_t{16} * 1024;  // per-thread copy for osip kept between parses

// RFC 3261 §7.3.3 compact forms (and the later RFCs that added letters).
struct Compact {
    char letter;
    std::string_view name;
};
constexpr std::array<Compact, 20> kCompact = {{{'a', "accept-contact"},
                                               {'b', "referred-by"},
                                               {'c', "content-type"},
                                               {'d', "request-disposition"},
                                               {'e', "content-encoding"},
                                               {'f', "from"},
                                               {'i', "call-id"},
                                               {'j', "reject-contact"},
                                               {'k', "supported"},
                                               {'l', "content-length"},
                                               {'m', "contact"},
                                               {'n', "identity-info"},
                                               {'o', "event"},
                                               {'r', "refer-to"},
                                               {'s', "subject"},
                                               {'t', "to"},
                                               {'u', "allow-events"},
                                               {'v', "via"},
                                               {'x', "session-expires"},
                                               {'y', "identity"}}};

using util::iequals;
constexpr auto lower_char = util::ascii_lower;
inline std::string lower(std::string_view s) { return util::to_lower(s); }

// The long name of a compact form ("o" -> "event"); any other name as given.
std::string_view long_name(std::string_view name) {
    if (name.size() == 1) {
        const char c = lower_char(name[0]);
        for (const auto& entry : kCompact)
            if (entry.letter == c) return entry.name;
    }
    return name;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// RFC 3261 §25.1 token characters.
bool is_token_char(char c) {
    if (is_alpha(c) || is_digit(c)) return true;
    return c != '\0' && std::strchr("-.!%*_+`'~", c) != nullptr;
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), is_token_char);
}

// A control character other than HT: never legal outside a quoted-pair.
bool is_bad_control(char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
}

bool has_bad_control(std::string_view s) { return std::any_of(s.begin(), s.end(), is_bad_control); }

std::string_view trim_lws(std::string_view s) {
    while (!s.empty() && (is_wsp(s.front()) || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
    while (!s.empty() && (is_wsp(s.back()) || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
    return s;
}

// RFC 3261 §7.3.1: a folded value is one value; each line break with the
// white space around it becomes a single SP.
std::string unfold(std::string_view value) {
    value = trim_lws(value);
    std::string out;
    out.reserve(value.size());
    for (size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        if (c == '\r' || c == '\n') {
            while (!out.empty() && is_wsp(out.back())) out.pop_back();
            while (i + 1 < value.size() && (value[i + 1] == '\r' || value[i + 1] == '\n' || is_wsp(value[i + 1]))) ++i;
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

// Plain decimal, leading zeros allowed, overflow an error (never a wrap;
// rfc-checklist 16.14).
bool parse_decimal(std::string_view s, uint64_t max, uint64_t& out) {
    out = 0;
    if (s.empty()) return false;
    for (const char c : s) {
        if (!is_digit(c)) return false;
        out = out * 10 + static_cast<uint64_t>(c - '0');
        if (out > max) return false;
    }
    return true;
}

std::optional<uint64_t> parse_decimal(std::string_view s, uint64_t max) {
    uint64_t v = 0;
    if (!parse_decimal(s, max, v)) return std::nullopt;
    return v;
}

std::optional<uint32_t> parse_u32(std::string_view s) {
    auto v = parse_decimal(trim_lws(s), kMaxU32);
    if (!v) return std::nullopt;
    return static_cast<uint32_t>(*v);
}

std::optional<uint16_t> parse_port(const char* s) {
    if (s == nullptr) return std::nullopt;
    auto v = parse_decimal(s, 65535);
    if (!v) return std::nullopt;
    return static_cast<uint16_t>(*v);
}

std::string snippet(std::string_view s) {
    if (s.size() > kSnippet) return util::escape_control(s.substr(0, kSnippet)) + "...";
    return util::escape_control(s);
}

// Every piece of peer data in the message has gone through snippet().
util::Error fail(const char* code, std::string message) { return util::make_error(code, std::move(message)); }

// Splits a header value at the commas that separate values, not at those
// inside a quoted string or <...> (RFC 3261 §7.3.1). Elements are trimmed;
// empty ones are left out.
std::vector<std::string> split_commas(std::string_view value) {
    std::vector<std::string> out;
    bool quoted = false;
    int angle = 0;
    size_t start = 0;
    auto emit = [&](size_t end) {
        std::string_view part = trim_lws(value.substr(start, end - start));
        if (!part.empty()) out.emplace_back(part);
    };
    for (size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        if (quoted) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                quoted = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == '<') {
            ++angle;
        } else if (c == '>') {
            if (angle > 0) --angle;
        } else if (c == ',' && angle == 0) {
            emit(i);
            start = i + 1;
        }
    }
    emit(value.size());
    return out;
}

// Display name and URI of a name-addr or addr-spec (RFC 3261 §20.10, §25.1).
// Without <>, everything after the first ';' is a header parameter, never
// part of the URI (RFC 4475 §3.3.12).
NameAddr parse_name_addr(std::string_view value) {
    NameAddr out;
    std::string_view s = trim_lws(value);
    if (!s.empty() && s.front() == '"') {
        size_t i = 1;
        for (; i < s.size() && s[i] != '"'; ++i) {
            if (s[i] == '\\' && i + 1 < s.size()) ++i;
            out.display += s[i];
        }
        s = trim_lws(s.substr(std::min(i + 1, s.size())));
        const size_t lt = s.find('<');
        if (lt == std::string_view::npos) return out;
        s = s.substr(lt);
    } else {
        const size_t lt = s.find('<');
        if (lt == std::string_view::npos) {
            out.uri = std::string(trim_lws(s.substr(0, s.find(';'))));
            return out;
        }
        out.display = std::string(trim_lws(s.substr(0, lt)));
        s = s.substr(lt);
    }
    const size_t gt = s.find('>');
    out.uri = std::string(trim_lws(s.substr(1, gt == std::string_view::npos ? std::string_view::npos : gt - 1)));
    return out;
}

// RFC 3261 §19.1.1 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
std::optional<std::string_view> uri_scheme(std::string_view uri) {
    const size_t colon = uri.find(':');
    if (colon == std::string_view::npos || colon == 0 || !is_alpha(uri[0])) return std::nullopt;
    for (size_t i = 1; i < colon; ++i)
        if (!is_alpha(uri[i]) && !is_digit(uri[i]) && uri[i] != '+' && uri[i] != '-' && uri[i] != '.')
            return std::nullopt;
    return uri.substr(0, colon);
}

bool valid_port(std::string_view s) { return parse_decimal(s, 65535).has_value(); }

// The hostport of a SIP or SIPS Request-URI (RFC 3261 §25.1, RFC 5118 §4.2):
// osip reads "sip:2001:db8::10" as host "2001" with a port it ignores, so the
// host and port are checked here. A "?headers" part is not allowed in a
// Request-URI (RFC 3261 §19.1.1, table 1; RFC 4475 §3.1.2.11).
bool valid_sip_request_uri(std::string_view after_scheme) {
    const size_t at = after_scheme.find('@');
    std::string_view rest = at == std::string_view::npos ? after_scheme : after_scheme.substr(at + 1);
    if (rest.find('?') != std::string_view::npos) return false;
    const std::string_view hostport = rest.substr(0, rest.find(';'));
    if (hostport.empty()) return false;
    std::string_view port;
    if (hostport.front() == '[') {
        const size_t close = hostport.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        for (size_t i = 1; i < close; ++i) {
            const char c = hostport[i];
            if (!is_digit(c) && !(lower_char(c) >= 'a' && lower_char(c) <= 'f') && c != ':' && c != '.') return false;
        }
        std::string_view after = hostport.substr(close + 1);
        if (after.empty()) return true;
        if (after.front() != ':') return false;
        port = after.substr(1);
    } else {
        const size_t colon = hostport.find(':');
        const std::string_view host = hostport.substr(0, colon);
        if (host.empty()) return false;
        for (const char c : host)
            if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.') return false;
        if (colon == std::string_view::npos) return true;
        port = hostport.substr(colon + 1);
    }
    return valid_port(port);
}

// libosip2 errors go to our log at debug level instead of stdout.
void osip_trace_to_log(const char* file, int line, osip_trace_level_t level, const char* format, va_list ap) {
    if (!log::enabled(log::Level::debug) || format == nullptr) return;
    char text[512];
    std::vsnprintf(text, sizeof text, format, ap);
    log::debug("libosip2 ", file != nullptr ? file : "?", ":", line, " (level ", static_cast<int>(level),
               "): ", util::trim(text));
}

std::string osip_string(int rc, char* s) {
    std::string out;
    if (rc == 0 && s != nullptr) out = s;
    if (s != nullptr) osip_free(s);
    return out;
}

const osip_generic_param_t* find_param(const osip_list_t* params, const char* name) {
    osip_generic_param_t* p = nullptr;
    // osip's lookup takes a non-const list and name but modifies neither.
    osip_generic_param_get_byname(const_cast<osip_list_t*>(params), const_cast<char*>(name), &p);
    return p;
}

}  // namespace

void init_library() {
    static std::once_flag once;
    std::call_once(once, [] {
        // perf-limits §1: without parser_init() the first parse crashes.
        parser_init();
        // Errors and warnings to our log (debug); INFO levels are noise.
        osip_trace_initialize_func(OSIP_INFO1, &osip_trace_to_log);
        for (int level = 0; level < END_TRACE_LEVEL; ++level) {
            if (level < OSIP_INFO1)
                osip_trace_enable_level(static_cast<osip_trace_level_t>(level));
            else
                osip_trace_disable_level(static_cast<osip_trace_level_t>(level));
        }
    });
}

// ---------------------------------------------------------------------------
// Message

namespace {
struct Span {
    uint32_t off = 0;
    uint32_t len = 0;
};
struct Field {
    Span name;
    Span value;  // may span folded lines; unfold() before use
};
}  // namespace

struct Message::Impl {
    std::string raw;  // the message as received: start line, header fields, body (extra datagram octets dropped)
    osip_message_t* osip = nullptr;
    std::vector<Field> fields;
    bool request = false;
    Span method, uri, version, reason;
    int status = 0;
    uint32_t cseq = 0;
    Span cseq_method;
    Span body;

    Impl() = default;
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    ~Impl() {
        if (osip != nullptr) osip_message_free(osip);
    }

    std::string_view view(Span s) const { return std::string_view(raw).substr(s.off, s.len); }
    std::string_view name_of(const Field& f) const { return view(f.name); }
    std::string_view value_of(const Field& f) const { return view(f.value); }

    bool matches(const Field& f, std::string_view wanted_long) const {
        return iequals(long_name(name_of(f)), wanted_long);
    }
    size_t count(std::string_view wanted_long) const {
        return static_cast<size_t>(
            std::count_if(fields.begin(), fields.end(), [&](const Field& f) { return matches(f, wanted_long); }));
    }
    const Field* first(std::string_view wanted_long) const {
        for (const auto& f : fields)
            if (matches(f, wanted_long)) return &f;
        return nullptr;
    }
    std::string first_value(std::string_view wanted_long) const {
        const Field* f = first(wanted_long);
        return f != nullptr ? unfold(value_of(*f)) : std::string();
    }
};

Message::Message() = default;
Message::~Message() = default;
Message::Message(Message&&) noexcept = default;
Message& Message::operator=(Message&&) noexcept = default;

util::Result<Message> Message::parse(std::string_view bytes) {
    init_library();
    // RFC 3261 §7.5: CRLFs before the start line are ignored.
    while (!bytes.empty() && (bytes.front() == '\r' || bytes.front() == '\n')) bytes.remove_prefix(1);
    if (bytes.empty()) return fail("malformed", "empty message");
    if (bytes.size() > 0xFFFFFFF0u) return fail("malformed", "message too large");

    auto impl = std::make_unique<Impl>();

    // --- Start line (RFC 3261 §7.1, §7.2) ---------------------------------
    const size_t eol = bytes.find('\n');
    if (eol == std::string_view::npos) return fail("malformed", "no end of the start line");
    const size_t start_len = (eol > 0 && bytes[eol - 1] == '\r') ? eol - 1 : eol;
    const std::string_view start = bytes.substr(0, start_len);
    if (start.size() > kMaxFieldBytes) return fail("malformed", "start line too long");
    if (has_bad_control(start)) return fail("malformed", "control character in the start line: " + snippet(start));
    auto span_of = [&](std::string_view part) {
        return Span{static_cast<uint32_t>(part.data() - bytes.data()), static_cast<uint32_t>(part.size())};
    };

    if (start.size() >= 4 && iequals(start.substr(0, 4), "SIP/")) {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        const size_t sp = start.find(' ');
        const std::string_view version = start.substr(0, sp);
        if (!iequals(version, "SIP/2.0")) return fail("bad_version", "SIP-Version " + snippet(version));
        if (sp == std::string_view::npos) return fail("bad_status", "no status code");
        std::string_view rest = start.substr(sp + 1);
        const size_t sp2 = rest.find(' ');
        const std::string_view code = rest.substr(0, sp2);
        // Status-Code = 3DIGIT (RFC 3261 §25.1); 4294967301 is not one (RFC 4475 §3.1.2.19).
        uint64_t value = 0;
        if (code.size() != 3 || !parse_decimal(code, 999, value) || value < 100 || value > 699)
            return fail("bad_status", "status code " + snippet(code));
        impl->request = false;
        impl->status = static_cast<int>(value);
        impl->version = span_of(version);
        impl->reason = span_of(sp2 == std::string_view::npos ? rest.substr(rest.size()) : rest.substr(sp2 + 1));
    } else {
        // Request-Line = Method SP Request-URI SP SIP-Version; exactly one SP
        // each (RFC 4475 §3.1.2.9, §3.1.2.10: extra SPs may be rejected).
        const size_t sp1 = start.find(' ');
        const size_t sp2 = sp1 == std::string_view::npos ? sp1 : start.find(' ', sp1 + 1);
        if (sp2 == std::string_view::npos) return fail("malformed", "request line: " + snippet(start));
        const std::string_view method = start.substr(0, sp1);
        const std::string_view uri = start.substr(sp1 + 1, sp2 - sp1 - 1);
        const std::string_view version = start.substr(sp2 + 1);
        if (version.size() > 4 && iequals(version.substr(0, 4), "SIP/") &&
            version.find(' ') == std::string_view::npos && !iequals(version, "SIP/2.0"))
            return fail("bad_version", "SIP-Version " + snippet(version));
        if (!iequals(version, "SIP/2.0")) return fail("malformed", "request line: " + snippet(start));
        if (!is_token(method)) return fail("malformed", "method " + snippet(method));
        const auto scheme = uri_scheme(uri);
        if (!scheme || uri.find_first_of("<>\" ") != std::string_view::npos)
            return fail("malformed", "Request-URI " + snippet(uri));
        if ((iequals(*scheme, "sip") || iequals(*scheme, "sips")) &&
            !valid_sip_request_uri(uri.substr(scheme->size() + 1)))
            return fail("malformed", "Request-URI " + snippet(uri));
        impl->request = true;
        impl->method = span_of(method);
        impl->uri = span_of(uri);
        impl->version = span_of(version);
    }

    // --- Header fields (RFC 3261 §7.3) -------------------------------------
    auto& fields = impl->fields;
    fields.reserve(24);
    size_t pos = eol + 1;
    size_t body_start = bytes.size();
    bool blank_line = false;
    while (pos < bytes.size()) {
        const char* nl = static_cast<const char*>(std::memchr(bytes.data() + pos, '\n', bytes.size() - pos));
        const size_t line_end = nl != nullptr ? static_cast<size_t>(nl - bytes.data()) : bytes.size();
        size_t content_end = line_end;
        if (content_end > pos && bytes[content_end - 1] == '\r') --content_end;
        const size_t next = nl != nullptr ? line_end + 1 : bytes.size();
        if (content_end == pos) {  // the empty line: the body follows
            body_start = next;
            blank_line = true;
            break;
        }
        const std::string_view line = bytes.substr(pos, content_end - pos);
        // CR and LF are never legal in a field except as a line break; a NUL
        // only as a quoted-pair (RFC 3261 §25.1, RFC 4475 §3.1.1.2).
        if (line.find('\r') != std::string_view::npos)
            return fail("malformed", "bare CR in a header field: " + snippet(line));
        for (size_t at = line.find('\0'); at != std::string_view::npos; at = line.find('\0', at + 1))
            if (at == 0 || line[at - 1] != '\\') return fail("malformed", "NUL in a header field");
        if (is_wsp(line.front())) {
            // A continuation line (folding) belongs to the field above it.
            if (fields.empty()) return fail("malformed", "continuation line before the first header field");
            Field& f = fields.back();
            f.value.len = static_cast<uint32_t>(content_end - f.value.off);
            if (content_end - f.name.off > kMaxFieldBytes) return fail("malformed", "header field too long");
        } else {
            size_t i = 0;
            while (i < line.size() && is_token_char(line[i])) ++i;
            const std::string_view name = line.substr(0, i);
            while (i < line.size() && is_wsp(line[i])) ++i;
            if (name.empty() || i >= line.size() || line[i] != ':')
                return fail("malformed", "not a header field: " + snippet(line));
            ++i;
            if (fields.size() >= kMaxHeaderFields) return fail("malformed", "too many header fields");
            if (line.size() > kMaxFieldBytes) return fail("malformed", "header field too long");
            fields.push_back(Field{span_of(name), span_of(line.substr(i))});
        }
        pos = next;
    }
    const size_t header_end = blank_line ? body_start : bytes.size();

    // --- Content-Length and the body (RFC 3261 §18.3, §20.14) --------------
    std::optional<uint64_t> content_length;
    for (const auto& f : fields) {
        if (!iequals(long_name(bytes.substr(f.name.off, f.name.len)), "content-length")) continue;
        const std::string value = unfold(bytes.substr(f.value.off, f.value.len));
        if (content_length) return fail("bad_scalar", "more than one Content-Length");
        content_length = parse_decimal(value, kMaxU32);
        if (!content_length) return fail("bad_scalar", "Content-Length " + snippet(value));
    }
    size_t body_len = bytes.size() - body_start;
    if (content_length) {
        if (*content_length > body_len)
            return fail("body_mismatch", util::cat("body of ", body_len, " octets, Content-Length ", *content_length));
        body_len = static_cast<size_t>(*content_length);  // UDP: the octets after it are discarded
    }

    // --- Single-instance fields (RFC 3261 §8.1.1, rfc-checklist 6.9) --------
    auto count = [&](std::string_view wanted) {
        return std::count_if(fields.begin(), fields.end(), [&](const Field& f) {
            return iequals(long_name(bytes.substr(f.name.off, f.name.len)), wanted);
        });
    };
    constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kSingle = {
        {{"from", "From"}, {"to", "To"}, {"call-id", "Call-ID"}, {"cseq", "CSeq"}}};
    for (const auto& [name, shown] : kSingle) {
        const auto n = count(name);
        if (n != 1) return fail("malformed", util::cat(n == 0 ? "no " : "more than one ", shown));
    }
    if (count("via") == 0) return fail("malformed", "no Via");

    // CSeq = 1*DIGIT LWS Method (RFC 3261 §20.16); the number is 32 bits.
    {
        const Field* cseq = nullptr;
        for (const auto& f : fields)
            if (iequals(long_name(bytes.substr(f.name.off, f.name.len)), "cseq")) cseq = &f;
        std::string_view v = trim_lws(bytes.substr(cseq->value.off, cseq->value.len));
        size_t digits = 0;
        while (digits < v.size() && is_digit(v[digits])) ++digits;
        size_t m = digits;
        while (m < v.size() && (is_wsp(v[m]) || v[m] == '\r' || v[m] == '\n')) ++m;
        const std::string_view number = v.substr(0, digits);
        const std::string_view method = v.substr(m);
        if (digits == 0 || m == digits || !is_token(method)) return fail("malformed", "CSeq " + snippet(v));
        const auto n = parse_decimal(number, kMaxU32);
        if (!n) return fail("bad_scalar", "CSeq number " + snippet(number) + " above 2^32-1");
        impl->cseq = static_cast<uint32_t>(*n);
        impl->cseq_method = span_of(method);
        if (impl->request && method != bytes.substr(impl->method.off, impl->method.len))
            return fail("malformed", "CSeq method " + snippet(method) + " differs from the request method");
    }

    // --- libosip2 on the start line and header fields -----------------------
    // A normalised start line (checked above), then the fields as received,
    // with each Content-Length value blanked to "0" (same length, so offsets
    // stay) and quoted NULs turned into SP, since osip works on C strings.
    thread_local std::string input;
    if (input.capacity() > kKeepScratch) std::string().swap(input);  // do not keep a rare large one
    input.clear();
    if (impl->request) {
        const std::string_view method = bytes.substr(impl->method.off, impl->method.len);
        const std::string_view uri = bytes.substr(impl->uri.off, impl->uri.len);
        const auto scheme = uri_scheme(uri);
        input.append(method).append(" ");
        // Other schemes are the UAS's business (416, RFC 3261 §8.2.2.1); osip
        // rejects some legal ones, so it gets a placeholder.
        if (iequals(*scheme, "sip") || iequals(*scheme, "sips"))
            input.append(uri);
        else
            input.append("sip:invalid");
        input.append(" SIP/2.0\r\n");
    } else {
        input.append("SIP/2.0 ").append(std::to_string(impl->status)).append(" R\r\n");
    }
    const size_t delta = input.size() - (eol + 1);  // scratch offset = message offset + delta
    input.append(bytes.substr(eol + 1, header_end - (eol + 1)));
    if (!blank_line) {
        if (!input.empty() && input.back() != '\n') input.append("\r\n");
        input.append("\r\n");
    }
    for (const auto& f : fields) {
        if (!iequals(long_name(bytes.substr(f.name.off, f.name.len)), "content-length")) continue;
        bool first = true;
        for (size_t i = f.value.off; i < f.value.off + f.value.len; ++i) {
            char& c = input[i + delta];
            if (is_wsp(c) || c == '\r' || c == '\n') continue;
            c = first ? '0' : ' ';
            first = false;
        }
    }
    for (size_t i = eol + 1 + delta; i < input.size(); ++i)
        if (input[i] == '\0') input[i] = ' ';

    osip_message_t* m = nullptr;
    if (osip_message_init(&m) != 0 || m == nullptr) return fail("malformed", "out of memory");
    impl->osip = m;
    if (osip_message_parse(m, input.data(), input.size()) != 0)
        return fail("malformed", "libosip2 could not parse the header fields");
    if (m->from == nullptr || m->from->url == nullptr || m->to == nullptr || m->to->url == nullptr ||
        m->call_id == nullptr || m->cseq == nullptr)
        return fail("malformed", "From, To, Call-ID or CSeq unusable");
    const int vias = osip_list_size(&m->vias);
    if (vias <= 0) return fail("malformed", "no Via");
    if (static_cast<size_t>(vias) > kMaxVias) return fail("malformed", util::cat(vias, " Via values"));
    const auto* top = static_cast<const osip_via_t*>(osip_list_get(&m->vias, 0));
    if (top == nullptr || top->host == nullptr || top->version == nullptr || top->protocol == nullptr)
        return fail("malformed", "top Via unusable");

    // Our copy: the start line, the header fields and exactly the body.
    impl->raw.assign(bytes.data(), body_start + body_len);
    impl->body = Span{static_cast<uint32_t>(body_start), static_cast<uint32_t>(body_len)};

    Message out;
    out.impl_ = std::move(impl);
    return out;
}

bool Message::is_request() const { return impl_ && impl_->request; }

std::string Message::method() const { return impl_ ? std::string(impl_->view(impl_->method)) : std::string(); }

std::string Message::request_uri() const { return impl_ ? std::string(impl_->view(impl_->uri)) : std::string(); }

std::string Message::request_uri_scheme() const {
    if (!impl_ || !impl_->request) return {};
    const auto scheme = uri_scheme(impl_->view(impl_->uri));
    return scheme ? lower(*scheme) : std::string();
}

int Message::status_code() const { return impl_ ? impl_->status : 0; }

std::string Message::reason_phrase() const { return impl_ ? std::string(impl_->view(impl_->reason)) : std::string(); }

std::string Message::sip_version() const { return impl_ ? std::string(impl_->view(impl_->version)) : std::string(); }

std::string Message::call_id() const { return impl_ ? impl_->first_value("call-id") : std::string(); }

NameAddr Message::from() const {
    if (!impl_) return {};
    NameAddr out = parse_name_addr(impl_->first_value("from"));
    if (const auto* tag = find_param(&impl_->osip->from->gen_params, "tag"); tag && tag->gvalue) out.tag = tag->gvalue;
    return out;
}

NameAddr Message::to() const {
    if (!impl_) return {};
    NameAddr out = parse_name_addr(impl_->first_value("to"));
    if (const auto* tag = find_param(&impl_->osip->to->gen_params, "tag"); tag && tag->gvalue) out.tag = tag->gvalue;
    return out;
}

uint32_t Message::cseq_number() const { return impl_ ? impl_->cseq : 0; }

std::string Message::cseq_method() const {
    return impl_ ? std::string(impl_->view(impl_->cseq_method)) : std::string();
}

size_t Message::via_count() const { return impl_ ? static_cast<size_t>(osip_list_size(&impl_->osip->vias)) : 0; }

Via Message::top_via() const {
    Via out;
    if (!impl_) return out;
    const auto* via = static_cast<const osip_via_t*>(osip_list_get(&impl_->osip->vias, 0));
    if (via == nullptr) return out;
    out.protocol = std::string("SIP/") + (via->version ? via->version : "");
    out.transport = via->protocol ? via->protocol : "";
    out.host = via->host ? via->host : "";
    if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']')
        out.host = out.host.substr(1, out.host.size() - 2);
    out.port = parse_port(via->port);
    if (const auto* p = find_param(&via->via_params, "branch"); p && p->gvalue) out.branch = p->gvalue;
    if (const auto* p = find_param(&via->via_params, "rport")) {
        out.rport_present = true;
        out.rport = parse_port(p->gvalue);
    }
    if (const auto* p = find_param(&via->via_params, "received"); p && p->gvalue) {
        // RFC 5118 §4.5: tolerate brackets around an IPv6 received value.
        std::string_view r = p->gvalue;
        if (r.size() >= 2 && r.front() == '[' && r.back() == ']') r = r.substr(1, r.size() - 2);
        out.received = std::string(r);
    }
    return out;
}

std::vector<std::string> Message::via_lines() const {
    std::vector<std::string> out;
    if (!impl_) return out;
    osip_list_iterator_t it;
    for (auto* via = static_cast<osip_via_t*>(osip_list_get_first(&impl_->osip->vias, &it)); via != nullptr;
         via = static_cast<osip_via_t*>(osip_list_get_next(&it))) {
        char* s = nullptr;
        const int rc = osip_via_to_str(via, &s);
        out.push_back(osip_string(rc, s));
    }
    return out;
}

std::optional<std::string> Message::contact_uri() const {
    if (!impl_) return std::nullopt;
    const Field* f = impl_->first("contact");
    if (f == nullptr) return std::nullopt;
    const auto values = split_commas(unfold(impl_->value_of(*f)));
    if (values.empty()) return std::nullopt;
    NameAddr contact = parse_name_addr(values.front());
    if (contact.uri.empty() || contact.uri == "*") return std::nullopt;
    return contact.uri;
}

std::vector<std::string> Message::record_routes() const {
    std::vector<std::string> out;
    for (const auto& line : header_values("record-route"))
        for (auto& value : split_commas(line)) out.push_back(std::move(value));
    return out;
}

std::optional<std::string> Message::header(std::string_view name) const {
    if (!impl_) return std::nullopt;
    const Field* f = impl_->first(long_name(name));
    if (f == nullptr) return std::nullopt;
    return unfold(impl_->value_of(*f));
}

std::vector<std::string> Message::header_values(std::string_view name) const {
    std::vector<std::string> out;
    if (!impl_) return out;
    const std::string_view wanted = long_name(name);
    for (const auto& f : impl_->fields)
        if (impl_->matches(f, wanted)) out.push_back(unfold(impl_->value_of(f)));
    return out;
}

std::optional<uint32_t> Message::expires() const {
    auto v = header("expires");
    return v ? parse_u32(*v) : std::nullopt;
}

std::optional<uint32_t> Message::min_expires() const {
    auto v = header("min-expires");
    return v ? parse_u32(*v) : std::nullopt;
}

std::optional<uint32_t> Message::retry_after() const {
    // Retry-After = delta-seconds [ comment ] *( SEMI retry-param ) (RFC 3261 §20.33)
    auto v = header("retry-after");
    if (!v) return std::nullopt;
    std::string_view s = *v;
    size_t digits = 0;
    while (digits < s.size() && is_digit(s[digits])) ++digits;
    if (digits < s.size() && !is_wsp(s[digits]) && s[digits] != '(' && s[digits] != ';') return std::nullopt;
    auto n = parse_decimal(s.substr(0, digits), kMaxU32);
    if (!n) return std::nullopt;
    return static_cast<uint32_t>(*n);
}

std::string Message::content_type() const {
    auto v = header("content-type");
    if (!v) return {};
    std::string out;
    for (const char c : std::string_view(*v).substr(0, v->find(';')))
        if (!is_wsp(c)) out += lower_char(c);
    return out;
}

std::string_view Message::body() const { return impl_ ? impl_->view(impl_->body) : std::string_view(); }

std::vector<std::string> Message::www_authenticate() const { return header_values("www-authenticate"); }

std::vector<std::string> Message::proxy_authenticate() const { return header_values("proxy-authenticate"); }

std::vector<std::string> Message::require() const {
    std::vector<std::string> out;
    for (const auto& line : header_values("require"))
        for (auto& tag : split_commas(line)) out.push_back(std::move(tag));
    return out;
}

uint32_t Message::max_forwards_or(uint32_t fallback) const {
    // RFC 4475 §3.1.2.4: 255 is the largest valid value; an invalid one is
    // treated as absent.
    auto v = header("max-forwards");
    if (!v) return fallback;
    auto n = parse_u32(*v);
    return (n && *n <= 255) ? *n : fallback;
}

namespace {

// Text that goes into a header line we write: CR, LF and other controls
// become SP, so nothing can start a new line.
void append_clean(std::string& out, std::string_view text) {
    for (const char c : text) out += is_bad_control(c) ? ' ' : c;
}

bool clean_header(const Header& h) { return is_token(h.first) && !has_bad_control(h.second); }

}  // namespace

std::string Message::make_response(int code, std::string_view reason, std::string_view to_tag,
                                   const std::vector<Header>& extra, std::string_view received_ip,
                                   std::optional<uint16_t> rport, std::string_view body,
                                   std::string_view content_type) const {
    std::string out;
    out.reserve(512 + body.size());
    out += "SIP/2.0 ";
    out += std::to_string(code);
    out += ' ';
    append_clean(out, reason);
    out += "\r\n";
    if (!impl_) return out + "Content-Length: 0\r\n\r\n";

    // RFC 3261 §8.2.6.2 and §18.2.1: every Via in order; the top one gets
    // received= (and rport= when the request asked for it, RFC 3581 §4).
    osip_list_iterator_t it;
    bool top = true;
    for (auto* via = static_cast<osip_via_t*>(osip_list_get_first(&impl_->osip->vias, &it)); via != nullptr;
         via = static_cast<osip_via_t*>(osip_list_get_next(&it)), top = false) {
        osip_via_t* copy = nullptr;
        const bool modify = top && (!received_ip.empty() || rport.has_value());
        if (modify && osip_via_clone(via, &copy) == 0 && copy != nullptr) {
            if (!received_ip.empty() && !has_bad_control(received_ip) &&
                received_ip.find_first_of(" ;,") == std::string_view::npos) {
                const std::string ip(received_ip);
                auto* p = const_cast<osip_generic_param_t*>(find_param(&copy->via_params, "received"));
                if (p != nullptr) {
                    if (p->gvalue != nullptr) osip_free(p->gvalue);
                    p->gvalue = osip_strdup(ip.c_str());
                } else {
                    osip_via_set_received(copy, osip_strdup(ip.c_str()));
                }
            }
            if (rport) {
                auto* p = const_cast<osip_generic_param_t*>(find_param(&copy->via_params, "rport"));
                if (p != nullptr) {
                    if (p->gvalue != nullptr) osip_free(p->gvalue);
                    p->gvalue = osip_strdup(std::to_string(*rport).c_str());
                }
            }
            char* s = nullptr;
            const int rc = osip_via_to_str(copy, &s);
            out += "Via: " + osip_string(rc, s) + "\r\n";
            osip_via_free(copy);
        } else {
            char* s = nullptr;
            const int rc = osip_via_to_str(via, &s);
            out += "Via: " + osip_string(rc, s) + "\r\n";
        }
    }
    // From, Call-ID and CSeq as received (unfolded); To with our tag if it
    // has none (RFC 3261 §8.2.6.2).
    out += "From: " + impl_->first_value("from") + "\r\n";
    out += "To: " + impl_->first_value("to");
    const auto* tag = find_param(&impl_->osip->to->gen_params, "tag");
    if ((tag == nullptr || tag->gvalue == nullptr) && !to_tag.empty()) {
        out += ";tag=";
        append_clean(out, to_tag);
    }
    out += "\r\n";
    out += "Call-ID: " + impl_->first_value("call-id") + "\r\n";
    out += "CSeq: " + impl_->first_value("cseq") + "\r\n";
    for (const auto& h : extra) {
        if (!clean_header(h)) {
            log::warn("sip: header ", h.first, " left out of a ", code, " response: not a valid header line");
            continue;
        }
        out += h.first + ": " + h.second + "\r\n";
    }
    if (!body.empty() && !content_type.empty()) {
        out += "Content-Type: ";
        append_clean(out, content_type);
        out += "\r\n";
    }
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    out.append(body);
    return out;
}

// ---------------------------------------------------------------------------
// Requests we send (rfc-checklist §1)

namespace {

util::Error invalid(const std::string& what) { return fail("invalid_request", what); }

// A value that goes on a header line: no CR, LF or other control characters.
bool line_safe(std::string_view s) { return !has_bad_control(s); }

bool uri_ok(std::string_view uri) {
    return uri_scheme(uri).has_value() && line_safe(uri) && uri.find_first_of("<> \t\"") == std::string_view::npos;
}

}  // namespace

util::Result<std::string> build_request(const RequestSpec& spec) {
    init_library();
    if (!is_token(spec.method)) return invalid("method " + snippet(spec.method));
    if (!uri_ok(spec.request_uri)) return invalid("Request-URI " + snippet(spec.request_uri));
    if (!uri_ok(spec.from_uri)) return invalid("From URI " + snippet(spec.from_uri));
    if (!uri_ok(spec.to_uri)) return invalid("To URI " + snippet(spec.to_uri));
    if (!line_safe(spec.from_display)) return invalid("From display name has a control character");
    if (!is_token(spec.from_tag)) return invalid("From tag " + snippet(spec.from_tag));
    if (!spec.to_tag.empty() && !is_token(spec.to_tag)) return invalid("To tag " + snippet(spec.to_tag));
    if (spec.call_id.empty() || !line_safe(spec.call_id) || spec.call_id.find_first_of(" \t") != std::string::npos)
        return invalid("Call-ID " + snippet(spec.call_id));
    if (!is_token(spec.via_transport)) return invalid("Via transport " + snippet(spec.via_transport));
    if (spec.via_host.empty() || !line_safe(spec.via_host) ||
        spec.via_host.find_first_of(" \t;,<>\"") != std::string::npos)
        return invalid("Via host " + snippet(spec.via_host));
    // RFC 3261 §8.1.1.7: the magic cookie and something unique after it.
    if (spec.branch.size() <= 7 || spec.branch.compare(0, 7, "z9hG4bK") != 0 || !is_token(spec.branch))
        return invalid("branch " + snippet(spec.branch));
    if (!line_safe(spec.contact)) return invalid("Contact has a control character");
    if (!line_safe(spec.user_agent)) return invalid("User-Agent has a control character");
    for (const auto& r : spec.routes)
        if (r.empty() || !line_safe(r)) return invalid("Route " + snippet(r));
    for (const auto& h : spec.headers)
        if (!is_token(h.first) || !line_safe(h.second)) return invalid("header " + snippet(h.first));
    if (!spec.body.empty() && (spec.content_type.empty() || !line_safe(spec.content_type)))
        return invalid("a body needs a Content-Type");

    std::string out;
    out.reserve(512 + spec.body.size());
    out += spec.method + ' ' + spec.request_uri + " SIP/2.0\r\n";
    out += "Via: SIP/2.0/" + spec.via_transport + ' ';
    const bool ipv6 = spec.via_host.find(':') != std::string::npos && spec.via_host.front() != '[';
    out += ipv6 ? '[' + spec.via_host + ']' : spec.via_host;
    if (spec.via_port != 0) out += ':' + std::to_string(spec.via_port);
    out += ";branch=" + spec.branch;
    if (spec.rport) out += ";rport";
    out += "\r\nMax-Forwards: " + std::to_string(spec.max_forwards) + "\r\n";
    out += "From: ";
    if (!spec.from_display.empty()) {
        out += '"';
        for (const char c : spec.from_display) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += "\" ";
    }
    out += '<' + spec.from_uri + ">;tag=" + spec.from_tag + "\r\n";
    out += "To: <" + spec.to_uri + '>';
    if (!spec.to_tag.empty()) out += ";tag=" + spec.to_tag;
    out += "\r\nCall-ID: " + spec.call_id + "\r\n";
    out += "CSeq: " + std::to_string(spec.cseq) + ' ' + spec.method + "\r\n";
    if (!spec.contact.empty()) out += "Contact: " + spec.contact + "\r\n";
    for (const auto& r : spec.routes) out += "Route: " + r + "\r\n";
    if (!spec.user_agent.empty()) out += "User-Agent: " + spec.user_agent + "\r\n";
    for (const auto& h : spec.headers) out += h.first + ": " + h.second + "\r\n";
    if (!spec.body.empty()) out += "Content-Type: " + spec.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(spec.body.size()) + "\r\n\r\n";
    out += spec.body;
    return out;
}

}  // namespace presenced::sip
