// users: every user with the presence shown for each kind (the aggregated
// state, presenced(8)), with the seed's diagnostic filters: text, rich
// state, telephony state, matched against what is shown.
#include "control/commands.hpp"
#include "control/presence_json.hpp"
#include "util/text.hpp"

namespace presenced::control {

namespace {

template <class Names>
std::string one_of(const Names& names) {
    return util::join({names.begin(), names.end()}, ", ");
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

    // Validated against the state names, then compared by name: the views
    // carry names, so a filter can never match a misspelt state.
    std::optional<std::string_view> rich_filter, telephony_filter;
    if (!rich->empty()) {
        const auto state = presence::parse_rich_state(*rich);
        if (!state)
            return make_error(Errc::invalid_argument, util::cat("unknown rich state \"", util::escape_control(*rich),
                                                                "\"; one of: ", one_of(presence::rich_state_names())));
        rich_filter = presence::state_name(*state);
    }
    if (!telephony->empty()) {
        const auto state = presence::parse_telephony_state(*telephony);
        if (!state)
            return make_error(Errc::invalid_argument,
                              util::cat("unknown telephony state \"", util::escape_control(*telephony),
                                        "\"; one of: ", one_of(presence::telephony_state_names())));
        telephony_filter = presence::state_name(*state);
    }

    const std::time_t now = s.now();
    json rows = json::array();
    for (const auto& view : s.user_views()) {
        if (!presence::matches_text(view.user, *text)) continue;
        if (rich_filter && view.rich.state != *rich_filter) continue;
        if (telephony_filter && view.telephony.state != *telephony_filter) continue;
        rows.push_back(user_json(view, now, /*detail=*/false));
    }
    return json{{"users", std::move(rows)}};
}

}  // namespace presenced::control
