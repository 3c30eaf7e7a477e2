// Error answers to requests that cannot be parsed into a Message (a 400 or
// 505 is "possible" when the start line is a request and the Via, From, To,
// Call-ID and CSeq lines can be found, RFC 3261 §8.2.6.2). Pure text work
// with no SIP library, so it is safe on any bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace presenced::sip {

// Builds "SIP/2.0 <code> <reason>" copying the Via lines and the first
// From, To, Call-ID and CSeq lines verbatim (compact forms too), so the
// sender can match it even when one of them is what was wrong (RFC 4475
// insuf, multi01). nullopt when the bytes are a response, have no Via or
// no CSeq (nothing to match the answer by), or hold a NUL before the blank
// line.
std::optional<std::string> stateless_response(std::string_view raw, int code, std::string_view reason);

}  // namespace presenced::sip
