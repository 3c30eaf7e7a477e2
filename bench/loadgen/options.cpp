// Command line parsing of presence_loadgen; see options.hpp.
#include "options.hpp"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <string_view>

namespace loadgen {
namespace {

constexpr std::string_view kUsage =
    "usage: presence_loadgen [options]\n"
    "  --listen IP:PORT          UDP+TCP address to serve (default 127.0.0.1:0, 0 = ephemeral)\n"
    "  --digest                  challenge the first SUBSCRIBE of each dialog (401, MD5, qop=auth)\n"
    "  --auth USER:PASSWORD      credentials the digest must prove (default loadgen:loadgen)\n"
    "  --expires S               subscription duration granted at most (default 3600)\n"
    "  --expect N                dialogs to wait for before the load phase (default 1)\n"
    "  --subscribe-timeout S     start the load phase anyway after S seconds (default 120)\n"
    "  --notifies M              NOTIFYs to send in the load phase (default 0: none)\n"
    "  --rate R                  NOTIFYs per second (default 0: as fast as the window allows)\n"
    "  --window W                NOTIFYs outstanding at most, in total (default 256)\n"
    "  --duration S              load phase at most S seconds (default 60)\n"
    "  --order rr|random         which dialog gets the next NOTIFY (default rr)\n"
    "  --body pidf|dialog|mix    NOTIFY bodies; mix follows the dialog's event package (default)\n"
    "  --watch SOCKET            measure NOTIFY -> watch event latency on presenced's control socket\n"
    "  --hold S                  keep serving S seconds after the load phase (default 0)\n"
    "  --timeout S               give a NOTIFY up after S seconds (default 32 = 64*T1)\n"
    "  --max-seconds S           bound of the whole run (default 600)\n"
    "  --busy-poll               poll without sleeping during the load phase (one core spins; no\n"
    "                            wake-up cost on either side, as perf-limits.md scenario A)\n"
    "  --list URI                serve URI as a resource list (RFC 4662) of the members below\n"
    "  --list-members N          list members sip:<prefix>K@<domain>, K < N (default: --expect)\n"
    "  --list-domain HOST        host of the member URIs (default 127.0.0.1)\n"
    "  --list-prefix P           user part prefix of the member URIs (default u)\n"
    "  --list-chunk K            member states per list NOTIFY at most (default 500)\n"
    "  --list-max-body BYTES     list NOTIFY body size aimed at (default 786432; one state at least)\n"
    "  --stats S                 print a `stats` line (counters, SIP messages) every S seconds\n"
    "  -v, --verbose             log every SUBSCRIBE on stderr\n"
    "Output: one JSON object per line on stdout; a human-readable log on stderr.\n";

// Beyond this a member count is a typo, not a benchmark (a few bytes per member and list dialog).
constexpr uint64_t kMaxListMembers = 10'000'000;

// The options that take a value.
constexpr std::string_view kValued[] = {
    "--listen",        "--auth",         "--expires",     "--expect",      "--subscribe-timeout",
    "--notifies",      "--rate",         "--window",      "--duration",    "--order",
    "--body",          "--watch",        "--hold",        "--timeout",     "--max-seconds",
    "--list",          "--list-members", "--list-domain", "--list-prefix", "--list-chunk",
    "--list-max-body", "--stats"};

bool to_double(std::string_view text, double& out) {
    const std::string s(text);
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return !s.empty() && end && *end == '\0' && out >= 0;
}

bool to_u64(std::string_view text, uint64_t& out) {
    if (text.empty()) return false;
    uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9' || v > UINT64_MAX / 10 - 9) return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    out = v;
    return true;
}

bool parse_listen(std::string_view text, Options& o) {
    const size_t colon = text.rfind(':');
    uint64_t port = 0;
    if (colon == std::string_view::npos || !to_u64(text.substr(colon + 1), port) || port > UINT16_MAX) return false;
    o.listen_ip = std::string(text.substr(0, colon));
    o.listen_port = static_cast<uint16_t>(port);
    return !o.listen_ip.empty();
}

}  // namespace

bool parse_options(int argc, char** argv, Options& o, std::string& message, int& exit_code) {
    exit_code = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            message = kUsage;
            exit_code = 0;
            return false;
        }
        if (arg == "--digest") {
            o.digest = true;
            continue;
        }
        if (arg == "--busy-poll") {
            o.busy_poll = true;
            continue;
        }
        if (arg == "-v" || arg == "--verbose") {
            o.verbose = true;
            continue;
        }
        if (std::find(std::begin(kValued), std::end(kValued), arg) == std::end(kValued)) {
            message = "presence_loadgen: unknown option " + std::string(arg) + "\n" + std::string(kUsage);
            return false;
        }
        if (i + 1 >= argc) {
            message = "presence_loadgen: " + std::string(arg) + " needs a value\n";
            return false;
        }
        const std::string_view value = argv[++i];
        uint64_t u = 0;
        double d = 0;
        bool ok = true;
        if (arg == "--listen") {
            ok = parse_listen(value, o);
        } else if (arg == "--auth") {
            const size_t colon = value.find(':');
            ok = colon != std::string_view::npos && colon > 0;
            if (ok) {
                o.auth_user = std::string(value.substr(0, colon));
                o.auth_password = std::string(value.substr(colon + 1));
            }
        } else if (arg == "--expires") {
            ok = to_u64(value, u) && u > 0 && u <= UINT32_MAX;
            o.expires = static_cast<uint32_t>(u);
        } else if (arg == "--expect") {
            ok = to_u64(value, o.expect);
        } else if (arg == "--notifies") {
            ok = to_u64(value, o.notifies);
        } else if (arg == "--window") {
            ok = to_u64(value, u) && u > 0 && u <= UINT32_MAX;
            o.window = static_cast<uint32_t>(u);
        } else if (arg == "--order") {
            ok = value == "rr" || value == "random" || value == "round-robin";
            o.order = value == "random" ? Order::random : Order::round_robin;
        } else if (arg == "--body") {
            ok = value == "pidf" || value == "dialog" || value == "mix";
            o.body = value == "pidf" ? BodyMode::pidf : value == "dialog" ? BodyMode::dialog : BodyMode::mix;
        } else if (arg == "--watch") {
            o.watch = std::string(value);
            ok = !o.watch.empty();
        } else if (arg == "--list") {
            o.list_uri = std::string(value);
            ok = value.substr(0, 4) == "sip:" && value.find('@') != std::string_view::npos;
        } else if (arg == "--list-members") {
            ok = to_u64(value, o.list_members) && o.list_members <= kMaxListMembers;
        } else if (arg == "--list-domain" || arg == "--list-prefix") {
            (arg == "--list-domain" ? o.list_domain : o.list_prefix) = std::string(value);
            ok = arg == "--list-prefix" || !value.empty();
        } else if (arg == "--list-chunk") {
            ok = to_u64(value, u) && u > 0 && u <= UINT32_MAX;
            o.list_chunk = static_cast<uint32_t>(u);
        } else if (arg == "--list-max-body") {
            ok = to_u64(value, o.list_max_body) && o.list_max_body > 0;
        } else if (arg == "--stats") {
            ok = to_double(value, o.stats_interval_s);
        } else if (arg == "--subscribe-timeout" || arg == "--rate" || arg == "--duration" || arg == "--hold" ||
                   arg == "--max-seconds" || arg == "--timeout") {
            ok = to_double(value, d);
            if (arg == "--subscribe-timeout") o.subscribe_timeout_s = d;
            if (arg == "--rate") o.rate = d;
            if (arg == "--duration") o.duration_s = d;
            if (arg == "--hold") o.hold_s = d;
            if (arg == "--max-seconds") o.max_seconds = d;
            if (arg == "--timeout") {
                ok = ok && d > 0;
                o.timeout_s = d;
            }
        } else {
            message = "presence_loadgen: unknown option " + std::string(arg) + "\n" + std::string(kUsage);
            return false;
        }
        if (!ok) {
            message = "presence_loadgen: bad value for " + std::string(arg) + ": " + std::string(value) + "\n";
            return false;
        }
    }
    if (!o.list_uri.empty() && o.list_members == 0) o.list_members = o.expect;
    return true;
}

}  // namespace loadgen
