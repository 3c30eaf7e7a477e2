// Names of the normalised presence states.
#include "presence/states.hpp"

namespace presenced::presence {

const std::vector<std::string_view>& rich_state_names() {
    static const std::vector<std::string_view> names = {"available", "away",    "busy",          "dnd",
                                                        "offline",   "unknown", "not_configured"};
    return names;
}

const std::vector<std::string_view>& telephony_state_names() {
    static const std::vector<std::string_view> names = {"idle", "ringing", "dialing", "busy",
                                                        "held", "offline", "unknown", "not_configured"};
    return names;
}

std::string_view kind_name(Kind k) { return k == Kind::rich ? "rich" : "telephony"; }
std::string_view state_name(RichState s) { return rich_state_names()[static_cast<size_t>(s)]; }
std::string_view state_name(TelephonyState s) { return telephony_state_names()[static_cast<size_t>(s)]; }

std::optional<RichState> parse_rich_state(std::string_view name) {
    const auto& names = rich_state_names();
    for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return static_cast<RichState>(i);
    return std::nullopt;
}

std::optional<TelephonyState> parse_telephony_state(std::string_view name) {
    const auto& names = telephony_state_names();
    for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return static_cast<TelephonyState>(i);
    return std::nullopt;
}

}  // namespace presenced::presence
