// Notification bodies of the load generator: PIDF with RPID (RFC 3863,
// RFC 4480) and dialog-info (RFC 4235), about 660 bytes each like the sample
// of perf-limits.md. Every load NOTIFY changes what the watcher shows and
// carries a stamp ("lg N", N = the NOTIFY's load sequence number) where
// presenced shows it as the presence message, so a `watch` event can be
// matched to the NOTIFY that caused it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loadgen {

// The prefix of a stamp in a message; the watch client looks for it.
constexpr std::string_view kStampPrefix = "lg ";

enum class Shown {
    initial,  // the first NOTIFY of a dialog: available / idle, no stamp
    away,     // PIDF: open + on-the-phone, meeting -> "busy"; dialog-info: confirmed -> "busy"
    back,     // PIDF: open + no busy activity -> "available"; dialog-info: early, recipient -> "ringing"
};

constexpr std::string_view kPidfType = "application/pidf+xml";
constexpr std::string_view kDialogInfoType = "application/dialog-info+xml";

// entity: the presentity URI (the SUBSCRIBE's To URI); stamp 0 = no stamp;
// timestamp: RFC 3339 UTC, e.g. "2026-11-26T10:15:02Z".
void append_pidf(std::string& out, std::string_view entity, Shown shown, uint64_t stamp, std::string_view timestamp);

// presenced shows a message for telephony only while a dialog rings (the
// remote party's display name, src/presence/dialog_info.cpp ringing_caller),
// so only the "back" (ringing) documents carry the stamp.
void append_dialog_info(std::string& out, std::string_view entity, Shown shown, uint32_t version, uint64_t stamp);

// Whether a body of this kind shows the stamp of a NOTIFY in the state shown.
bool carries_stamp(bool dialog_info, Shown shown);

}  // namespace loadgen
