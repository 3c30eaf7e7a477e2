// Waiting on a running daemon's presence, shared by the peer tests:
// polling with a deadline (never a fixed sleep), a user's answer, and the
// end of the daemon's log for failure messages.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "support/daemon_fixture.hpp"

namespace presenced::test {

inline constexpr int kPresencePollMs = 50;  // poll interval, not a wait for an event
inline constexpr size_t kLogTailBytes = 4'000;

// Calls done every kPresencePollMs until it returns true (true) or
// timeout_ms passed (false).
bool poll_until(const std::function<bool()>& done, int timeout_ms);
// The last kLogTailBytes of text.
std::string tail(const std::string& text);
double seconds_since(std::chrono::steady_clock::time_point start);
// `user name` as JSON (the result).
json user_of(const DaemonFixture& d, const std::string& name);
// Polls `user name` until pred holds and returns that answer; fails the test
// with the last answer and the daemon's log otherwise.
json wait_user(const DaemonFixture& d, const std::string& name, const std::function<bool(const json&)>& pred,
               int timeout_ms);

}  // namespace presenced::test
