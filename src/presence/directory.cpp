// Builds the user directory from the configuration.
#include "presence/directory.hpp"

#include "util/text.hpp"

#include <algorithm>
#include <unordered_set>

namespace presenced::presence {

Directory Directory::from_config(const config::Config& config, const std::vector<config::User>& extra) {
    Directory d;
    d.users_.reserve(config.users.size() + extra.size());
    std::unordered_set<std::string> seen;
    for (const auto* list : {&config.users, &extra})
        for (const auto& u : *list) {
            if (!seen.insert(u.username).second) continue;
            UserEntry e;
            e.username = u.username;
            e.display_name = u.display_name;
            e.department = u.department;
            e.extension = u.extension;
            e.rich_uri = u.rich_uri;
            e.telephony_uri = config.resolved_telephony_uri(u);
            e.rich = e.rich_uri.empty() ? RichState::not_configured : RichState::unknown;
            e.telephony = e.telephony_uri.empty() ? TelephonyState::not_configured : TelephonyState::unknown;
            d.users_.push_back(std::move(e));
        }
    return d;
}

const UserEntry* Directory::find(std::string_view username) const {
    for (const auto& u : users_)
        if (u.username == username) return &u;
    return nullptr;
}

namespace {
bool contains_ci(std::string_view hay, std::string_view needle) {
    auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                          [](char a, char b) { return util::ascii_lower(a) == util::ascii_lower(b); });
    return it != hay.end();
}
}  // namespace

bool matches_text(const UserEntry& user, std::string_view needle) {
    if (needle.empty()) return true;
    return contains_ci(user.username, needle) || contains_ci(user.display_name, needle) ||
           contains_ci(user.department, needle);
}

}  // namespace presenced::presence
