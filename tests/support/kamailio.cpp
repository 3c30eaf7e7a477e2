// Starts and stops scripts/kamailio for a test; see kamailio.hpp.
#include "support/kamailio.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

namespace presenced::test {

namespace {
constexpr int kKamailioStartMs = 30'000;
// stop.sh waits at most ~11 s (SIGTERM, then SIGKILL to the group).
constexpr int kKamailioStopMs = 20'000;
// publish.sh gives SIPp 10 s, and may publish twice (after a 412).
constexpr int kPublishMs = 30'000;
// What each start writes into kamailio.log before Kamailio's own lines.
constexpr std::string_view kStartMarker = "===== start.sh ";
constexpr std::string_view kRequestMarker = "fixture: REQ ";
// RFC 4662 section 4.1: the option tag a list subscriber puts in Supported
constexpr std::string_view kEventlistTag = "eventlist";

std::string value_of(const std::string& text, const std::string& key) {
    const auto pos = text.find(key + "=");
    if (pos == std::string::npos) return {};
    const auto end = text.find('\n', pos);
    return text.substr(pos + key.size() + 1, end == std::string::npos ? std::string::npos : end - pos - key.size() - 1);
}

// A line is "... fixture: REQ METHOD R-URI src=IP:PORT/PROTO ftag=.. totag=..
// event=.. expires=.. callid=.. supported=.. t=SEC.USEC"
// (scripts/kamailio/kamailio.cfg); fields are matched by key, so lines of
// fixtures without supported= still parse.
std::optional<FixtureRequest> parse_request(const std::string& line) {
    const auto at = line.find(kRequestMarker);
    if (at == std::string::npos) return std::nullopt;
    std::istringstream words(line.substr(at + kRequestMarker.size()));
    FixtureRequest r;
    if (!(words >> r.method >> r.request_uri)) return std::nullopt;
    for (std::string word; words >> word;) {
        const auto eq = word.find('=');
        if (eq == std::string::npos) continue;
        const std::string key = word.substr(0, eq), value = word.substr(eq + 1);
        if (key == "src")
            r.transport = value.substr(value.rfind('/') + 1);
        else if (key == "ftag")
            r.from_tag = value;
        else if (key == "totag")
            r.to_tag = value;
        else if (key == "event")
            r.event = value;
        else if (key == "expires")
            r.expires = value;
        else if (key == "callid")
            r.call_id = value;
        else if (key == "supported")
            r.supported = value;
        else if (key == "t")
            r.at = std::strtod(value.c_str(), nullptr);
    }
    return r;
}

}  // namespace

Kamailio::Kamailio(const std::string& mode, const std::vector<std::string>& defines) : mode_(mode), defines_(defines) {
    start({});
}

Kamailio::~Kamailio() {
    stop();
    std::error_code ignored;  // a destructor must not throw
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

void Kamailio::start(const std::vector<std::string>& extra_args) {
    std::vector<std::string> argv = {PROJECT_SOURCE_DIR "/scripts/kamailio/start.sh", "-m", mode_};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    for (const auto& d : defines_) {
        argv.push_back("-A");
        argv.push_back(d);
    }
    const RunResult r = run(argv, kKamailioStartMs);
    if (r.exit_code != 0) throw std::runtime_error("kamailio fixture did not start:\n" + r.out + r.err);
    dir_ = value_of(r.out, "KAMAILIO_DIR");
    port_ = std::stoi(value_of(r.out, "KAMAILIO_PORT"));
    running_ = true;
}

void Kamailio::stop() {
    if (!running_) return;
    running_ = false;
    run({PROJECT_SOURCE_DIR "/scripts/kamailio/stop.sh", dir_}, kKamailioStopMs);
}

void Kamailio::kill() {
    if (!running_) return;
    running_ = false;
    run({PROJECT_SOURCE_DIR "/scripts/kamailio/stop.sh", "--kill", dir_}, kKamailioStopMs);
}

void Kamailio::restart() {
    stop();
    // Same dir (its DBs and log) and same port: the daemon's subscriptions
    // and probes keep going to the address they know.
    start({"-d", dir_, "-p", std::to_string(port_)});
}

int Kamailio::publish(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {PROJECT_SOURCE_DIR "/scripts/publish.sh", "-d", dir_};
    argv.insert(argv.end(), args.begin(), args.end());
    const RunResult r = run(argv, kPublishMs);
    const std::string key = "PUBLISH-RESULT ";
    const auto at = r.out.find(key);
    if (at == std::string::npos) return 0;
    return std::atoi(r.out.c_str() + at + key.size());
}

std::string Kamailio::log() const {
    std::ifstream in(dir_ + "/kamailio.log");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

size_t Kamailio::requests(const std::string& method) const { return count_of(log(), "fixture: REQ " + method + " "); }

size_t Kamailio::requests_to(const std::string& method, const std::string& user, const std::string& transport) const {
    size_t n = 0;
    for (const FixtureRequest& r : received())
        if (r.method == method && r.to_user(user) && (transport.empty() || r.transport == transport)) ++n;
    return n;
}

std::vector<FixtureRequest> Kamailio::received(bool since_last_start) const {
    std::string text = log();
    if (since_last_start) {
        const auto at = text.rfind(kStartMarker);
        if (at != std::string::npos) text.erase(0, at);
    }
    std::vector<FixtureRequest> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        if (auto r = parse_request(line)) out.push_back(std::move(*r));
    return out;
}

bool FixtureRequest::to_user(const std::string& user) const { return request_uri.rfind("sip:" + user + "@", 0) == 0; }

bool FixtureRequest::eventlist() const {
    // option tags are case-insensitive tokens separated by commas (RFC 3261 section 20.37)
    std::istringstream tags(supported);
    for (std::string tag; std::getline(tags, tag, ',');) {
        if (tag.size() != kEventlistTag.size()) continue;
        bool same = true;
        for (size_t i = 0; i < tag.size() && same; ++i)
            same = std::tolower(static_cast<unsigned char>(tag[i])) == kEventlistTag[i];
        if (same) return true;
    }
    return false;
}

int closed_port() {
    // Bind port 0 for TCP, note the number, close: nothing listens there
    // afterwards (the kernel does not hand it out again at once).
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

}  // namespace presenced::test
