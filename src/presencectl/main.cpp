// presencectl(8): the control tool. Parses the command line, sends one
// request, renders the answer. Exit status: 0 ok, 1 daemon error, 2 usage,
// 3 daemon not running.
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <iostream>
#include <map>
#include <vector>

#include "build_info.hpp"
#include "control/wire.hpp"
#include "presencectl/client.hpp"
#include "presencectl/render.hpp"
#include "util/text.hpp"

using namespace presenced;
using ctl::json;

namespace {

constexpr int kExitOk = 0, kExitDaemonError = 1, kExitUsage = 2, kExitNotRunning = 3;
constexpr int kAnswerTimeoutMs = 30'000;

const char* kUsage =
    "usage: presencectl [-hjq] [-s socket] command [arguments]\n"
    "commands:\n"
    "  version\n"
    "  status\n"
    "  connectors\n"
    "  users [--user TEXT] [--rich STATE] [--telephony STATE]\n"
    "  reload\n";

int usage(const std::string& message) {
    if (!message.empty()) std::cerr << "presencectl: " << message << "\n";
    std::cerr << kUsage;
    return kExitUsage;
}

// Turns "users --user al --rich away" into the request's args; each command
// lists the options it takes, all of the form --name VALUE.
bool parse_command(const std::vector<std::string>& words, std::string& cmd, json& args, std::string& error) {
    static const std::map<std::string, std::vector<std::string>> kOptions = {
        {"version", {}}, {"status", {}}, {"connectors", {}}, {"users", {"user", "rich", "telephony"}}, {"reload", {}},
    };
    cmd = words[0];
    auto known = kOptions.find(cmd);
    if (known == kOptions.end()) {
        error = "unknown command: " + cmd;
        return false;
    }
    args = json::object();
    for (size_t i = 1; i < words.size(); ++i) {
        const std::string& w = words[i];
        if (w.rfind("--", 0) != 0) {
            error = util::cat(cmd, ": unexpected argument ", w);
            return false;
        }
        const std::string name = w.substr(2);
        bool allowed = false;
        for (const auto& o : known->second) allowed = allowed || o == name;
        if (!allowed) {
            error = util::cat(cmd, ": unknown option ", w);
            return false;
        }
        if (i + 1 >= words.size()) {
            error = util::cat(cmd, ": option ", w, " needs a value");
            return false;
        }
        args[name] = words[++i];
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    bool json_out = false, quiet = false;
    std::string socket_path = build::default_socket;
    if (const char* env = std::getenv("PRESENCECTL_SOCKET"); env && *env) socket_path = env;

    int ch;
    opterr = 0;
    // '+': stop at the command, so its own --options are not taken for ours.
    while ((ch = getopt(argc, argv, "+hjqs:")) != -1) {
        switch (ch) {
            case 'h':
                std::cout << kUsage;
                return kExitOk;
            case 'j':
                json_out = true;
                break;
            case 'q':
                quiet = true;
                break;
            case 's':
                socket_path = optarg;
                break;
            case '?':
                return usage(optopt == 's' ? "option -s needs a socket path"
                                           : std::string("unknown option -") + static_cast<char>(optopt));
            default:
                return usage("");
        }
    }
    if (optind >= argc) return usage("no command given");
    std::vector<std::string> words(argv + optind, argv + argc);

    std::string cmd, error;
    json args;
    if (!parse_command(words, cmd, args, error)) return usage(error);

    ctl::Client client;
    switch (client.connect(socket_path, error)) {
        case ctl::ConnectFailure::none:
            break;
        case ctl::ConnectFailure::not_running:
            std::cerr << "presencectl: presenced is not running (" << error << ")\n";
            return kExitNotRunning;
        case ctl::ConnectFailure::other:
            std::cerr << "presencectl: cannot connect to presenced: " << error << "\n";
            return kExitDaemonError;
    }

    const json request = {{"v", control::kProtocolVersion}, {"id", 1}, {"cmd", cmd}, {"args", args}};
    json answer;
    if (!client.call(request, answer, kAnswerTimeoutMs, error)) {
        std::cerr << "presencectl: " << error << "\n";
        return kExitDaemonError;
    }
    if (!answer.value("ok", false)) {
        const json err = answer.value("error", json::object());
        const std::string code = err.is_object() ? err.value("code", "internal") : "internal";
        const std::string message = err.is_object() ? err.value("message", "") : "";
        std::cerr << "presencectl: " << message << " (" << code << ")\n";
        if (json_out) std::cout << json{{"error", err}}.dump(2) << "\n";
        return kExitDaemonError;
    }
    if (quiet) return kExitOk;
    const json result = answer.value("result", json::object());
    if (json_out)
        std::cout << result.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    else
        std::cout << ctl::render_text(cmd, result, std::time(nullptr));
    return kExitOk;
}
