// Starts and stops scripts/kamailio for a test; see kamailio.hpp.
#include "support/kamailio.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

namespace presenced::test {

namespace {
constexpr int kKamailioStartMs = 30'000;

std::string value_of(const std::string& text, const std::string& key) {
    const auto pos = text.find(key + "=");
    if (pos == std::string::npos) return {};
    const auto end = text.find('\n', pos);
    return text.substr(pos + key.size() + 1, end == std::string::npos ? std::string::npos : end - pos - key.size() - 1);
}
}  // namespace

Kamailio::Kamailio(const std::string& mode, const std::vector<std::string>& defines) {
    std::vector<std::string> argv = {PROJECT_SOURCE_DIR "/scripts/kamailio/start.sh", "-m", mode};
    for (const auto& d : defines) {
        argv.push_back("-A");
        argv.push_back(d);
    }
    const RunResult r = run(argv, kKamailioStartMs);
    if (r.exit_code != 0) throw std::runtime_error("kamailio fixture did not start:\n" + r.out + r.err);
    dir_ = value_of(r.out, "KAMAILIO_DIR");
    port_ = std::stoi(value_of(r.out, "KAMAILIO_PORT"));
    running_ = true;
}

Kamailio::~Kamailio() {
    stop();
    std::error_code ignored;  // a destructor must not throw
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

void Kamailio::stop() {
    if (!running_) return;
    running_ = false;
    run({PROJECT_SOURCE_DIR "/scripts/kamailio/stop.sh", dir_}, 20'000);
}

std::string Kamailio::log() const {
    std::ifstream in(dir_ + "/kamailio.log");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

size_t Kamailio::requests(const std::string& method) const { return count_of(log(), "fixture: REQ " + method + " "); }

size_t Kamailio::requests_to(const std::string& method, const std::string& user, const std::string& transport) const {
    std::istringstream lines(log());
    const std::string want = "fixture: REQ " + method + " sip:" + user + "@";
    size_t n = 0;
    for (std::string line; std::getline(lines, line);)
        if (line.find(want) != std::string::npos &&
            (transport.empty() || line.find("/" + transport + " ") != std::string::npos))
            ++n;
    return n;
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
