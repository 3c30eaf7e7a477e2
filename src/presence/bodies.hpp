// Presence bodies (libexpat, namespace-aware): PIDF with RPID and the data
// model (RFC 3863, 4479, 4480) and dialog-info (RFC 4235), parsed into
// plain structs, and the documented reductions to one normalised state
// (presenced(8); rfc-checklist 12.20 and 13.14). Hostile input gets an
// error value, never a crash: no DTDs or entities, bounded depth, nodes
// and text.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "presence/states.hpp"
#include "util/error.hpp"

namespace presenced::presence {

struct BodyLimits {
    size_t max_bytes = size_t{256} * 1024;  // a document
    size_t max_depth = 32;                  // element nesting
    size_t max_nodes = 10'000;              // elements in a document
    size_t max_text = 4096;                 // one text node or attribute value, bytes
    size_t max_entries = 256;               // tuples + persons + devices, or dialogs
};

// Error codes (util::Error::code): "too_large", "malformed" (not well-formed
// XML, a DTD or entity declaration, bad encoding), "wrong_root" (not the
// expected root element in its namespace), "too_deep", "too_many_nodes",
// "too_many_entries", "text_too_long", "must_understand" (an extension marked
// mustUnderstand that we do not understand: RFC 3863 §4.1.6).

// ---- PIDF ----------------------------------------------------------------

// RPID validity (RFC 4480 §3.2, rfc-checklist 12.18): the from/until
// attributes as written (RFC 3339); "" = no bound.
struct Validity {
    std::string from;
    std::string until;
    bool bounded() const { return !from.empty() || !until.empty(); }
};

// An activity from an <activities> element that carries from/until, with
// those bounds; a name also present in an unbounded <activities> element of
// the same entry is never listed here (it is valid at any time).
struct BoundedActivity {
    std::string name;
    Validity validity;
};

struct RichEntry {
    enum class Kind { tuple, person, device };
    Kind kind = Kind::tuple;
    std::string id;
    std::optional<bool> open;  // tuple <status><basic>: true = open; nullopt when absent
    std::vector<std::string>
        activities;       // RPID activity element names ("away", "on-the-phone"; "other" as "other:<text>")
    std::string note;     // the first <note> of this entry (tuple, person or device)
    std::string contact;  // tuple <contact>
    std::optional<double> contact_priority;
    std::string timestamp;  // <timestamp> or <dm:timestamp>, as written
    std::string device_id;  // <dm:deviceID>
    bool idle = false;      // RPID <user-input>idle</user-input>
    Validity validity;      // from/until on the tuple, person or device element itself
    // Activities whose <activities> element carries from/until (each name is
    // in `activities` too); valid_at() drops them outside their bounds.
    std::vector<BoundedActivity> bounded_activities;
};

struct RichDocument {
    std::string entity;
    std::string note;                // a <note> directly under <presence>
    std::vector<RichEntry> entries;  // in document order
};

util::Result<RichDocument> parse_pidf(std::string_view xml, const BodyLimits& limits = {});

// PR-1 (rfc-checklist 12.20, without the dialog part), in this order:
// 1. R = open when any tuple says <basic>open</basic>; closed when tuples
//    say basic and none is open; else none (no basic anywhere).
// 2. Activities come from the persons (the newest by timestamp, document
//    order on ties), else from the tuples and devices.
// 3. permanent-absence -> offline.
// 4. R closed (12.20e: basic beats activities): an RPID activity "busy"
//    with a note "Do not disturb"/"DND" -> dnd; else an Asterisk-style note
//    "On the phone", "Ringing", "On hold" or "Busy" (12.20d, 12.21) ->
//    busy; else offline, whatever other activities say.
// 5. R open or none: "busy" with a DND note -> dnd; on-the-phone, busy,
//    meeting, appointment, presentation, performance -> busy; away-class
//    activities or user-input idle -> away; else available when R is open;
//    else unknown.
// Notes (DND and Asterisk) are read, case-insensitively and trimmed, on the
// presence, a tuple or a person.
RichState normalise_rich(const RichDocument& doc);

// RPID from/until (rfc-checklist 12.18): an element is ignored when its
// until is more than kValiditySkew in the past or its from more than
// kValiditySkew in the future. An unparsable time is no bound.
inline constexpr std::time_t kValiditySkew = std::time_t{5} * 60;
bool valid_at(const Validity& validity, std::time_t now);
// The document as it reads at now: tuples, persons and devices outside
// their own from/until are dropped, and so are bounded activities outside
// theirs.
RichDocument valid_at(const RichDocument& doc, std::time_t now);
// normalise_rich(valid_at(doc, now)).
RichState normalise_rich(const RichDocument& doc, std::time_t now);
// RFC 3339 date-time (Z or a +hh:mm/-hh:mm offset, optional fraction) to
// seconds since the epoch, without the locale or timegm; nullopt when not one.
std::optional<double> parse_rfc3339(std::string_view text);

// The custom message shown with the state: the person note, else the first
// tuple note, else the presence-level note.
std::string rich_message(const RichDocument& doc);

// ---- dialog-info -------------------------------------------------------------

struct DialogEntry {
    std::string id;
    std::string call_id, local_tag, remote_tag;
    std::string direction;  // "initiator", "recipient" or ""
    std::string state;      // trying, proceeding, early, confirmed, terminated (as written, lower case)
    std::string event;      // state event= attribute
    std::optional<int> code;
    std::string local_identity, local_display;
    std::string remote_identity, remote_display;
    std::string local_rendering;  // +sip.rendering param of <local><target>: "yes", "no", "unknown" or ""
    std::string remote_rendering;
};

struct DialogDocument {
    std::string entity;
    uint32_t version = 0;
    bool full = true;  // state="full" (else "partial")
    std::vector<DialogEntry> dialogs;
};

// Root {urn:ietf:params:xml:ns:dialog-info}dialog-info (else "wrong_root");
// version (a uint32) and state (full|partial) are required, a <dialog>
// needs an id (else "malformed"); more dialogs than max_entries ->
// "too_many_entries". A repeated dialog id replaces the earlier row; a
// dialog without <state> keeps state "" (ignored by normalise_telephony);
// unknown elements are ignored.
util::Result<DialogDocument> parse_dialog_info(std::string_view xml, const BodyLimits& limits = {});

// Version tracking and full/partial application (RFC 4235 §4.3,
// rfc-checklist 13.5-13.7) for one subscription.
class DialogTracker {
public:
    enum class Outcome {
        applied,      // version = local + 1, or the first document, or any full document
        applied_gap,  // a partial document skipped a version; applied, local = its version: refresh for full state
        stale,        // a partial document with version <= local: discarded unprocessed
    };
    Outcome apply(const DialogDocument& doc);
    // Current rows; terminated rows are dropped when a document is applied.
    const std::vector<DialogEntry>& dialogs() const { return dialogs_; }
    void reset();  // a new subscription restarts version tracking

private:
    std::optional<uint32_t> version_;
    std::vector<DialogEntry> dialogs_;
};

// DM-1 (rfc-checklist 13.14): ignore terminated rows; none left -> idle;
// trying/proceeding/early with direction recipient or none -> ringing,
// with direction initiator -> dialing; confirmed with +sip.rendering=no on
// the local (or remote) target -> held, other confirmed -> busy; over rows:
// ringing > busy > dialing > held > idle. Unknown or absent states count as
// terminated.
TelephonyState normalise_telephony(const std::vector<DialogEntry>& dialogs);
// The caller of the first ringing dialog (remote display name, else the
// user part of the remote identity URI: sip:bob@x -> "bob"), "" when not
// ringing.
std::string ringing_caller(const std::vector<DialogEntry>& dialogs);

}  // namespace presenced::presence
