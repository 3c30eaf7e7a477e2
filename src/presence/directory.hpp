// The users the daemon watches and what is known of each: built from the
// config (later also from CSV imports and the store), read by the control
// commands. Until subscriptions exist every configured kind is "unknown".
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "presence/states.hpp"

namespace presenced::presence {

struct UserEntry {
    std::string username;
    std::string display_name;
    std::string department;
    std::string extension;
    std::string rich_uri;
    std::string telephony_uri;  // resolved (derived from extension + connector domain when empty)
    RichState rich = RichState::unknown;
    TelephonyState telephony = TelephonyState::unknown;
};

class Directory {
public:
    // The config's [[user]] tables, then `extra` (users imported from CSV,
    // in order), skipping any username already present.
    static Directory from_config(const config::Config& config, const std::vector<config::User>& extra = {});

    const std::vector<UserEntry>& users() const { return users_; }
    const UserEntry* find(std::string_view username) const;

private:
    std::vector<UserEntry> users_;
};

// The seed's user filter: a case-insensitive substring of the username,
// display name or department; an empty needle matches everyone.
bool matches_text(const UserEntry& user, std::string_view needle);

}  // namespace presenced::presence
