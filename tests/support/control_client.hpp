// A blocking test client for the control socket: connect with a deadline,
// send raw bytes, read one answer line with a deadline, and a request()
// helper that speaks the envelope of the control protocol.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace presenced::test {

using json = nlohmann::json;

// How long a wait lasts when the caller names none: generous, for sanitizer
// builds on busy machines; a healthy daemon answers in milliseconds.
inline constexpr int kClientTimeoutMs = 15'000;

class ControlClient {
public:
    enum class Read { line, eof, timeout, error };
    struct ReadResult {
        Read status = Read::error;
        std::string line;  // without the newline, when status == line
        int error = 0;     // errno, when status == error
    };

    // Connects to the Unix socket at path, retrying while it does not exist
    // or refuses, until timeout_ms have passed; throws std::runtime_error
    // with the last error then.
    ControlClient(const std::string& path, int timeout_ms);
    // One attempt, no retry; nullopt (and errno in *error) on failure.
    static std::optional<ControlClient> try_connect(const std::string& path, int timeout_ms, int* error = nullptr);

    // Takes over a connected stream socket (e.g. one a test accepted while
    // playing the daemon); closes it when done.
    static ControlClient adopt(int fd);

    ControlClient(ControlClient&& other) noexcept;
    ControlClient& operator=(ControlClient&& other) noexcept;
    ~ControlClient();

    int fd() const { return fd_; }

    // Writes all of bytes unless the peer goes away or timeout_ms pass;
    // returns how many were written (never raises SIGPIPE).
    size_t send_raw(std::string_view bytes, int timeout_ms = kClientTimeoutMs);
    void send_all(std::string_view bytes, int timeout_ms = kClientTimeoutMs);  // throws when not all written

    // Bytes sent that the daemon has not read yet (SIOCOUTQ).
    size_t unread_by_peer() const;
    // Waits until the daemon has read everything sent (or has closed the
    // connection); false when timeout_ms pass first.
    bool wait_taken(int timeout_ms = kClientTimeoutMs) const;

    // Reads the next line (bytes already received are used first).
    ReadResult read_line(int timeout_ms = kClientTimeoutMs);
    // Reads the next line and parses it; throws on timeout, EOF, or bad JSON.
    json read_answer(int timeout_ms = kClientTimeoutMs);
    // Reads and discards until EOF or a read error (a reset counts as closed);
    // true when the connection was closed within timeout_ms.
    bool wait_closed(int timeout_ms = kClientTimeoutMs);

    // Sends {"v":1,"id":id,"cmd":cmd,"args":args} and returns the answer
    // line as JSON (throws on timeout or EOF).
    json request(std::string_view cmd, const json& args = json::object(), const json& id = nullptr,
                 int timeout_ms = kClientTimeoutMs);

    // The request line (with its newline) request() would send.
    static std::string request_line(std::string_view cmd, const json& args, const json& id);

private:
    explicit ControlClient(int fd) : fd_(fd) {}
    int fd_ = -1;
    long long next_id_ = 1;
    std::string pending_;
};

}  // namespace presenced::test
