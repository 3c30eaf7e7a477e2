// SIP stream framing (RFC 3261 §18.3, §7.5; RFC 5626 §3.5.1): split a TCP
// byte stream into messages by the blank line and Content-Length, skip and
// count CRLF keep-alives between messages. No SIP parser here: the message
// layer sees whole messages only.
#include "sip/framing.hpp"

#include <cstring>
#include <limits>

namespace presenced::sip {

namespace {

constexpr std::string_view kPing = "\r\n\r\n";
// Content-Length is a non-negative decimal; anything that does not fit a
// signed 64-bit value is an overflow, never a wrap (rfc-checklist 16.14).
constexpr uint64_t kMaxContentLength = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
bool is_lws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// Index just past the first empty line (LF LF, or LF CR LF) at or after
// `from`, or npos. A message never starts with a line end, so the first
// line is never the blank one.
size_t find_blank_line(std::string_view msg, size_t from) {
    const char* base = msg.data();
    const size_t n = msg.size();
    size_t i = from;
    while (i < n) {
        const void* hit = std::memchr(base + i, '\n', n - i);
        if (!hit) return std::string_view::npos;
        i = static_cast<size_t>(static_cast<const char*>(hit) - base);
        if (i + 1 < n && base[i + 1] == '\n') return i + 2;
        if (i + 2 < n && base[i + 1] == '\r' && base[i + 2] == '\n') return i + 3;
        ++i;
    }
    return std::string_view::npos;
}

// The length of the line starting at pos, without its LF (and CR).
std::string_view line_at(std::string_view head, size_t pos, size_t& next) {
    size_t end = head.find('\n', pos);
    if (end == std::string_view::npos) end = head.size();
    next = end + 1;
    std::string_view line = head.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

// Reads Content-Length from a header block (start line to blank line).
// Folded values (RFC 3261 §7.3.1) are joined by treating the line ends and
// the leading whitespace of continuation lines as LWS.
StreamFramer::Error content_length(std::string_view head, uint64_t& out) {
    using Error = StreamFramer::Error;
    size_t pos = 0;
    line_at(head, 0, pos);  // start line
    bool found = false;
    uint64_t value = 0;
    while (pos < head.size()) {
        const size_t start = pos;
        std::string_view line = line_at(head, pos, pos);
        if (line.empty()) break;  // the blank line
        // Extend over continuation lines.
        size_t end = pos;
        while (end < head.size() && is_wsp(head[end])) line_at(head, end, end);
        pos = end;
        std::string_view header = head.substr(start, std::min(end, head.size()) - start);

        const size_t colon = header.find(':');
        if (colon == std::string_view::npos) continue;  // not framing's business: the parser rejects it
        std::string_view name = header.substr(0, colon);
        while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
        if (!iequals(name, "content-length") && !iequals(name, "l")) continue;

        std::string_view v = header.substr(colon + 1);
        while (!v.empty() && is_lws(v.front())) v.remove_prefix(1);
        while (!v.empty() && is_lws(v.back())) v.remove_suffix(1);
        if (v.empty()) return Error::bad_content_length;
        uint64_t n = 0;
        for (char c : v) {
            if (c < '0' || c > '9') return Error::bad_content_length;  // "-1", "12a", "1 2", "0x10"
            const auto d = static_cast<uint64_t>(c - '0');
            if (n > (kMaxContentLength - d) / 10) return Error::bad_content_length;  // overflow
            n = n * 10 + d;
        }
        if (found && n != value) return Error::bad_content_length;  // conflicting copies
        found = true;
        value = n;
    }
    // On a stream a message without Content-Length cannot be delimited
    // (RFC 3261 §18.3, §20.14).
    if (!found) return Error::bad_content_length;
    out = value;
    return Error::none;
}

}  // namespace

const char* StreamFramer::error_name(Error e) {
    switch (e) {
        case Error::none:
            return "none";
        case Error::headers_too_large:
            return "headers_too_large";
        case Error::body_too_large:
            return "body_too_large";
        case Error::bad_content_length:
            return "bad_content_length";
    }
    return "unknown";
}

void StreamFramer::feed(std::string_view bytes) {
    if (error_ != Error::none || bytes.empty()) return;
    if (buffer_.empty()) {
        // Fast path: frame straight from the caller's bytes and keep only
        // the tail of an unfinished message.
        const size_t used = consume(bytes);
        if (error_ == Error::none) buffer_.assign(bytes.substr(used));
    } else {
        buffer_.append(bytes);
        const size_t used = consume(buffer_);
        if (error_ == Error::none) buffer_.erase(0, used);
    }
}

size_t StreamFramer::consume(std::string_view data) {
    size_t pos = 0;
    while (pos < data.size()) {
        if (!in_message_) {
            // RFC 3261 §7.5: CRLFs before a start line are ignored; RFC 5626
            // §3.5.1: each CRLF CRLF among them is a ping.
            const char c = data[pos];
            if (c == '\r' || c == '\n') {
                if (c == kPing[static_cast<size_t>(crlf_matched_)]) {
                    if (++crlf_matched_ == static_cast<int>(kPing.size())) {
                        ++pings_;
                        crlf_matched_ = 0;
                    }
                } else {
                    crlf_matched_ = c == '\r' ? 1 : 0;
                }
                ++pos;
                continue;
            }
            crlf_matched_ = 0;
            in_message_ = true;
            scan_from_ = 0;
            header_len_ = 0;
            body_len_ = 0;
        }

        const std::string_view msg = data.substr(pos);
        if (header_len_ == 0) {
            const size_t end = find_blank_line(msg, scan_from_);
            if (end == std::string_view::npos) {
                // A header block that fits would already have its blank line.
                if (msg.size() >= limits_.max_header_bytes) {
                    fail(Error::headers_too_large, msg.substr(0, limits_.max_header_bytes));
                    return pos;
                }
                scan_from_ = msg.size() >= 2 ? msg.size() - 2 : 0;
                return pos;
            }
            if (end > limits_.max_header_bytes) {
                fail(Error::headers_too_large, msg.substr(0, limits_.max_header_bytes));
                return pos;
            }
            uint64_t length = 0;
            const Error e = content_length(msg.substr(0, end), length);
            if (e != Error::none) {
                fail(e, msg.substr(0, end));
                return pos;
            }
            if (length > limits_.max_body_bytes) {
                fail(Error::body_too_large, msg.substr(0, end));
                return pos;
            }
            header_len_ = end;
            body_len_ = static_cast<size_t>(length);
        }

        const size_t total = header_len_ + body_len_;
        if (msg.size() < total) return pos;
        ready_.emplace_back(msg.substr(0, total));
        pos += total;
        in_message_ = false;
        header_len_ = 0;
        body_len_ = 0;
        scan_from_ = 0;
    }
    return pos;
}

void StreamFramer::fail(Error e, std::string_view head) {
    error_ = e;
    failed_head_.assign(head);
    buffer_.clear();
    buffer_.shrink_to_fit();
    in_message_ = false;
}

bool StreamFramer::next(std::string& message) {
    if (ready_pos_ >= ready_.size()) return false;
    message = std::move(ready_[ready_pos_++]);
    if (ready_pos_ == ready_.size()) {
        ready_.clear();
        ready_pos_ = 0;
    }
    return true;
}

size_t StreamFramer::take_pings() {
    const size_t n = pings_;
    pings_ = 0;
    return n;
}

}  // namespace presenced::sip
