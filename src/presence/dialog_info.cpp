// dialog-info (RFC 4235) on the bounded expat tree: the parser, version
// tracking with full/partial application, and the DM-1 reduction to one
// telephony state (rfc-checklist 13.3-13.15). See bodies.hpp.
//
// Decisions beyond the RFC text:
// - version is required and must be a plain decimal uint32 (surrounding
//   whitespace allowed); state is required and must be "full" or "partial";
//   entity is optional (servers get it wrong, interop.md §2 item 11).
// - A <dialog> without an id is "malformed"; a repeated id replaces the
//   earlier row in place (ids key rows, 13.8).
// - A <dialog> without <state> (or an unknown state) is kept with the state
//   as written ("" when absent) and ignored by normalise_telephony.
// - direction other than initiator/recipient reads as "" (unknown); state
//   names, direction and +sip.rendering are folded to lower case; a code that
//   is not a 3-digit number is dropped.
// - Unknown elements and attributes, in any namespace, are ignored.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "presence/bodies.hpp"
#include "presence/xml.hpp"
#include "util/text.hpp"

namespace presenced::presence {
namespace {

constexpr std::string_view kNs = "urn:ietf:params:xml:ns:dialog-info";

std::optional<uint32_t> parse_uint32(std::string_view text) {
    text = util::trim(text);
    if (text.empty() || text.size() > 10) return std::nullopt;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    if (value > UINT32_MAX) return std::nullopt;
    return static_cast<uint32_t>(value);
}

std::optional<int> parse_code(std::string_view text) {
    text = util::trim(text);
    if (text.size() != 3) return std::nullopt;
    int value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + (c - '0');
    }
    if (value < 100) return std::nullopt;
    return value;
}

// <local> or <remote>: identity, display name and the target's +sip.rendering.
void read_participant(const xml::Element& p, std::string& identity, std::string& display, std::string& rendering) {
    if (const auto* id = p.first(kNs, "identity")) {
        identity = xml::trimmed(id->text);
        display = xml::trimmed(id->attr("display"));
    }
    if (const auto* target = p.first(kNs, "target")) {
        for (const auto* param : target->all(kNs, "param"))
            if (util::iequals(xml::trimmed(param->attr("pname")), "+sip.rendering"))
                rendering = util::to_lower(xml::trimmed(param->attr("pvalue")));
    }
}

util::Result<DialogEntry> read_dialog(const xml::Element& d) {
    if (!d.has_attr("id") || xml::trimmed(d.attr("id")).empty())
        return util::make_error("malformed", "a <dialog> has no id attribute");
    DialogEntry e;
    e.id = xml::trimmed(d.attr("id"));
    e.call_id = xml::trimmed(d.attr("call-id"));
    e.local_tag = xml::trimmed(d.attr("local-tag"));
    e.remote_tag = xml::trimmed(d.attr("remote-tag"));
    const std::string direction = util::to_lower(xml::trimmed(d.attr("direction")));
    if (direction == "initiator" || direction == "recipient") e.direction = direction;
    if (const auto* state = d.first(kNs, "state")) {
        e.state = util::to_lower(xml::trimmed(state->text));
        e.event = util::to_lower(xml::trimmed(state->attr("event")));
        e.code = parse_code(state->attr("code"));
    }
    if (const auto* local = d.first(kNs, "local"))
        read_participant(*local, e.local_identity, e.local_display, e.local_rendering);
    if (const auto* remote = d.first(kNs, "remote"))
        read_participant(*remote, e.remote_identity, e.remote_display, e.remote_rendering);
    return e;
}

enum class RowState { none, held, dialing, busy, ringing };  // ordered by DM-1 precedence (13.14d)

RowState row_state(const DialogEntry& e) {
    if (e.state == "trying" || e.state == "proceeding" || e.state == "early")
        return e.direction == "initiator" ? RowState::dialing : RowState::ringing;
    if (e.state == "confirmed")
        return (e.local_rendering == "no" || e.remote_rendering == "no") ? RowState::held : RowState::busy;
    return RowState::none;  // terminated, absent or unknown
}

// The user part of a SIP/SIPS/TEL URI ("sip:bob@x;p" -> "bob"), else the
// URI without its scheme.
std::string uri_user(std::string_view uri) {
    uri = util::trim(uri);
    if (!uri.empty() && uri.front() == '<') uri.remove_prefix(1);
    if (const auto close = uri.find('>'); close != std::string_view::npos) uri = uri.substr(0, close);
    if (const auto colon = uri.find(':'); colon != std::string_view::npos) {
        const std::string scheme = util::to_lower(uri.substr(0, colon));
        if (scheme == "sip" || scheme == "sips" || scheme == "tel") uri.remove_prefix(colon + 1);
    }
    if (const auto at = uri.find('@'); at != std::string_view::npos) return std::string(uri.substr(0, at));
    return std::string(uri.substr(0, uri.find_first_of(";?")));
}

}  // namespace

util::Result<DialogDocument> parse_dialog_info(std::string_view document, const BodyLimits& limits) {
    auto tree = xml::parse(document, limits);
    if (!tree) return tree.error();
    const xml::Element& root = **tree;
    if (!root.is(kNs, "dialog-info"))
        return util::make_error("wrong_root", "the root element is not {" + std::string(kNs) + "}dialog-info");

    DialogDocument doc;
    if (!root.has_attr("version")) return util::make_error("malformed", "dialog-info has no version attribute");
    const auto version = parse_uint32(root.attr("version"));
    if (!version) return util::make_error("malformed", "dialog-info version is not a 32-bit unsigned number");
    doc.version = *version;
    const std::string state = xml::trimmed(root.attr("state"));
    if (state == "full")
        doc.full = true;
    else if (state == "partial")
        doc.full = false;
    else
        return util::make_error("malformed", "dialog-info state is neither full nor partial");
    doc.entity = xml::trimmed(root.attr("entity"));

    const auto dialogs = root.all(kNs, "dialog");
    if (dialogs.size() > limits.max_entries)
        return util::make_error("too_many_entries", "more <dialog> elements than the limit");
    doc.dialogs.reserve(dialogs.size());
    for (const auto* d : dialogs) {
        auto entry = read_dialog(*d);
        if (!entry) return entry.error();
        auto same = std::find_if(doc.dialogs.begin(), doc.dialogs.end(),
                                 [&](const DialogEntry& e) { return e.id == entry->id; });
        if (same != doc.dialogs.end())
            *same = std::move(*entry);
        else
            doc.dialogs.push_back(std::move(*entry));
    }
    return doc;
}

DialogTracker::Outcome DialogTracker::apply(const DialogDocument& doc) {
    Outcome outcome = Outcome::applied;
    if (version_ && !doc.full) {
        const uint64_t local = *version_;
        if (doc.version <= local) return Outcome::stale;
        if (doc.version > local + 1) outcome = Outcome::applied_gap;
    }
    version_ = doc.version;
    if (doc.full) {
        dialogs_ = doc.dialogs;
    } else {
        for (const auto& row : doc.dialogs) {
            auto same =
                std::find_if(dialogs_.begin(), dialogs_.end(), [&](const DialogEntry& e) { return e.id == row.id; });
            if (same != dialogs_.end())
                *same = row;
            else
                dialogs_.push_back(row);
        }
    }
    std::erase_if(dialogs_, [](const DialogEntry& e) { return e.state == "terminated"; });
    return outcome;
}

void DialogTracker::reset() {
    version_.reset();
    dialogs_.clear();
}

TelephonyState normalise_telephony(const std::vector<DialogEntry>& dialogs) {
    RowState best = RowState::none;
    for (const auto& e : dialogs) best = std::max(best, row_state(e));
    switch (best) {
        case RowState::ringing:
            return TelephonyState::ringing;
        case RowState::busy:
            return TelephonyState::busy;
        case RowState::dialing:
            return TelephonyState::dialing;
        case RowState::held:
            return TelephonyState::held;
        case RowState::none:
            break;
    }
    return TelephonyState::idle;
}

std::string ringing_caller(const std::vector<DialogEntry>& dialogs) {
    for (const auto& e : dialogs) {
        if (row_state(e) != RowState::ringing) continue;
        if (!e.remote_display.empty()) return e.remote_display;
        return uri_user(e.remote_identity);
    }
    return "";
}

}  // namespace presenced::presence
