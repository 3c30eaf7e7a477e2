// presenced(8): parse options, check or load the config, run the daemon.
#include <cstdio>
#include <iostream>

#include "presenced/daemon.hpp"
#include "util/log.hpp"

using namespace presenced;

int main(int argc, char** argv) {
    auto options = daemon::parse_options(argc, argv);
    if (!options) {
        std::cerr << "presenced: " << options.error().message << "\n" << daemon::usage_text();
        return 1;
    }
    if (options->help) {
        std::cout << daemon::usage_text();
        return 0;
    }
    auto loaded = config::load_file(options->config_file);
    if (!loaded.ok()) {
        for (const auto& e : loaded.errors) std::cerr << e.str() << "\n";
        if (!options->check_only) std::cerr << "presenced: configuration has errors, not starting\n";
        return 1;
    }
    if (options->check_only) {
        if (options->verbose > 0)
            std::cout << config::print_effective(*loaded.config);
        else
            std::cerr << "configuration OK\n";
        return 0;
    }
    daemon::Daemon d(*options, loaded.config);
    return d.run();
}
