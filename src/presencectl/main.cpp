// presencectl(8): the control tool. Parses the command line, sends one
// request, renders the answer; `watch` then prints the event stream.
// Exit status: 0 ok, 1 daemon error, 2 usage, 3 daemon not running.
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <ctime>
#include <filesystem>
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
    "  user NAME\n"
    "  subscribe NAME [--seconds N]\n"
    "  watch [NAME...]\n"
    "  note NAME TEXT | note NAME --clear\n"
    "  users import FILE [--partial]\n"
    "  connector restart NAME\n"
    "  reload\n";

int usage(const std::string& message) {
    if (!message.empty()) std::cerr << "presencectl: " << message << "\n";
    std::cerr << kUsage;
    return kExitUsage;
}

// A command's grammar: its --name VALUE options (string or integer
// values) and its words without dashes, sent as one argument.
struct Grammar {
    std::vector<std::string> options;          // string values
    std::vector<std::string> integer_options;  // whole-number values
    enum class Words { none, one, many } words = Words::none;
    std::string words_arg;  // the request argument the words go to
};

const std::map<std::string, Grammar>& grammars() {
    static const std::map<std::string, Grammar> table = {
        {"version", {}},
        {"status", {}},
        {"connectors", {}},
        {"users", {{"user", "rich", "telephony"}, {}, Grammar::Words::none, ""}},
        {"user", {{}, {}, Grammar::Words::one, "username"}},
        {"subscribe", {{}, {"seconds"}, Grammar::Words::one, "username"}},
        {"watch", {{}, {}, Grammar::Words::many, "users"}},
        {"reload", {}},
    };
    return table;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
    for (const auto& x : list)
        if (x == item) return true;
    return false;
}

// The commands of more than one word, or with free text: note, users
// import, connector restart. Returns false when words is none of them.
bool parse_admin(const std::vector<std::string>& words, std::string& cmd, json& args, std::string& error,
                 bool& handled) {
    handled = true;
    args = json::object();
    if (words[0] == "note") {
        cmd = "note";
        if (words.size() < 3) {
            error = "note: a user name and a text (or --clear) are needed";
            return false;
        }
        args["username"] = words[1];
        if (words.size() == 3 && words[2] == "--clear") {
            args["text"] = "";
            return true;
        }
        std::vector<std::string> text(words.begin() + 2, words.end());
        args["text"] = util::join(text, " ");
        return true;
    }
    if (words[0] == "users" && words.size() >= 2 && words[1] == "import") {
        cmd = "import_users";
        bool partial = false;
        std::string file;
        for (size_t i = 2; i < words.size(); ++i) {
            if (words[i] == "--partial")
                partial = true;
            else if (file.empty() && words[i].rfind("--", 0) != 0)
                file = words[i];
            else {
                error = util::cat("users import: unexpected argument ", util::escape_control(words[i]));
                return false;
            }
        }
        if (file.empty()) {
            error = "users import: a CSV file is needed";
            return false;
        }
        // The daemon reads the file: give it an absolute path.
        std::error_code ec;
        const auto absolute = std::filesystem::absolute(file, ec);
        args["path"] = ec ? file : absolute.lexically_normal().string();
        args["partial"] = partial;
        return true;
    }
    if (words[0] == "connector") {
        cmd = "connector_restart";
        if (words.size() != 3 || words[1] != "restart") {
            error = "connector: usage: connector restart NAME";
            return false;
        }
        args["name"] = words[2];
        return true;
    }
    handled = false;
    return false;
}

// Turns "users --user al --rich away" or "subscribe alice --seconds 30"
// into the request's args.
bool parse_command(const std::vector<std::string>& words, std::string& cmd, json& args, std::string& error) {
    bool handled = false;
    const bool admin_ok = parse_admin(words, cmd, args, error, handled);
    if (handled) return admin_ok;
    cmd = words[0];
    auto known = grammars().find(cmd);
    if (known == grammars().end()) {
        error = "unknown command: " + cmd;
        return false;
    }
    const Grammar& g = known->second;
    args = json::object();
    std::vector<std::string> plain;
    for (size_t i = 1; i < words.size(); ++i) {
        const std::string& w = words[i];
        if (w.rfind("--", 0) != 0) {
            plain.push_back(w);
            continue;
        }
        const std::string name = w.substr(2);
        const bool integer = contains(g.integer_options, name);
        if (!integer && !contains(g.options, name)) {
            error = util::cat(cmd, ": unknown option ", w);
            return false;
        }
        if (i + 1 >= words.size()) {
            error = util::cat(cmd, ": option ", w, " needs a value");
            return false;
        }
        const std::string& value = words[++i];
        if (!integer) {
            args[name] = value;
            continue;
        }
        long long n = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || end != value.data() + value.size()) {
            error = util::cat(cmd, ": option ", w, " needs a whole number, not ", util::escape_control(value));
            return false;
        }
        args[name] = n;
    }
    switch (g.words) {
        case Grammar::Words::none:
            if (!plain.empty()) {
                error = util::cat(cmd, ": unexpected argument ", util::escape_control(plain[0]));
                return false;
            }
            break;
        case Grammar::Words::one:
            if (plain.size() != 1) {
                error = plain.empty() ? util::cat(cmd, ": a user name is needed")
                                      : util::cat(cmd, ": unexpected argument ", util::escape_control(plain[1]));
                return false;
            }
            args[g.words_arg] = plain[0];
            break;
        case Grammar::Words::many:
            if (!plain.empty()) args[g.words_arg] = plain;
            break;
    }
    return true;
}

volatile sig_atomic_t interrupted = 0;
void on_interrupt(int) { interrupted = 1; }

// SIGINT ends a watch with status 0. It is blocked except while waiting
// for a line (Client::read_line), so it never interrupts anything else.
sigset_t take_sigint() {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    sigset_t block, previous;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    ::sigprocmask(SIG_BLOCK, &block, &previous);
    sigdelset(&previous, SIGINT);
    return previous;
}

// After the watch answer: one line per event until the daemon hangs up
// (exit 1: the stream ended without being asked to) or SIGINT (exit 0).
int stream_events(ctl::Client& client, bool json_out, bool quiet, const sigset_t& wait_mask) {
    std::string line, why;
    for (;;) {
        switch (client.read_line(line, interrupted, wait_mask, why)) {
            case ctl::Client::Read::line:
                break;
            case ctl::Client::Read::interrupted:
                return kExitOk;
            case ctl::Client::Read::closed:
                std::cerr << "presencectl: the daemon closed the connection\n";
                return kExitDaemonError;
            case ctl::Client::Read::failed:
                std::cerr << "presencectl: " << why << "\n";
                return kExitDaemonError;
        }
        const json event = json::parse(line, nullptr, false);
        // Anything but an event (an answer would carry an id) is not ours to show.
        if (event.is_discarded() || !event.is_object() || !event.contains("event") || event.contains("id")) continue;
        if (quiet) continue;
        if (json_out)
            std::cout << line << std::endl;  // flushed per line: the reader may be a pipe
        else if (const std::string text = ctl::render_event(event); !text.empty())
            std::cout << text << std::flush;
    }
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

    const bool watching = cmd == "watch";
    sigset_t wait_mask{};
    if (watching) wait_mask = take_sigint();

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
    const json result = answer.value("result", json::object());
    // watch -j prints the event lines only: one JSON document per line.
    if (watching) {
        if (!quiet && !json_out) std::cout << ctl::render_text(cmd, result, std::time(nullptr)) << std::flush;
        return stream_events(client, json_out, quiet, wait_mask);
    }
    // users import that changed nothing (bad rows, no --partial) is a failure.
    const int status = cmd == "import_users" && !result.value("applied", false) ? kExitDaemonError : kExitOk;
    if (quiet) return status;
    if (json_out)
        std::cout << result.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    else
        std::cout << ctl::render_text(cmd, result, std::time(nullptr));
    return status;
}
