// What is known of each user's presence, per kind and per source
// (connector), and the aggregation that picks the shown state
// (presenced(8) AGGREGATION). Bodies are applied here after the NOTIFY was
// answered; the model knows nothing of SIP dialogs: the caller says whether
// a source's subscription is active (fresh) and its connector positive.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "presence/bodies.hpp"
#include "presence/states.hpp"

namespace presenced::presence {

// One (user, kind, connector): the last state a body gave, kept until a
// newer body replaces it (a failed subscription keeps it, marked stale).
struct Source {
    std::string connector;
    bool known = false;                   // a body has been applied since start (or restored from the cache)
    RichState rich = RichState::unknown;  // kind rich
    TelephonyState telephony = TelephonyState::unknown;  // kind telephony
    // rich: the custom message (rich_message); telephony: the ringing
    // caller (ringing_caller), "" otherwise.
    std::string message;
    std::vector<RichEntry> entries;  // rich: every tuple/person/device of the last document
    DialogTracker dialogs;           // telephony (Event: dialog): version tracking and rows
    std::time_t received_at = 0;     // wall clock of the last body applied (0 = never)
    std::string body_error;          // "" or the last parse error ("malformed: ..."): status bad_body
    // Restored from the state cache at start and not yet confirmed by a
    // NOTIFY body (presenced(8) STORE): shown stale whatever the subscription.
    bool restored = false;
    std::string cached_state;  // the state the cache had, even beyond the horizon ("" = none)
    // Served through a resource list (RFC 4662), set by the service:
    bool via_list = false;
    std::string list_instance;  // the RLMI instance state: "" (none yet), "active", "pending", "terminated"
    std::string list_reason;    // terminated: its reason ("" when none)
    std::string list_parked;    // terminated with a reason the tables park on: "rejected", "no_such_user", ...
    // Set by the caller before aggregate():
    bool fresh = false;               // its subscription is active
    bool connector_positive = false;  // its connector's status is positive (connected, credentials_not_found)
};

struct ApplyResult {
    bool changed = false;  // state or message of the source changed
    bool refresh = false;  // dialog-info version gap: refresh the subscription for full state
    bool ignored = false;  // empty body ("no new information"), a stale partial document, or not our type
    std::string error;     // a parse error: the previous state is kept, body_error set
};

// A NOTIFY body for kind rich (Content-Type application/pidf+xml; an empty
// body changes nothing, never "offline" - RFC 6665 §4.1.3). now: wall clock
// for RPID from/until (rfc-checklist 12.18) and received_at.
ApplyResult apply_rich(Source& source, std::string_view content_type, std::string_view body, std::time_t now,
                       const BodyLimits& limits = {});
// A NOTIFY body for kind telephony: dialog-info (Event: dialog) or, for
// connectors with telephony_event = "presence", PIDF mapped by
// telephony_from_pidf().
ApplyResult apply_telephony(Source& source, std::string_view content_type, std::string_view body, std::time_t now,
                            const BodyLimits& limits = {});
// Line state from a PIDF document (PBXs that report it through presence):
// open -> idle; Asterisk notes "Ringing" -> ringing, "On hold" -> held,
// "On the phone"/"Busy" or activity on-the-phone/busy -> busy; closed
// otherwise -> offline; nothing said -> unknown.
TelephonyState telephony_from_pidf(const RichDocument& doc);

// A new subscription restarts dialog-info version tracking (rfc-checklist 13.7).
void reset_tracking(Source& source);

// The state shown for one user and kind.
struct Shown {
    RichState rich = RichState::unknown;
    TelephonyState telephony = TelephonyState::unknown;
    std::string source;           // the connector it comes from; "" when no source knows anything
    std::time_t received_at = 0;  // of that source (age = now - received_at)
    bool stale = true;            // the source's subscription is not active
    std::string message;
};

// Aggregation (presenced(8)): the preferred connector's source when it is
// known, fresh and its connector positive; otherwise the best known source:
// fresh with a positive connector before the rest, then the newest
// received_at, then the preferred one, then configuration (vector) order.
// stale = the chosen source is not fresh. No known source: unknown,
// source "", stale.
Shown aggregate(Kind kind, const std::vector<Source>& sources, std::string_view preferred_connector);

}  // namespace presenced::presence
