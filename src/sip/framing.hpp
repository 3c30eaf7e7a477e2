// Stream framing for SIP over TCP (RFC 3261 §18.3): headers up to the blank
// line, then exactly Content-Length bytes. Pure logic over bytes, so split
// and coalesced reads are tested at every byte boundary without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace presenced::sip {

struct FramingLimits {
    size_t max_header_bytes = size_t{64} * 1024;  // start line + headers + blank line
    size_t max_body_bytes = size_t{1024} * 1024;
};

class StreamFramer {
public:
    enum class Error {
        none,
        headers_too_large,   // no blank line within max_header_bytes
        body_too_large,      // Content-Length above max_body_bytes
        bad_content_length,  // missing, negative, non-numeric, overflowing or conflicting
    };

    explicit StreamFramer(FramingLimits limits = {}) : limits_(limits) {}

    // Appends bytes; complete messages become available from next(). After
    // an error the stream cannot be trusted: the caller answers 400 if it
    // can and closes the connection (rfc-checklist 2.5). Bytes fed after an
    // error are ignored.
    //
    // The blank line ending the headers is CRLF CRLF; a bare LF line end is
    // tolerated. Content-Length (or compact "l") is matched without regard
    // to case, may be folded, and must be a plain decimal no larger than
    // 2^63-1; repeated headers must agree. The same message split anywhere
    // or coalesced with others frames the same way.
    void feed(std::string_view bytes);
    // Takes the next complete message, if any, in order.
    bool next(std::string& message);
    Error error() const { return error_; }
    // CRLF keep-alives seen since the last call (RFC 5626 §3.5.1): a
    // double CRLF "ping" between messages wants a single CRLF "pong". A lone
    // CRLF (a pong, or padding) in front of a start line is just skipped
    // (RFC 3261 §7.5) and is not counted.
    size_t take_pings();
    // Bytes buffered for an unfinished message (for the slowloris timeout).
    // CRLFs between messages are never counted here.
    size_t pending() const { return buffer_.size(); }
    // The start of the message that failed, for a 400 (empty if none): its
    // header block when the blank line was found, else at most
    // max_header_bytes of it.
    const std::string& failed_head() const { return failed_head_; }

    static const char* error_name(Error e);

private:
    // Frames as many messages as data holds, where data starts at the
    // current position of the stream; returns how many bytes were used.
    size_t consume(std::string_view data);
    void fail(Error e, std::string_view head);

    FramingLimits limits_;
    std::string buffer_;  // the unfinished message only (starts with its first byte)
    std::vector<std::string> ready_;
    size_t ready_pos_ = 0;
    size_t pings_ = 0;
    Error error_ = Error::none;
    std::string failed_head_;

    bool in_message_ = false;  // past the CRLFs, inside a message
    int crlf_matched_ = 0;     // bytes of "\r\n\r\n" matched between messages
    size_t scan_from_ = 0;     // where the blank-line search resumes in buffer_
    size_t header_len_ = 0;    // known once the blank line is found (0 = not yet)
    size_t body_len_ = 0;
};

}  // namespace presenced::sip
