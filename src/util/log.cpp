// stderr log sink: "LEVEL: message", optionally prefixed by a UTC timestamp.
#include "util/log.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace presenced::log {
namespace {

constexpr std::array<std::string_view, 5> kLevelNames = {"error", "warn", "info", "debug", "trace"};
Level g_level = Level::info;
bool g_timestamps = false;

}  // namespace

std::optional<Level> parse_level(std::string_view name) {
    for (size_t i = 0; i < kLevelNames.size(); ++i)
        if (kLevelNames[i] == name) return static_cast<Level>(i);
    return std::nullopt;
}

std::string_view level_name(Level level) { return kLevelNames[static_cast<size_t>(level)]; }

void configure(Level level, bool timestamps) {
    g_level = level;
    g_timestamps = timestamps;
}

Level level() { return g_level; }

bool enabled(Level level) { return level <= g_level; }

void write(Level level, std::string_view message) {
    std::string line;
    if (g_timestamps) {
        const auto now = std::chrono::system_clock::now();
        const std::time_t secs = std::chrono::system_clock::to_time_t(now);
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
        std::tm tm{};
        gmtime_r(&secs, &tm);
        char stamp[64];
        std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
        line += stamp;
    }
    line += level_name(level);
    line += ": ";
    line += util::escape_control(message);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace presenced::log
