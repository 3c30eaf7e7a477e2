// JSON shapes of the presence views (users, user) and of the watch stream's
// events. Shared by cmd_users.cpp and cmd_presence.cpp so both commands
// show one user the same way; presencectl(8) documents every key.
#pragma once

#include <ctime>
#include <string>

#include "control/protocol.hpp"
#include "presence/view.hpp"

namespace presenced::control {

// Relative times in answers: -1 for "never" / "none scheduled".
inline constexpr long long kNoTime = -1;

// One user as `users` lists it. With detail (`user`): also forced,
// forced_remaining_s, watchers, and each kind's sources. now is
// Services::now(), for the sources' relative times.
json user_json(const presence::UserView& view, std::time_t now, bool detail);

// One line of the watch stream (an object without "id").
json event_json(const presence::Event& event);
// The same, serialised (no newline); invalid UTF-8 is replaced, never thrown.
std::string event_line(const presence::Event& event);

}  // namespace presenced::control
