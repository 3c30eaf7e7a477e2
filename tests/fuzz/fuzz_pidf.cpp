// libFuzzer target: arbitrary bytes into the PIDF parser and, when a
// document comes out, through the PR-1 reduction (with and without RPID
// from/until filtering) and the message choice.
// Seeds: tests/fuzz/corpus/pidf/. Must never crash, leak or hang.
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <limits>
#include <string_view>

#include "presence/bodies.hpp"
#include "presence/model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace presenced::presence;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    auto doc = parse_pidf(input);
    if (doc) {
        (void)state_name(normalise_rich(*doc));
        (void)rich_message(*doc);
        // RPID from/until (rfc-checklist 12.18) at a few clocks, including
        // the extremes of time_t, over whatever times the input wrote.
        for (const std::time_t now : {std::time_t{0}, std::time_t{1704103200}, std::numeric_limits<std::time_t>::max(),
                                      std::numeric_limits<std::time_t>::min()}) {
            (void)state_name(normalise_rich(*doc, now));
            (void)rich_message(valid_at(*doc, now));
        }
        for (const auto& e : doc->entries) {
            (void)parse_rfc3339(e.timestamp);
            (void)parse_rfc3339(e.validity.from);
            (void)parse_rfc3339(e.validity.until);
        }
    }
    // The model's path for a NOTIFY body: as rich presence and as PIDF
    // telephony (telephony_event = "presence"), with a source carried across
    // inputs like one long subscription.
    static Source rich, line;
    (void)apply_rich(rich, "application/pidf+xml", input, 1704103200);
    (void)apply_telephony(line, "application/pidf+xml", input, 1704103200);
    // Tight limits reach the limit paths with small inputs.
    BodyLimits tight;
    tight.max_depth = 4;
    tight.max_nodes = 16;
    tight.max_text = 32;
    tight.max_entries = 2;
    auto small = parse_pidf(input, tight);
    if (small) {
        (void)normalise_rich(*small);
        (void)rich_message(*small);
    }
    return 0;
}
