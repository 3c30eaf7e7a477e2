// Command-line options of presenced(8).
#pragma once

#include <string>

#include "util/error.hpp"

namespace presenced::daemon {

struct Options {
    std::string config_file;
    bool foreground_debug = false;  // -d: timestamps on log lines (a terminal, not journald)
    bool check_only = false;        // -n
    int verbose = 0;                // -v: with -n print the config; else more logging
    bool help = false;
};

// Returns the options or a usage error message.
util::Result<Options> parse_options(int argc, char** argv);
std::string usage_text();

}  // namespace presenced::daemon
