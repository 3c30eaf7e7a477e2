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
};

struct RichDocument {
    std::string entity;
    std::string note;                // a <note> directly under <presence>
    std::vector<RichEntry> entries;  // in document order
};

util::Result<RichDocument> parse_pidf(std::string_view xml, const BodyLimits& limits = {});

// PR-1 (rfc-checklist 12.20, without the dialog part): permanent-absence ->
// offline; on-the-phone, busy, meeting, appointment, presentation,
// performance -> busy; away-class activities or user-input idle -> away;
// else available when any tuple is open; offline when tuples exist and all
// are closed (unless an Asterisk-style note says the line is busy: "On the
// phone", "Ringing", "On hold", "Busy" -> busy); unknown when nothing says.
// Activities come from the persons (the newest by timestamp, document order
// on ties), else from the tuples. "dnd" for an RPID activity
// "busy" with a note "Do not disturb"/"DND" (case-insensitive).
RichState normalise_rich(const RichDocument& doc);
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
