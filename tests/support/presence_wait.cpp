// See presence_wait.hpp.
#include "support/presence_wait.hpp"

#include <catch2/catch.hpp>

#include <thread>

namespace presenced::test {

bool poll_until(const std::function<bool()>& done, int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (done()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(kPresencePollMs));
    }
}

std::string tail(const std::string& text) {
    return text.size() <= kLogTailBytes ? text : text.substr(text.size() - kLogTailBytes);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

json user_of(const DaemonFixture& d, const std::string& name) { return d.result("user", {{"username", name}}); }

json wait_user(const DaemonFixture& d, const std::string& name, const std::function<bool(const json&)>& pred,
               int timeout_ms) {
    json last;
    if (poll_until([&] { return pred(last = user_of(d, name)); }, timeout_ms)) return last;
    FAIL("user " << name << " never matched within " << timeout_ms << " ms; last:\n"
                 << last.dump(2) << "\ndaemon log:\n"
                 << tail(d.log()));
    return last;
}

}  // namespace presenced::test
