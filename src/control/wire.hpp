// Wire types of the control protocol, shared by the daemon and presencectl
// (one header, as bgpd/bgpctl do). The protocol version changes only when an
// existing field changes meaning; new commands and fields are additive and
// clients ignore fields they do not know.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace presenced::control {

inline constexpr int kProtocolVersion = 1;
inline constexpr size_t kMaxLineBytes = size_t{64} * 1024;  // one request or answer line, without the newline

// The closed set of error.code values (presencectl(8) lists them).
enum class Errc {
    bad_request,
    unknown_command,
    version_mismatch,
    not_found,
    invalid_argument,
    config_error,
    busy,
    internal
};

inline const std::vector<std::string_view>& error_code_names() {
    static const std::vector<std::string_view> names = {"bad_request", "unknown_command",  "version_mismatch",
                                                        "not_found",   "invalid_argument", "config_error",
                                                        "busy",        "internal"};
    return names;
}

inline std::string_view errc_name(Errc e) { return error_code_names()[static_cast<size_t>(e)]; }

}  // namespace presenced::control
