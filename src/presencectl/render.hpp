// Text renderers: the daemon sends data, presencectl shapes it for people.
#pragma once

#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

namespace presenced::ctl {

using json = nlohmann::json;

// Renders a command's result for a terminal; now is used for relative times.
std::string render_text(const std::string& command, const json& result, std::time_t now);

}  // namespace presenced::ctl
