// MIME multipart framing and Content-ID matching; see multipart.hpp.
//
// Decisions beyond the RFC text:
// - Line ends: CRLF per RFC 2046, LF alone tolerated everywhere (hand-made
//   test servers and some proxies rewrite bodies). A delimiter is "--"
//   boundary at the start of a line; the line break before it belongs to
//   the delimiter (RFC 2046 §5.1.1), so it is not part of the previous body.
// - A "--boundary" line followed by anything but transport padding and a
//   line end is not a delimiter (the boundary is then only a prefix).
// - Duplicate Content-Type parameters: the first one wins.
// - Unquoted parameter values run to the next ';' or whitespace; a quoted
//   value resolves quoted-pairs ("\x" -> "x", RFC 2045 §5.1 / RFC 822).
// - A part whose header block has a line without a colon is
//   "bad_part_headers": a body with no blank line before it cannot be told
//   from a broken header, and guessing would hand garbage to the XML parser.
#include "presence/multipart.hpp"

#include <string>
#include <string_view>

#include "util/text.hpp"

namespace presenced::presence {
namespace {

bool is_lws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// RFC 2045 §5.1 token characters: printable US-ASCII except tspecials.
bool is_token_char(char c) {
    if (c <= ' ' || c >= 0x7f) return false;
    constexpr std::string_view kTspecials = "()<>@,;:\\\"/[]?=";
    return kTspecials.find(c) == std::string_view::npos;
}

// RFC 2046 §5.1.1 bcharsnospace.
bool is_bchar_nospace(char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    constexpr std::string_view kSpecials = "'()+_,-./:=?";
    return kSpecials.find(c) != std::string_view::npos;
}

bool valid_boundary(std::string_view b) {
    if (b.empty() || b.size() > kMaxBoundaryLength || b.back() == ' ') return false;
    for (const char c : b)
        if (c != ' ' && !is_bchar_nospace(c)) return false;
    return true;
}

class Cursor {
public:
    explicit Cursor(std::string_view text) : text_(text) {}
    bool done() const { return pos_ >= text_.size(); }
    char peek() const { return text_[pos_]; }
    void skip_lws() {
        while (!done() && is_lws(peek())) ++pos_;
    }
    bool eat(char c) {
        if (done() || peek() != c) return false;
        ++pos_;
        return true;
    }
    std::string_view token() {
        const size_t start = pos_;
        while (!done() && is_token_char(peek())) ++pos_;
        return text_.substr(start, pos_ - start);
    }
    // A quoted-string after its opening quote; false when unterminated.
    bool quoted(std::string& out) {
        while (!done()) {
            const char c = text_[pos_++];
            if (c == '"') return true;
            if (c == '\\') {
                if (done()) return false;
                out += text_[pos_++];
            } else {
                out += c;
            }
        }
        return false;
    }
    std::string_view bare_value() {
        const size_t start = pos_;
        while (!done() && peek() != ';' && !is_lws(peek()) && peek() != '"') ++pos_;
        return text_.substr(start, pos_ - start);
    }

private:
    std::string_view text_;
    size_t pos_ = 0;
};

util::Error bad_type(std::string message) { return util::make_error("bad_content_type", std::move(message)); }

// A delimiter line found in the body.
struct Delimiter {
    size_t line_begin = 0;  // where the previous part's content ends (the line break before "--")
    size_t after = 0;       // first byte after the delimiter line
    bool close = false;     // "--boundary--"
};

// The next delimiter at or after from, RFC 2046 §5.1.1; false when none.
bool find_delimiter(std::string_view body, std::string_view dash_boundary, size_t from, Delimiter& out) {
    while (from <= body.size()) {
        const size_t pos = body.find(dash_boundary, from);
        if (pos == std::string_view::npos) return false;
        from = pos + 1;
        if (pos != 0 && body[pos - 1] != '\n') continue;  // not at the start of a line
        size_t at = pos + dash_boundary.size();
        if (body.substr(at, 2) == "--") {
            out.close = true;
            out.after = body.size();  // the rest is the epilogue
        } else {
            while (at < body.size() && (body[at] == ' ' || body[at] == '\t')) ++at;  // transport padding
            if (body.substr(at, 2) == "\r\n")
                at += 2;
            else if (body.substr(at, 1) == "\n")
                at += 1;
            else if (at != body.size())
                continue;  // "--boundary" is only the prefix of this line
            out.close = false;
            out.after = at;
        }
        if (pos >= 2 && body.substr(pos - 2, 2) == "\r\n")
            out.line_begin = pos - 2;
        else if (pos >= 1)
            out.line_begin = pos - 1;
        else
            out.line_begin = 0;
        return true;
    }
    return false;
}

// The header block (RFC 2045 §3 / RFC 822 fields with folding) into part.
util::Status parse_part_headers(std::string_view block, const MultipartLimits& limits, BodyPart& part) {
    if (block.size() > limits.max_header_bytes)
        return util::make_error("bad_part_headers", "a part's header block is larger than the limit");
    size_t pos = 0;
    while (pos < block.size()) {
        size_t end = block.find('\n', pos);
        if (end == std::string_view::npos) end = block.size();
        std::string_view line = block.substr(pos, end - pos);
        pos = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
            if (part.headers.empty())
                return util::make_error("bad_part_headers", "a part's header block starts with a continuation line");
            std::string& value = part.headers.back().second;
            const std::string_view more = util::trim(line);
            if (!more.empty()) value += (value.empty() ? "" : " ") + std::string(more);
            continue;
        }
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos)
            return util::make_error("bad_part_headers", "a part header line has no colon");
        const std::string_view name = util::trim(line.substr(0, colon));
        if (name.empty()) return util::make_error("bad_part_headers", "a part header has an empty name");
        for (const char c : name)
            if (!is_token_char(c)) return util::make_error("bad_part_headers", "a part header name is not a token");
        if (part.headers.size() >= limits.max_headers)
            return util::make_error("bad_part_headers", "a part has more headers than the limit");
        part.headers.emplace_back(std::string(name), std::string(util::trim(line.substr(colon + 1))));
    }
    if (const auto* v = part.header("Content-Type")) part.content_type = *v;
    if (const auto* v = part.header("Content-ID")) part.content_id = *v;
    if (const auto* v = part.header("Content-Transfer-Encoding")) part.transfer_encoding = util::to_lower(*v);
    return util::Ok{};
}

// One part's text between two delimiters: headers, a blank line, the body.
util::Result<BodyPart> parse_part(std::string_view text, const MultipartLimits& limits) {
    BodyPart part;
    std::string_view block;
    std::string_view body;
    if (text.starts_with("\r\n")) {
        body = text.substr(2);  // no headers (RFC 2046 §5.1.1: they are optional)
    } else if (text.starts_with("\n")) {
        body = text.substr(1);
    } else {
        // The first empty line ends the headers; none means a headers-only part.
        size_t blank = std::string_view::npos;
        size_t skip = 0;
        for (size_t at = text.find('\n'); at != std::string_view::npos; at = text.find('\n', at + 1)) {
            if (text.substr(at + 1, 2) == "\r\n") {
                blank = at + 1;
                skip = 2;
                break;
            }
            if (text.substr(at + 1, 1) == "\n") {
                blank = at + 1;
                skip = 1;
                break;
            }
        }
        block = blank == std::string_view::npos ? text : text.substr(0, blank);
        body = blank == std::string_view::npos ? std::string_view{} : text.substr(blank + skip);
    }
    if (body.size() > limits.max_part_bytes)
        return util::make_error("part_too_large", "a part's body is larger than the limit");
    if (auto status = parse_part_headers(block, limits, part); !status) return status.error();
    const std::string& cte = part.transfer_encoding;
    if (cte.empty() || cte == "7bit" || cte == "8bit" || cte == "binary") {
        part.body = body;
    } else {
        part.refused = "unsupported_encoding";  // RFC 2045 §6: base64, quoted-printable, x-tokens
    }
    return part;
}

// Content-ID as an addr-spec: whitespace and one pair of <> removed.
std::string_view bare_content_id(std::string_view id) {
    id = util::trim(id);
    if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = util::trim(id.substr(1, id.size() - 2));
    return id;
}

}  // namespace

const std::string& MediaType::param(std::string_view name) const {
    static const std::string empty;
    for (const auto& [key, value] : params)
        if (key == name) return value;
    return empty;
}

bool MediaType::has_param(std::string_view name) const {
    for (const auto& p : params)
        if (p.first == name) return true;
    return false;
}

util::Result<MediaType> parse_media_type(std::string_view value) {
    Cursor in(value);
    MediaType out;
    in.skip_lws();
    out.type = util::to_lower(in.token());
    in.skip_lws();
    if (out.type.empty() || !in.eat('/')) return bad_type("the Content-Type is not type/subtype");
    in.skip_lws();
    out.subtype = util::to_lower(in.token());
    if (out.subtype.empty()) return bad_type("the Content-Type has no subtype");
    for (;;) {
        in.skip_lws();
        if (in.done()) break;
        if (!in.eat(';')) return bad_type("junk after a Content-Type parameter");
        in.skip_lws();
        if (in.done()) break;  // a trailing ';' is harmless
        const std::string name = util::to_lower(in.token());
        in.skip_lws();
        if (name.empty() || !in.eat('=')) return bad_type("a Content-Type parameter is not name=value");
        in.skip_lws();
        std::string param_value;
        if (in.eat('"')) {
            if (!in.quoted(param_value)) return bad_type("an unterminated quoted Content-Type parameter");
        } else {
            param_value = std::string(in.bare_value());
            if (param_value.empty()) return bad_type("an empty Content-Type parameter value");
        }
        if (!out.has_param(name)) out.params.emplace_back(name, std::move(param_value));
    }
    return out;
}

const std::string* BodyPart::header(std::string_view name) const {
    for (const auto& [key, value] : headers)
        if (util::iequals(key, name)) return &value;
    return nullptr;
}

std::string BodyPart::media_type() const {
    if (util::trim(content_type).empty()) return "text/plain";
    auto parsed = parse_media_type(content_type);
    return parsed ? parsed->essence() : std::string();
}

bool BodyPart::is_multipart() const {
    auto parsed = parse_media_type(content_type);
    return parsed && parsed->type == "multipart";
}

util::Result<MultipartBody> parse_multipart(std::string_view content_type, std::string_view body,
                                            const MultipartLimits& limits) {
    if (body.size() > limits.max_total_bytes)
        return util::make_error("too_large", "the multipart body is larger than the limit");
    auto media = parse_media_type(content_type);
    if (!media) return media.error();
    if (media->type != "multipart") return bad_type("the Content-Type is " + media->essence() + ", not multipart");
    MultipartBody out;
    out.content_type = std::move(*media);
    if (!out.content_type.has_param("boundary")) return util::make_error("no_boundary", "no boundary parameter");
    out.boundary = out.content_type.param("boundary");
    if (!valid_boundary(out.boundary))
        return util::make_error("bad_boundary", "the boundary is not 1-70 characters of RFC 2046 §5.1.1");
    out.type = util::to_lower(util::trim(out.content_type.param("type")));
    out.start = std::string(util::trim(out.content_type.param("start")));

    const std::string dash_boundary = "--" + out.boundary;
    Delimiter current;
    if (!find_delimiter(body, dash_boundary, 0, current))
        return util::make_error("no_delimiter", "the boundary delimiter does not occur in the body");
    while (!current.close) {
        Delimiter next;
        if (!find_delimiter(body, dash_boundary, current.after, next))
            return util::make_error("unterminated", "no close delimiter (--boundary--) after the last part");
        if (out.parts.size() >= limits.max_parts)
            return util::make_error("too_many_parts", "more parts than the limit");
        const std::string_view text = next.line_begin > current.after
                                          ? body.substr(current.after, next.line_begin - current.after)
                                          : std::string_view{};
        auto part = parse_part(text, limits);
        if (!part) return part.error();
        out.parts.push_back(std::move(*part));
        current = next;
    }
    return out;
}

util::Result<MultipartBody> parse_nested_multipart(const MultipartBody& parent, const BodyPart& part,
                                                   const MultipartLimits& limits) {
    const unsigned depth = parent.depth + 1;
    if (depth > kMaxMultipartDepth) return util::make_error("too_deep", "multipart nested deeper than the limit");
    if (!part.refused.empty()) return util::make_error(part.refused, "the nested part's encoding is not supported");
    if (!part.is_multipart()) return bad_type("the part is not multipart");
    auto nested = parse_multipart(part.content_type, part.body, limits);
    if (nested) nested->depth = depth;
    return nested;
}

std::string normalise_cid(std::string_view reference) {
    reference = util::trim(reference);
    if (reference.size() >= 4 && util::iequals(reference.substr(0, 4), "cid:")) {
        // RFC 2392 §2: a cid URL is the addr-spec %-encoded, without <>.
        return std::string(bare_content_id(util::percent_decode(reference.substr(4))));
    }
    return std::string(bare_content_id(reference));
}

bool cid_matches(std::string_view reference, std::string_view content_id) {
    const std::string id = normalise_cid(content_id);
    return !id.empty() && normalise_cid(reference) == id;
}

const BodyPart* find_by_cid(const std::vector<BodyPart>& parts, std::string_view cid) {
    const std::string wanted = normalise_cid(cid);
    if (wanted.empty()) return nullptr;
    for (const auto& part : parts)
        if (normalise_cid(part.content_id) == wanted) return &part;
    return nullptr;
}

const BodyPart* root(const std::vector<BodyPart>& parts, std::string_view start) {
    if (parts.empty()) return nullptr;
    if (util::trim(start).empty()) return &parts.front();  // RFC 2387 §3.2
    return find_by_cid(parts, start);
}

}  // namespace presenced::presence
