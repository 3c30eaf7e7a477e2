// libFuzzer target: arbitrary bytes into the PIDF parser and, when a
// document comes out, through the PR-1 reduction and the message choice.
// Seeds: tests/fuzz/corpus/pidf/. Must never crash, leak or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "presence/bodies.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace presenced::presence;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    auto doc = parse_pidf(input);
    if (doc) {
        (void)state_name(normalise_rich(*doc));
        (void)rich_message(*doc);
    }
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
