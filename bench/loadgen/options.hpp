// Command line of presence_loadgen (the harness bench/bench.py relies on it).
#pragma once

#include <cstdint>
#include <string>

namespace loadgen {

enum class Order { round_robin, random };
enum class BodyMode { pidf, dialog, mix };

struct Options {
    std::string listen_ip = "127.0.0.1";
    uint16_t listen_port = 0;
    bool digest = false;
    std::string auth_user = "loadgen";
    std::string auth_password = "loadgen";
    uint32_t expires = 3600;  // granted at most (RFC 6665 §4.2.1.1)
    uint64_t expect = 1;
    double subscribe_timeout_s = 120;
    uint64_t notifies = 0;
    double rate = 0;  // NOTIFYs per second; 0 = as fast as the window allows
    uint32_t window = 256;
    double duration_s = 60;
    Order order = Order::round_robin;
    BodyMode body = BodyMode::mix;
    std::string watch;  // presenced's control socket
    double hold_s = 0;
    double max_seconds = 600;
    double timeout_s = 32;   // 64*T1: a NOTIFY transaction gives up (RFC 3261 §17.1.2.2)
    bool busy_poll = false;  // spin instead of sleeping during the load phase
    bool verbose = false;
    // Resource list (RFC 4662): SUBSCRIBEs to list_uri are served as a list
    // of list_members presentities sip:<prefix>K@<domain>, K < list_members
    // (0 = --expect), the users bench/bench.py creates.
    std::string list_uri;
    uint64_t list_members = 0;
    std::string list_domain = "127.0.0.1";
    std::string list_prefix = "u";
    uint32_t list_chunk = 500;            // member states per list NOTIFY at most
    uint64_t list_max_body = 768 * 1024;  // bytes per list NOTIFY body, soft (presenced: 1 MiB by default)
    double stats_interval_s = 0;          // a `stats` line every S seconds (0 = none)
};

// Parses argv into out. On error or --help, fills message and returns false
// (help sets exit_code 0, an error 1).
bool parse_options(int argc, char** argv, Options& out, std::string& message, int& exit_code);

}  // namespace loadgen
