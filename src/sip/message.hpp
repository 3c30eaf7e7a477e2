// SIP messages: parse, inspect, build. message.cpp is the ONLY file that
// includes libosip2 (RAII ownership, parser_init() once, traces silenced and
// routed to our log at debug level). Nothing here blocks or throws.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.hpp"

namespace presenced::sip {

// Calls parser_init() and silences libosip2's stdout traces; idempotent,
// called by Message::parse and build_request, and by main() early.
void init_library();

struct Via {
    std::string protocol;   // "SIP/2.0"
    std::string transport;  // "UDP", "TCP", ... (upper case as sent)
    std::string host;       // without brackets
    std::optional<uint16_t> port;
    std::string branch;             // "" when absent
    bool rport_present = false;     // ";rport" with or without value
    std::optional<uint16_t> rport;  // its value when present
    std::string received;           // "" when absent; brackets around IPv6 dropped (RFC 5118 §4.5)
};

struct NameAddr {
    std::string display;  // unquoted
    std::string uri;      // "sip:alice@example.com" (no angle brackets)
    std::string tag;      // "" when absent
};

using Header = std::pair<std::string, std::string>;  // name, value (one header line each)

// Error codes of Message::parse (util::Error::code):
//   "malformed"        libosip2 could not parse it, or a mandatory header is
//                      missing or appears twice where only one is allowed
//   "bad_version"      the SIP-Version is not SIP/2.0 (answer 505)
//   "bad_scalar"       CSeq above 2^32-1, a negative or non-numeric
//                      Content-Length, conflicting Content-Lengths
//   "body_mismatch"    the body is shorter than Content-Length
//   "bad_status"       a status code outside 100..699 (drop it)
// The message field says what, for logs (peer data in it is escaped).
//
// Also "malformed" (rfc-checklist 16.6 limits; RFC 3261 §25.1 grammar):
// more than 256 header fields, a field over 8 KiB, more than 70 Via values,
// a bare CR or an unquoted NUL in a header field, a Request-Line that is not
// exactly "Method SP Request-URI SP SIP/2.0", a SIP/SIPS Request-URI with a
// bad host or port or a "?headers" part. Any repeated Content-Length is
// "bad_scalar", even with equal values. The body is framed here and never
// given to libosip2, so a malformed body (multipart or not) is not an error
// of this layer.
class Message {
public:
    Message();  // empty; only for containers
    ~Message();
    Message(Message&&) noexcept;
    Message& operator=(Message&&) noexcept;
    Message(const Message&) = delete;
    Message& operator=(const Message&) = delete;

    // Parses exactly one message. For UDP: bytes after Content-Length octets
    // are discarded (RFC 3261 §18.3); without Content-Length the body runs to
    // the end. "Mandatory" = Via, From, To, Call-ID, CSeq (all messages);
    // their absence, or two From/To/Call-ID/CSeq, is "malformed". The
    // CSeq method must equal the request method ("malformed" otherwise).
    static util::Result<Message> parse(std::string_view bytes);

    bool is_request() const;
    bool is_response() const { return !is_request(); }
    // Requests.
    std::string method() const;  // as sent, e.g. "NOTIFY"
    std::string request_uri() const;
    std::string request_uri_scheme() const;  // "sip", "sips", "tel", ...
    // Responses.
    int status_code() const;
    std::string reason_phrase() const;
    // Both.
    std::string sip_version() const;
    std::string call_id() const;
    NameAddr from() const;
    NameAddr to() const;
    uint32_t cseq_number() const;
    std::string cseq_method() const;
    size_t via_count() const;
    Via top_via() const;
    std::vector<std::string> via_lines() const;      // every Via value, in order, as it would be serialised
    std::optional<std::string> contact_uri() const;  // first Contact's URI; nullopt for "*"
    std::vector<std::string> record_routes() const;  // full values, in received order
    // First value of a header by name, case-insensitive, matching the compact
    // form too (e <-> "event" is "o", "allow-events" is "u", "subject" is
    // "s", "supported" is "k", "content-type" is "c", ...). A value is one
    // header line as received, trimmed and unfolded (each line break with its
    // white space becomes one SP), never split at commas.
    std::optional<std::string> header(std::string_view name) const;
    std::vector<std::string> header_values(std::string_view name) const;  // every occurrence
    std::optional<uint32_t> expires() const;                              // Expires header, if a valid number
    std::optional<uint32_t> min_expires() const;                          // Min-Expires
    std::optional<uint32_t> retry_after() const;                          // Retry-After seconds
    std::string content_type() const;  // "" when absent, lower case type/subtype only
    std::string_view body() const;
    std::vector<std::string> www_authenticate() const;    // every WWW-Authenticate value
    std::vector<std::string> proxy_authenticate() const;  // every Proxy-Authenticate value
    std::vector<std::string> require() const;             // option tags of every Require header
    uint32_t max_forwards_or(uint32_t fallback) const;    // fallback too when above 255 (RFC 4475 §3.1.2.4)

    // A response to this request (RFC 3261 §8.2.6.2): every Via copied in
    // order (the top one given received= and the rport value when asked,
    // RFC 3581 §4), From, Call-ID and CSeq copied, To copied with to_tag added
    // when it has none, then extra headers, then Content-Length (0 unless a
    // body is given).
    // Details: received= is set (replaced) whenever received_ip is given,
    // written without brackets; rport= is filled only when the top Via has
    // ;rport, as RFC 3581 §4 wants, so callers may always pass the source
    // port. From, To, Call-ID and CSeq are the received values (unfolded),
    // the Vias libosip2's serialisation of each value. Content-Type is
    // written only with a non-empty body. An extra header whose name is not a
    // token or whose value has a control character is left out (logged);
    // control characters in reason or to_tag become SP.
    std::string make_response(int code, std::string_view reason, std::string_view to_tag,
                              const std::vector<Header>& extra, std::string_view received_ip = {},
                              std::optional<uint16_t> rport = std::nullopt, std::string_view body = {},
                              std::string_view content_type = {}) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Everything an outgoing request needs (rfc-checklist §1).
struct RequestSpec {
    std::string method;  // "SUBSCRIBE", "OPTIONS"
    std::string request_uri;
    std::string from_uri;
    std::string from_display;
    std::string from_tag;
    std::string to_uri;
    std::string to_tag;  // "" out of dialog
    std::string call_id;
    uint32_t cseq = 1;
    std::string via_transport;  // "UDP" or "TCP"
    std::string via_host;       // sent-by host: IPv6 without brackets
    uint16_t via_port = 0;
    std::string branch;   // must start with z9hG4bK
    bool rport = true;    // empty ;rport on the Via (RFC 3581)
    std::string contact;  // full Contact value, e.g. "<sip:presenced@192.0.2.1:5060;transport=tcp>"
    std::string user_agent;
    uint32_t max_forwards = 70;
    std::vector<std::string> routes;  // Route values, in order
    std::vector<Header> headers;      // anything else (Event, Expires, Accept, Authorization ...), in order
    std::string body;
    std::string content_type;  // required when body is not empty
};

// Serialises a request: long header names, CRLF line ends, Content-Length
// always (0 without a body). Returns an error when a field would make an
// invalid message (empty method, CR/LF in a value, bad URI).
// Order: request line, Via (SIP/2.0/<T> host[:port];branch=..[;rport], IPv6
// in brackets), Max-Forwards, From (with tag), To (tag if any), Call-ID,
// CSeq, Contact (if any), Route*, User-Agent (if any), headers, Content-Type
// (with a body), Content-Length. The error code is "invalid_request": empty
// or non-token method, tags or transport; a URI without a scheme or with
// <, >, SP or a control character; a control character in any value; a
// branch that is not z9hG4bK plus a token; a body without Content-Type.
util::Result<std::string> build_request(const RequestSpec& spec);

}  // namespace presenced::sip
