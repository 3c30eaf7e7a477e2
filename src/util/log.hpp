// Logging to stderr with levels; one process-wide sink. Messages are
// escaped so nothing from the network can forge a log line.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/text.hpp"

namespace presenced::log {

enum class Level { error = 0, warn, info, debug, trace };

std::optional<Level> parse_level(std::string_view name);
std::string_view level_name(Level level);

// timestamps: off under systemd (journald stamps lines itself), on with -d.
void configure(Level level, bool timestamps);
Level level();
bool enabled(Level level);
void write(Level level, std::string_view message);

template <class... Args>
void error(const Args&... a) {
    if (enabled(Level::error)) write(Level::error, util::cat(a...));
}
template <class... Args>
void warn(const Args&... a) {
    if (enabled(Level::warn)) write(Level::warn, util::cat(a...));
}
template <class... Args>
void info(const Args&... a) {
    if (enabled(Level::info)) write(Level::info, util::cat(a...));
}
template <class... Args>
void debug(const Args&... a) {
    if (enabled(Level::debug)) write(Level::debug, util::cat(a...));
}
template <class... Args>
void trace(const Args&... a) {
    if (enabled(Level::trace)) write(Level::trace, util::cat(a...));
}

}  // namespace presenced::log
