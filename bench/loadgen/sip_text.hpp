// Minimal SIP text handling for the load generator: a hand parser that
// finds only the fields a notifier needs (RFC 3261 §7, §20) as views into
// the received bytes, TCP stream framing (RFC 3261 §18.3) and small helpers
// for header parameters and URIs. It is not a validating parser: the
// generator talks to one known peer on loopback and must stay cheap
// (a few hundred nanoseconds per message) so it is never the bottleneck.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loadgen::sip {

// Via headers copied into a response (RFC 3261 §8.2.6.2); the daemon sends one.
constexpr size_t kMaxVia = 8;

struct Message {
    bool request = false;
    std::string_view method;  // requests
    std::string_view uri;     // requests
    int status = 0;           // responses

    std::string_view via[kMaxVia];  // each Via value, in order
    size_t via_count = 0;
    std::string_view branch;  // of the top Via
    std::string_view from;    // whole header values
    std::string_view to;
    std::string_view from_tag;
    std::string_view to_tag;
    std::string_view call_id;
    uint32_t cseq = 0;
    std::string_view cseq_method;
    std::string_view cseq_value;  // whole CSeq value, echoed in responses
    std::optional<uint32_t> expires;
    std::string_view contact;
    std::string_view event;
    std::string_view authorization;
    std::string_view body;
    // The option tag eventlist is in Supported or Require (RFC 4662 §4.1).
    bool eventlist = false;
};

// Parses one whole message (a datagram or a framed TCP message). Returns
// false when the start line or a mandatory header (Via, From, To, Call-ID,
// CSeq) is missing or malformed.
bool parse(std::string_view data, Message& out);

// TCP framing: the length of the first whole message at the start of buf,
// 0 when more bytes are needed, or std::string_view::npos when the headers
// are unusable (no Content-Length on a stream, RFC 3261 §18.3).
size_t frame_length(std::string_view buf);

// The value of ;name=value among the header parameters of a name-addr or
// addr-spec value (after the '>' when there is one), or "".
std::string_view header_param(std::string_view value, std::string_view name);

// The URI of a name-addr ("Bob" <sip:b@h;p>;tag=x -> sip:b@h;p) or of an
// addr-spec (sip:b@h;tag=x -> sip:b@h).
std::string_view uri_of(std::string_view value);

// Host and port of a sip:/sips: URI (default port 5060). False if not found.
bool host_port(std::string_view uri, std::string& host, uint16_t& port);

// Whether two sip: URIs name the same user at the same host (user exact,
// host case-insensitive; port, parameters and headers ignored): enough to
// recognise the list URI whatever port or transport the subscriber adds.
bool same_user_host(std::string_view a, std::string_view b);

// Case-insensitive ASCII comparison.
bool iequals(std::string_view a, std::string_view b);

// A parameter of a digest credentials value (RFC 7616 §3.4): name=token or
// name="quoted string" (quotes removed; escapes are not needed here).
std::string_view auth_param(std::string_view credentials, std::string_view name);

}  // namespace loadgen::sip
