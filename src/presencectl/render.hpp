// Text renderers: the daemon sends data, presencectl shapes it for people.
#pragma once

#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

namespace presenced::ctl {

using json = nlohmann::json;

// Renders a command's result for a terminal; now is used for relative times.
std::string render_text(const std::string& command, const json& result, std::time_t now);

// `user NAME`: "key: value" lines, one block per kind (render_user.cpp).
std::string render_user(const json& result, std::time_t now);

// One line (with its newline) for one event of the watch stream; "" for a
// line that is not an event presencectl knows (a newer daemon's).
std::string render_event(const json& event);

}  // namespace presenced::ctl
