// users: the directory with each user's presence per kind, with the seed's
// diagnostic filters (text, rich state, telephony state).
#include "control/commands.hpp"
#include "util/text.hpp"

namespace presenced::control {

namespace {

template <class State>
json kind_json(State state) {
    return json{{"state", presence::state_name(state)}};
}

json user_json(const presence::UserEntry& u) {
    return json{
        {"username", u.username},     {"display_name", u.display_name},
        {"department", u.department}, {"extension", u.extension},
        {"rich_uri", u.rich_uri},     {"telephony_uri", u.telephony_uri},
        {"rich", kind_json(u.rich)},  {"telephony", kind_json(u.telephony)},
    };
}

}  // namespace

util::Result<json> cmd_users(Services& s, const Args& args) {
    if (auto st = args.only({"user", "rich", "telephony"}); !st) return st.error();
    auto text = args.string("user");
    if (!text) return text.error();
    auto rich = args.string("rich");
    if (!rich) return rich.error();
    auto telephony = args.string("telephony");
    if (!telephony) return telephony.error();

    std::optional<presence::RichState> rich_filter;
    std::optional<presence::TelephonyState> telephony_filter;
    if (!rich->empty() && !(rich_filter = presence::parse_rich_state(*rich)))
        return make_error(
            Errc::invalid_argument,
            util::cat("unknown rich state \"", util::escape_control(*rich), "\"; one of: ",
                      util::join({presence::rich_state_names().begin(), presence::rich_state_names().end()}, ", ")));
    if (!telephony->empty() && !(telephony_filter = presence::parse_telephony_state(*telephony)))
        return make_error(
            Errc::invalid_argument,
            util::cat("unknown telephony state \"", util::escape_control(*telephony), "\"; one of: ",
                      util::join({presence::telephony_state_names().begin(), presence::telephony_state_names().end()},
                                 ", ")));

    json rows = json::array();
    for (const auto& u : s.directory().users()) {
        if (!presence::matches_text(u, *text)) continue;
        if (rich_filter && u.rich != *rich_filter) continue;
        if (telephony_filter && u.telephony != *telephony_filter) continue;
        rows.push_back(user_json(u));
    }
    return json{{"users", std::move(rows)}};
}

}  // namespace presenced::control
