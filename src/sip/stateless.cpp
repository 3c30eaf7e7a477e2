// Stateless error responses for requests libosip2 refused.
#include "sip/stateless.hpp"

#include "util/text.hpp"

#include <cctype>
#include <vector>

namespace presenced::sip {
namespace {

// Long name of a header we copy, from its long or compact name; "" otherwise.
std::string copied_name(std::string_view name) {
    const std::string n = util::to_lower(name);
    if (n == "via" || n == "v") return "Via";
    if (n == "from" || n == "f") return "From";
    if (n == "to" || n == "t") return "To";
    if (n == "call-id" || n == "i") return "Call-ID";
    if (n == "cseq") return "CSeq";
    return {};
}

}  // namespace

std::optional<std::string> stateless_response(std::string_view raw, int code, std::string_view reason) {
    const size_t head_end = raw.find("\r\n\r\n");
    std::string_view head = raw.substr(0, head_end == std::string_view::npos ? raw.size() : head_end);
    if (head.find('\0') != std::string_view::npos) return std::nullopt;
    // Split into lines, unfolding continuation lines (RFC 3261 §7.3.1).
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos <= head.size()) {
        size_t end = head.find('\n', pos);
        if (end == std::string_view::npos) end = head.size();
        std::string_view line = head.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!lines.empty() && !line.empty() && (line.front() == ' ' || line.front() == '\t')) {
            // A continuation line; one of only whitespace adds nothing (found by fuzz_sip).
            const size_t text = line.find_first_not_of(" \t");
            if (text != std::string_view::npos) lines.back() += " " + std::string(line.substr(text));
        } else {
            lines.emplace_back(line);
        }
        pos = end + 1;
    }
    if (lines.empty() || lines[0].rfind("SIP/", 0) == 0 || lines[0].find(' ') == std::string::npos) return std::nullopt;

    std::vector<std::string> vias;
    std::string from, to, call_id, cseq;
    for (size_t i = 1; i < lines.size(); ++i) {
        const std::string& line = lines[i];
        const size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string_view name(line.data(), colon);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        const std::string which = copied_name(name);
        if (which.empty()) continue;
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        std::string copy = which;
        copy.append(": ").append(value);
        if (which == "Via") vias.push_back(copy);
        if (which == "From" && from.empty()) from = copy;
        if (which == "To" && to.empty()) to = copy;
        if (which == "Call-ID" && call_id.empty()) call_id = copy;
        if (which == "CSeq" && cseq.empty()) cseq = copy;
    }
    if (vias.empty() || cseq.empty()) return std::nullopt;

    std::string out = "SIP/2.0 " + std::to_string(code) + " " + std::string(reason) + "\r\n";
    for (const auto& v : vias) out += v + "\r\n";
    for (const std::string* line : {&from, &to, &call_id, &cseq})
        if (!line->empty()) out += *line + "\r\n";
    out += "Content-Length: 0\r\n\r\n";
    return out;
}

}  // namespace presenced::sip
