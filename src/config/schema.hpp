// Internal: turns a parsed TOML document into a Config, checking every key.
#pragma once

#include <toml++/toml.h>

#include "config/config.hpp"

namespace presenced::config::detail {

LoadOutcome build_config(const toml::table& root, const std::string& file);

}  // namespace presenced::config::detail
