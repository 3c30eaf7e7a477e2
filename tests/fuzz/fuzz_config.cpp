// Fuzz target: any bytes as presenced.toml. Loading must never crash, and a
// config that loads must print (-n -v) to a config that loads again.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto outcome = presenced::config::load_string(text, "fuzz.toml");
    for (const auto& e : outcome.errors) (void)e.str();
    if (outcome.ok()) {
        auto again =
            presenced::config::load_string(presenced::config::print_effective(*outcome.config), "printed.toml");
        // Passwords are redacted in the print, which can only matter for a
        // password that is required (never) or invalid (never): it must load.
        if (!again.ok()) std::abort();
    }
    return 0;
}
