// Per-source presence and aggregation (model.hpp, presenced(8) RICH
// PRESENCE MAPPING, TELEPHONY PRESENCE MAPPING and AGGREGATION).
//
// Decisions worth knowing:
// * Bodies arrive after the NOTIFY was answered (rfc-checklist 10.4): a body
//   that cannot be used never changes the state of a source, it only leaves
//   a reason in body_error (status bad_body) until a good body clears it.
// * An empty body, or one of only whitespace, is "no new information"
//   (RFC 6665 §4.1.3, rfc-checklist 10.16 and 12.4): ignored whatever its
//   Content-Type, and never "offline".
// * Content types are compared on type/subtype only, case-insensitively
//   (RFC 3261 §7.3.1, RFC 2045 §5.1); parameters such as charset are
//   ignored.
// * A stale partial dialog-info document (RFC 4235 §4.3, rfc-checklist
//   13.5) is discarded unprocessed: received_at is not touched.
// * The stored entries of a rich source are the document as received (for
//   diagnostics); the state and message are taken from it as it reads at
//   `now` (RPID from/until, rfc-checklist 12.18).
#include "presence/model.hpp"

#include <algorithm>

#include "util/text.hpp"

namespace presenced::presence {
namespace {

constexpr std::string_view kPidfType = "application/pidf+xml";               // RFC 3863 §7
constexpr std::string_view kDialogInfoType = "application/dialog-info+xml";  // RFC 4235 §3.5

// type/subtype of a Content-Type value, without parameters or whitespace.
std::string_view media_type(std::string_view content_type) {
    return util::trim(content_type.substr(0, content_type.find(';')));
}

bool is_type(std::string_view content_type, std::string_view expected) {
    return util::iequals(media_type(content_type), expected);
}

bool blank(std::string_view body) { return util::trim(body).empty(); }

// Records a body we could not use; the state stays as it was.
ApplyResult refuse(Source& source, std::string error, bool ignored) {
    ApplyResult result;
    result.ignored = ignored;
    result.error = std::move(error);
    source.body_error = result.error;
    return result;
}

ApplyResult unexpected_type(Source& source, std::string_view content_type) {
    const std::string_view type = media_type(content_type);
    return refuse(source, util::cat("unexpected content type ", type.empty() ? "(none)" : type), true);
}

ApplyResult parse_failed(Source& source, const util::Error& error) {
    return refuse(source, util::cat(error.code, ": ", error.message), false);
}

// A body was applied: the source is known as of now, any earlier body error
// is cleared, and the caller learns whether what is shown may change.
template <class State>
ApplyResult applied(Source& source, State& slot, State state, std::string message, std::time_t now) {
    ApplyResult result;
    result.changed = !source.known || slot != state || source.message != message;
    slot = state;
    source.message = std::move(message);
    source.known = true;
    source.received_at = now;
    source.body_error.clear();
    return result;
}

bool any_activity(const RichDocument& doc, std::initializer_list<std::string_view> names) {
    for (const auto& e : doc.entries)
        for (const auto& a : e.activities)
            if (std::find(names.begin(), names.end(), a) != names.end()) return true;
    return false;
}

// The first note on the presence, a tuple or a person equal (trimmed,
// case-insensitive) to one of names.
bool any_note(const RichDocument& doc, std::initializer_list<std::string_view> names) {
    const auto matches = [&](std::string_view note) {
        const auto n = util::trim(note);
        return std::any_of(names.begin(), names.end(), [&](std::string_view x) { return util::iequals(n, x); });
    };
    if (matches(doc.note)) return true;
    return std::any_of(doc.entries.begin(), doc.entries.end(),
                       [&](const RichEntry& e) { return e.kind != RichEntry::Kind::device && matches(e.note); });
}

ApplyResult apply_dialog_info(Source& source, std::string_view body, std::time_t now, const BodyLimits& limits) {
    auto doc = parse_dialog_info(body, limits);
    if (!doc) return parse_failed(source, doc.error());
    const auto outcome = source.dialogs.apply(*doc);
    if (outcome == DialogTracker::Outcome::stale) {
        ApplyResult result;
        result.ignored = true;
        return result;
    }
    const auto& rows = source.dialogs.dialogs();
    ApplyResult result = applied(source, source.telephony, normalise_telephony(rows), ringing_caller(rows), now);
    result.refresh = outcome == DialogTracker::Outcome::applied_gap;
    return result;
}

ApplyResult apply_presence_as_telephony(Source& source, std::string_view body, std::time_t now,
                                        const BodyLimits& limits) {
    auto doc = parse_pidf(body, limits);
    if (!doc) return parse_failed(source, doc.error());
    return applied(source, source.telephony, telephony_from_pidf(valid_at(*doc, now)), std::string{}, now);
}

}  // namespace

ApplyResult apply_rich(Source& source, std::string_view content_type, std::string_view body, std::time_t now,
                       const BodyLimits& limits) {
    if (blank(body)) {
        ApplyResult result;
        result.ignored = true;
        return result;
    }
    if (!is_type(content_type, kPidfType)) return unexpected_type(source, content_type);
    auto doc = parse_pidf(body, limits);
    if (!doc) return parse_failed(source, doc.error());
    // valid_at() filters a copy; a document without from/until (nearly all)
    // is valid as it is, and copying its entries cost a tenth of the apply.
    const bool bounded = std::any_of(doc->entries.begin(), doc->entries.end(), [](const RichEntry& e) {
        return e.validity.bounded() || !e.bounded_activities.empty();
    });
    const RichDocument filtered = bounded ? valid_at(*doc, now) : RichDocument{};
    const RichDocument& current = bounded ? filtered : *doc;
    ApplyResult result = applied(source, source.rich, normalise_rich(current), rich_message(current), now);
    source.entries = std::move(doc->entries);
    return result;
}

ApplyResult apply_telephony(Source& source, std::string_view content_type, std::string_view body, std::time_t now,
                            const BodyLimits& limits) {
    if (blank(body)) {
        ApplyResult result;
        result.ignored = true;
        return result;
    }
    if (is_type(content_type, kDialogInfoType)) return apply_dialog_info(source, body, now, limits);
    if (is_type(content_type, kPidfType)) return apply_presence_as_telephony(source, body, now, limits);
    return unexpected_type(source, content_type);
}

TelephonyState telephony_from_pidf(const RichDocument& doc) {
    // Asterisk's device-state notes first (rfc-checklist 12.21): they are
    // sent with a closed basic status that does not mean offline.
    if (any_note(doc, {"Ringing"})) return TelephonyState::ringing;
    if (any_note(doc, {"On hold"})) return TelephonyState::held;
    if (any_note(doc, {"On the phone", "Busy"}) || any_activity(doc, {"on-the-phone", "busy"}))
        return TelephonyState::busy;
    bool any_closed = false;
    for (const auto& e : doc.entries) {
        if (e.kind != RichEntry::Kind::tuple || !e.open) continue;
        if (*e.open) return TelephonyState::idle;
        any_closed = true;
    }
    return any_closed ? TelephonyState::offline : TelephonyState::unknown;
}

void reset_tracking(Source& source) { source.dialogs.reset(); }

Shown aggregate(Kind kind, const std::vector<Source>& sources, std::string_view preferred_connector) {
    const auto usable = [](const Source& s) { return s.known && s.fresh && s.connector_positive; };
    const Source* chosen = nullptr;
    for (const auto& s : sources) {
        if (s.connector == preferred_connector && usable(s)) {
            chosen = &s;
            break;
        }
    }
    // Otherwise the best known source: usable first, then the newest body,
    // then the preferred connector, then configuration (vector) order: only
    // a strictly better source replaces the one found earlier.
    const auto better = [&](const Source& a, const Source& b) {
        if (usable(a) != usable(b)) return usable(a);
        if (a.received_at != b.received_at) return a.received_at > b.received_at;
        return a.connector == preferred_connector && b.connector != preferred_connector;
    };
    if (!chosen)
        for (const auto& s : sources)
            if (s.known && (!chosen || better(s, *chosen))) chosen = &s;

    Shown shown;
    if (!chosen) return shown;
    if (kind == Kind::rich)
        shown.rich = chosen->rich;
    else
        shown.telephony = chosen->telephony;
    shown.source = chosen->connector;
    shown.received_at = chosen->received_at;
    shown.stale = !chosen->fresh;
    shown.message = chosen->message;
    return shown;
}

}  // namespace presenced::presence
