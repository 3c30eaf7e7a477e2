// MIME multipart framing for RFC 4662 list notifications: the Content-Type
// value with its parameters (RFC 2045 §5.1, RFC 2387 §3), the body split on
// its boundary delimiters (RFC 2046 §5.1.1), per-part headers, and
// Content-ID matching of RLMI cid references (RFC 2392).
//
// Pure parsing: no state is kept between bodies. A parsed body views into
// the input it was given (BodyPart::body is a string_view), so it must not
// outlive that input. Content-IDs identify parts within ONE body only:
// servers (Asterisk, Kamailio) draw new ones for every NOTIFY, so nothing
// here offers to key state on them across bodies (rfc-checklist 14.10).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.hpp"

namespace presenced::presence {

// RFC 2046 §5.1.1: a boundary is 1 to 70 characters.
inline constexpr size_t kMaxBoundaryLength = 70;
// A list of 10,000 members (the benchmark size, issue 7) is one part per
// member plus the RLMI root; rfc-checklist 16.8's 1000 predates that.
inline constexpr size_t kMaxParts = 10'001;
// One part is one package document: the same ceiling as BodyLimits::max_bytes.
inline constexpr size_t kMaxPartBytes = size_t{256} * 1024;
// Defence in depth behind the SIP layer's body limit (config max_body_bytes,
// 1 MiB by default, raised for large lists).
inline constexpr size_t kMaxMultipartBytes = size_t{16} * 1024 * 1024;
// Headers per part and bytes of one part's header block: MIME part headers
// are a handful of lines, anything near these is hostile.
inline constexpr size_t kMaxPartHeaders = 32;
inline constexpr size_t kMaxPartHeaderBytes = size_t{8} * 1024;
// A part that is itself multipart (a nested list, RFC 4662 §5) may be
// parsed to this depth; the outermost body is depth 0 (rfc-checklist 16.8).
inline constexpr unsigned kMaxMultipartDepth = 3;

struct MultipartLimits {
    size_t max_parts = kMaxParts;
    size_t max_part_bytes = kMaxPartBytes;
    size_t max_total_bytes = kMaxMultipartBytes;
    size_t max_headers = kMaxPartHeaders;
    size_t max_header_bytes = kMaxPartHeaderBytes;
};

// Error codes (util::Error::code) of this file:
//   "bad_content_type"      the Content-Type value does not parse, or is not multipart/*
//   "no_boundary"           no boundary parameter
//   "bad_boundary"          empty, longer than 70, or a character RFC 2046 §5.1.1 does not allow
//   "too_large"             the body is larger than max_total_bytes
//   "no_delimiter"          no "--boundary" line anywhere in the body
//   "unterminated"          no close delimiter "--boundary--"
//   "too_many_parts"        more parts than max_parts
//   "part_too_large"        one part's body is larger than max_part_bytes
//   "bad_part_headers"      a part's header block is malformed or beyond the header limits
//   "too_deep"              a nested multipart beyond kMaxMultipartDepth
// "unsupported_encoding" is not an error of the whole body: it is set on the
// part (BodyPart::refused) so one odd part does not blank a whole list.

// A media type (RFC 2045 §5.1): type and subtype folded to lower case,
// parameter names folded to lower case, values unquoted (quoted-pair
// escapes resolved) and otherwise as written.
struct MediaType {
    std::string type;
    std::string subtype;
    std::vector<std::pair<std::string, std::string>> params;

    // The value of the first parameter with this (lower-case) name, else "".
    const std::string& param(std::string_view name) const;
    bool has_param(std::string_view name) const;
    // "type/subtype".
    std::string essence() const { return type + "/" + subtype; }
};

// "bad_content_type" when it does not parse.
util::Result<MediaType> parse_media_type(std::string_view value);

struct BodyPart {
    // Every header of the part in order: names as written, values unfolded
    // (CRLF + whitespace continuation joined with one space) and trimmed.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string content_type;       // Content-Type value as written ("" when absent)
    std::string content_id;         // Content-ID value as written, e.g. "<a1@host>" ("" when absent)
    std::string transfer_encoding;  // Content-Transfer-Encoding, lower case ("" when absent)
    // The part's body, a view into the input; empty when refused.
    std::string_view body;
    // "" when usable; "unsupported_encoding" when the Content-Transfer-Encoding
    // is not an identity one (7bit, 8bit, binary). SIP servers send binary;
    // base64 and quoted-printable are refused rather than decoded, which keeps
    // BodyPart a view and the parser allocation-light (rfc-checklist 14.14).
    std::string refused;

    // The value of the first header with this name (case-insensitive), else nullptr.
    const std::string* header(std::string_view name) const;
    // "type/subtype" in lower case; the RFC 2046 §5.1 default "text/plain"
    // when the part has no Content-Type; "" when its Content-Type does not parse.
    std::string media_type() const;
    // A multipart/* part: a nested list, to be parsed with parse_nested_multipart.
    bool is_multipart() const;
};

struct MultipartBody {
    MediaType content_type;  // the outer Content-Type, parsed
    std::string boundary;
    std::string type;   // RFC 2387 `type` parameter, lower case ("" when absent)
    std::string start;  // RFC 2387 `start` parameter as written, e.g. "<root@host>" ("" when absent)
    std::vector<BodyPart> parts;
    unsigned depth = 0;  // 0 for the outermost body
};

// Splits body on the boundary named in content_type (any multipart/*
// subtype; callers check content_type.subtype). Tolerated beyond the RFC:
// LF-only line ends, a first delimiter with no CRLF before it (RFC 2046 allows
// it only at the very start), transport padding (spaces, tabs) after a
// delimiter, text after the close delimiter (the epilogue, ignored like the
// preamble).
util::Result<MultipartBody> parse_multipart(std::string_view content_type, std::string_view body,
                                            const MultipartLimits& limits = {});

// A part that is itself multipart/* (is_multipart()), parsed as a body one
// level below parent: "too_deep" past kMaxMultipartDepth, "bad_content_type"
// when the part is not multipart. Views into the same input as parent.
util::Result<MultipartBody> parse_nested_multipart(const MultipartBody& parent, const BodyPart& part,
                                                   const MultipartLimits& limits = {});

// RFC 2392 matching. reference is an RLMI cid attribute ("a1@host", RFC 4662
// §5.5) or a cid URL ("cid:a1%40host", %-decoded); content_id is a part's
// Content-ID ("<a1@host>"). Both sides go through normalise_cid; the results
// compare exactly (byte for byte); an empty one matches nothing.
bool cid_matches(std::string_view reference, std::string_view content_id);
// A cid reference or Content-ID as a bare addr-spec: surrounding whitespace
// removed, a "cid:" prefix (any case) removed and the rest %-decoded, then
// one pair of enclosing <> removed.
std::string normalise_cid(std::string_view reference);

// The first part whose Content-ID matches cid, else nullptr. Linear: for
// many lookups in one body, index normalise_cid(part.content_id) instead
// (parse_list_notify does).
const BodyPart* find_by_cid(const std::vector<BodyPart>& parts, std::string_view cid);
// The root part (RFC 2387 §3.2): the part named by start, or the first
// part when start is empty; nullptr when start names no part or there are
// no parts.
const BodyPart* root(const std::vector<BodyPart>& parts, std::string_view start);

}  // namespace presenced::presence
