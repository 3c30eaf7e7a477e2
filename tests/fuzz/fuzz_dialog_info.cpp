// Fuzz target: dialog-info bodies (RFC 4235). The input is one document; a
// parsed one is applied to a DialogTracker (twice, so the stale path runs
// too, and once more as the opposite full/partial kind) and normalised, with
// every field read. Nothing may crash, leak or hang.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "presence/bodies.hpp"
#include "presence/model.hpp"

using namespace presenced::presence;

namespace {
volatile size_t g_sink;  // keeps the reads from being optimised away
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    // The model's path for a NOTIFY body, on a source carried across inputs.
    static Source source;
    (void)apply_telephony(source, "application/dialog-info+xml", bytes, 1704103200);
    if (source.dialogs.dialogs().size() > 4096) reset_tracking(source);
    auto parsed = parse_dialog_info(bytes);
    if (!parsed) return 0;
    DialogDocument doc = std::move(*parsed);

    static DialogTracker tracker;  // carries state across inputs, like one long subscription
    tracker.apply(doc);
    tracker.apply(doc);
    doc.full = !doc.full;
    tracker.apply(doc);
    if (tracker.dialogs().size() > 4096) tracker.reset();

    size_t total = state_name(normalise_telephony(doc.dialogs)).size();
    total += state_name(normalise_telephony(tracker.dialogs())).size();
    total += ringing_caller(doc.dialogs).size() + ringing_caller(tracker.dialogs()).size();
    for (const auto& d : tracker.dialogs())
        total += d.id.size() + d.state.size() + d.direction.size() + d.local_identity.size() +
                 d.remote_identity.size() + d.local_rendering.size() + d.remote_rendering.size() +
                 static_cast<size_t>(d.code.value_or(0));
    g_sink = total;
    return 0;
}
