// The normalised presence states shown to people and scripts (product.md).
// Names are part of the control protocol and the man pages.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace presenced::presence {

enum class Kind { rich, telephony };
inline constexpr Kind kKinds[] = {Kind::rich, Kind::telephony};

// "not_configured" is a state of its own: the user lacks the URI for that
// kind of presence, which is not the same as an unknown state.
enum class RichState { available, away, busy, dnd, offline, unknown, not_configured };
enum class TelephonyState { idle, ringing, dialing, busy, held, offline, unknown, not_configured };

std::string_view kind_name(Kind k);
std::string_view state_name(RichState s);
std::string_view state_name(TelephonyState s);
std::optional<RichState> parse_rich_state(std::string_view name);
std::optional<TelephonyState> parse_telephony_state(std::string_view name);
const std::vector<std::string_view>& rich_state_names();
const std::vector<std::string_view>& telephony_state_names();

}  // namespace presenced::presence
