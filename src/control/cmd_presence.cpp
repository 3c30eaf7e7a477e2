// user, subscribe and watch: one user's presence with every source behind
// it, the forced subscribe of the seed's diagnostics, and the stream of
// changes. The daemon owns the state; these only check arguments and shape.
#include <algorithm>
#include <set>

#include "control/commands.hpp"
#include "control/presence_json.hpp"
#include "util/text.hpp"

namespace presenced::control {

namespace {

// subscribe --seconds: at least one second, at most a day (a forced
// subscription is a diagnostic, not a way to hold a user for good).
constexpr long long kMinForceSeconds = 1;
constexpr long long kMaxForceSeconds = 86'400;

util::Error no_such_user(std::string_view username) {
    return make_error(Errc::not_found, util::cat("no user \"", util::escape_control(username), "\""));
}

}  // namespace

util::Result<json> cmd_user(Services& s, const Args& args) {
    if (auto st = args.only({"username"}); !st) return st.error();
    auto username = args.required_string("username");
    if (!username) return username.error();
    auto view = s.user_view(*username);
    if (!view) return no_such_user(*username);
    return user_json(*view, s.now(), /*detail=*/true);
}

util::Result<json> cmd_subscribe(Services& s, const Args& args) {
    if (auto st = args.only({"username", "seconds"}); !st) return st.error();
    auto username = args.required_string("username");
    if (!username) return username.error();
    auto seconds = args.integer("seconds", s.config().presence.force_subscribe_seconds);
    if (!seconds) return seconds.error();
    if (*seconds < kMinForceSeconds || *seconds > kMaxForceSeconds)
        return make_error(Errc::invalid_argument, util::cat("seconds must be from ", kMinForceSeconds, " to ",
                                                            kMaxForceSeconds, ", not ", *seconds));
    // Checked here as well, so an unknown name is not_found whatever the
    // presence service makes of it.
    if (s.directory().find(*username) == nullptr) return no_such_user(*username);
    auto report = s.force_subscribe(*username, static_cast<int>(*seconds));
    if (!report) return pass_through(report.error());
    json results = json::array();
    for (const auto& r : report->results)
        results.push_back(
            {{"kind", r.kind}, {"connector", r.connector}, {"action", r.action}, {"subscription", r.subscription}});
    return json{{"username", report->username}, {"seconds", report->seconds}, {"results", std::move(results)}};
}

util::Result<json> cmd_watch(Services& s, const Args& args, Session& session) {
    if (auto st = args.only({"users"}); !st) return st.error();
    auto given = args.strings("users");
    if (!given) return given.error();
    // Each name once, in the order given; every one must exist, or nothing
    // is registered (the connection's previous watch, if any, stays).
    std::vector<std::string> names;
    std::vector<std::string> unknown;
    for (const auto& name : *given) {
        if (std::find(names.begin(), names.end(), name) != names.end()) continue;
        names.push_back(name);
        if (s.directory().find(name) == nullptr) unknown.push_back(util::cat("\"", util::escape_control(name), "\""));
    }
    if (!unknown.empty())
        return make_error(Errc::not_found,
                          util::cat(unknown.size() == 1 ? "no user " : "no users ", util::join(unknown, ", ")));

    // The sink filters presence events by name itself, so a connection never
    // gets a line about a user it did not ask for whatever the service sends.
    std::set<std::string> wanted(names.begin(), names.end());
    Session* target = &session;  // valid until unwatch: the server ends the watch before the session goes
    auto id = s.watch(names, [target, wanted = std::move(wanted)](const presence::Event& e) {
        if (e.type == presence::Event::Type::presence && !wanted.empty() && wanted.count(e.username) == 0) return;
        target->send_event(event_line(e));
    });
    if (!id) return pass_through(id.error());
    session.set_watch(*id);
    return json{{"watching", names.empty() ? json("all") : json(names)}};
}

}  // namespace presenced::control
