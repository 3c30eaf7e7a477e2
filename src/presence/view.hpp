// Read-only snapshots of users' presence for the control socket, built by
// the presence service on the loop between requests (control/ never sees
// live objects). Every field is documented in presencectl(8).
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "presence/bodies.hpp"
#include "presence/directory.hpp"
#include "presence/states.hpp"

namespace presenced::presence {

// One (user, kind, connector) source with its subscription.
struct SourceView {
    std::string connector;
    std::string subscription = "none";  // a subscription status name (presencectl(8)), "none" when not subscribed
    std::string state;                  // this source's own state name
    bool known = false;                 // a body has been applied
    std::string message;
    std::time_t received_at = 0;    // last body applied (0 = never)
    std::string body_error;         // "" or the last parse error (the source is then bad_body)
    bool restored = false;          // from the state cache, not yet confirmed by a NOTIFY
    std::string cached_state;       // what the cache had at start ("" = nothing), even beyond cache_horizon
    int last_code = 0;              // last final response to a SUBSCRIBE (0 = none yet)
    std::string last_reason;        // its reason phrase
    std::string last_state_reason;  // last Subscription-State reason= ("" when none)
    std::string why;                // what the subscription is waiting for, in words
    std::time_t last_notify_at = 0;
    std::time_t expires_at = 0;       // 0 = no dialog
    std::time_t next_refresh_at = 0;  // 0 = none scheduled
    int retries = 0;                  // consecutive failed attempts
    std::time_t next_retry_at = 0;    // 0 = none scheduled
    uint64_t notifies = 0;            // NOTIFYs received on this subscription
    // Through a resource list (RFC 4662): its URI ("" = an individual
    // subscription or none), and the state of this resource's instance.
    std::string list;
    std::string list_instance;  // "none" (no state sent yet), "active", "pending", "terminated"
    std::string list_reason;    // terminated: the reason ("" when none)
};

struct KindView {
    std::string state;   // shown state name, "not_configured" without the URI
    bool stale = true;   // the shown source's subscription is not active
    std::string source;  // connector of the shown state ("" = none)
    int64_t age_s = -1;  // seconds since the shown source's last body (-1 = never)
    std::string message;
    std::vector<RichEntry> entries;    // rich: of the shown source
    std::vector<DialogEntry> dialogs;  // telephony: of the shown source
    std::vector<SourceView> sources;   // one per enabled connector
};

struct UserView {
    UserEntry user;
    std::string note;  // operator note (issue 5); "" when none
    KindView rich, telephony;
    bool forced = false;             // a forced subscription holds this user
    int64_t forced_remaining_s = 0;  // seconds left of it
    int watchers = 0;                // control clients watching this user
};

// What `subscribe NAME` did, per kind and connector.
struct ForceResult {
    std::string kind;          // "rich" or "telephony"
    std::string connector;     // connector name
    std::string action;        // "started", "existing", "list" (served by a resource list), "not_configured"
    std::string subscription;  // its status after the call
};
struct ForceReport {
    std::string username;
    int seconds = 0;
    std::vector<ForceResult> results;
};

// What `users import` did.
struct ImportReport {
    std::string path;
    size_t rows = 0;       // data rows read
    size_t imported = 0;   // users now imported from this file
    bool applied = false;  // false: errors and no --partial, nothing changed
    struct Problem {
        int line = 0;
        std::string code, message;
    };
    std::vector<Problem> errors;
};

// One line of the watch stream.
struct Event {
    enum class Type { presence, connector };
    Type type = Type::presence;
    std::string username;  // presence
    std::string kind;      // presence: "rich" | "telephony"
    std::string state, previous;
    std::string source;  // presence: connector of the new shown state
    bool stale = true;   // presence
    std::string message;
    std::string connector;  // connector events: its name
    std::string cause;      // connector events
    std::time_t at = 0;
};

}  // namespace presenced::presence
