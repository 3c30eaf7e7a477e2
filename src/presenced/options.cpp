// presenced [-d] [-n] [-v] [-f FILE]
#include "presenced/options.hpp"

#include <unistd.h>

#include "build_info.hpp"
#include "util/text.hpp"

namespace presenced::daemon {

std::string usage_text() { return "usage: presenced [-dhnv] [-f file]\n"; }

util::Result<Options> parse_options(int argc, char** argv) {
    Options o;
    o.config_file = build::default_config;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt(argc, argv, ":df:hnv")) != -1) {
        switch (ch) {
            case 'd':
                o.foreground_debug = true;
                break;
            case 'f':
                o.config_file = optarg;
                break;
            case 'h':
                o.help = true;
                break;
            case 'n':
                o.check_only = true;
                break;
            case 'v':
                ++o.verbose;
                break;
            case ':':
                return util::make_error("usage",
                                        util::cat("option -", static_cast<char>(optopt), " needs an argument"));
            default:
                return util::make_error("usage", util::cat("unknown option -", static_cast<char>(optopt)));
        }
    }
    if (optind < argc) return util::make_error("usage", util::cat("unexpected argument ", argv[optind]));
    return o;
}

}  // namespace presenced::daemon
