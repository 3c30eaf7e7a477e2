// Reading fields of the daemon's answers leniently: a value the daemon did
// not send (an older or newer daemon) reads as empty or as the fallback,
// never as an error. Shared by the renderers.
#pragma once

#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "util/text.hpp"

namespace presenced::ctl {

using json = nlohmann::json;

// A string, boolean ("yes"/"no") or number as text; "" when absent or null.
inline std::string str(const json& obj, const char* key) {
    if (!obj.is_object()) return {};
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_boolean()) return it->get<bool>() ? "yes" : "no";
    return it->dump();
}

inline long long num(const json& obj, const char* key, long long fallback = 0) {
    if (!obj.is_object()) return fallback;
    auto it = obj.find(key);
    return it != obj.end() && it->is_number_integer() ? it->get<long long>() : fallback;
}

inline bool flag(const json& obj, const char* key, bool fallback = false) {
    if (!obj.is_object()) return fallback;
    auto it = obj.find(key);
    return it != obj.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// A member object, or an empty one.
inline const json& member(const json& obj, const char* key) {
    static const json empty = json::object();
    if (!obj.is_object()) return empty;
    auto it = obj.find(key);
    return it != obj.end() && it->is_object() ? *it : empty;
}

// A member array, or an empty one.
inline const json& list(const json& obj, const char* key) {
    static const json empty = json::array();
    if (!obj.is_object()) return empty;
    auto it = obj.find(key);
    return it != obj.end() && it->is_array() ? *it : empty;
}

// How long ago the epoch time at key was; "" when it is absent or 0.
inline std::string ago(const json& obj, const char* key, std::time_t now) {
    const long long at = num(obj, key, 0);
    if (at <= 0) return {};
    return util::format_duration(now - at);
}

inline std::string utc(long long epoch) {
    const std::time_t t = static_cast<std::time_t>(epoch);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace presenced::ctl
