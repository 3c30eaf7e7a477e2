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
};

// Parses argv into out. On error or --help, fills message and returns false
// (help sets exit_code 0, an error 1).
bool parse_options(int argc, char** argv, Options& out, std::string& message, int& exit_code);

}  // namespace loadgen
