// The status of one subscription, as shown by `presencectl user` and
// counted by `presencectl connectors`. Names are part of the interface
// (presencectl(8)).
#pragma once

#include <string_view>
#include <vector>

namespace presenced::subscription {

enum class Status {
    queued,         // waiting for the pacer (token bucket / in-flight cap)
    subscribing,    // initial SUBSCRIBE sent; no NOTIFY yet (RFC 6665 §4.1.2.4 NOTIFY_WAIT)
    pending,        // Subscription-State: pending (not yet authorised)
    active,         // Subscription-State: active
    retrying,       // failed or ended; a new subscription is scheduled (back-off, retry-after)
    rejected,       // parked: rejected / invariant / 403 / 603; resumes on reload or forced subscribe
    no_such_user,   // parked: noresource / 404 / 604
    unsupported,    // parked: 489, the server lacks the event package
    unsubscribing,  // Expires: 0 sent, waiting for the final NOTIFY
};

inline std::string_view status_name(Status s) {
    switch (s) {
        case Status::queued:
            return "queued";
        case Status::subscribing:
            return "subscribing";
        case Status::pending:
            return "pending";
        case Status::active:
            return "active";
        case Status::retrying:
            return "retrying";
        case Status::rejected:
            return "rejected";
        case Status::no_such_user:
            return "no_such_user";
        case Status::unsupported:
            return "unsupported";
        case Status::unsubscribing:
            return "unsubscribing";
    }
    return "unknown";
}

// Every name, plus "restoring" (the source shows a cached state and its
// subscription has not been answered yet) and "none" (no subscription).
inline const std::vector<std::string_view>& status_names() {
    static const std::vector<std::string_view> names{"queued",        "subscribing", "pending",      "active",
                                                     "retrying",      "rejected",    "no_such_user", "unsupported",
                                                     "unsubscribing", "restoring",   "none"};
    return names;
}

}  // namespace presenced::subscription
