// Subprocesses for tests: posix_spawn with an argv vector, extra environment,
// stdout/stderr to files or pipes, waits bounded by deadlines, and a
// destructor that SIGKILLs and reaps a child still running, so a failing
// test never leaves a daemon behind.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace presenced::test {

// Changes to the test's own environment for one child.
struct Env {
    std::vector<std::pair<std::string, std::string>> set;  // added or replaced
    std::vector<std::string> unset;                        // removed
};

// Where a child's stdout or stderr goes.
struct Output {
    enum Kind { null, file, pipe };
    Kind kind = null;
    std::string path;  // for file: created if missing, appended to
    static Output to_null() { return {}; }
    static Output to_file(std::string p) { return {file, std::move(p)}; }
    static Output to_pipe() { return {pipe, {}}; }
};

struct SpawnOptions {
    std::vector<std::string> argv;  // argv[0] is the program's path (no PATH search)
    Env env;
    Output out;
    Output err;
};

// Exit status as a shell reports it: the exit code, or 128 + the signal
// number when the child was killed by a signal.
std::string describe_status(int status);

struct RunResult {
    int exit_code = -1;  // see describe_status; -1 when it timed out (and was killed)
    bool timed_out = false;
    std::string out;
    std::string err;
};

class Process {
public:
    // Starts the child; throws std::runtime_error when posix_spawn fails.
    explicit Process(const SpawnOptions& options);
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    // True until the child has been reaped by wait_for_exit() or kill().
    bool running() const { return pid_ > 0 && !status_; }
    // Waits at most timeout_ms for the child to exit; returns its status (see
    // describe_status) or nullopt on timeout. Once reaped, returns the same
    // status again at once.
    std::optional<int> wait_for_exit(int timeout_ms);
    // Sends sig to the child's PID; false when it was already reaped.
    bool signal(int sig);
    // SIGKILL and reap (no-op when already reaped).
    void kill();

    // Read ends of the pipes when Output::pipe was asked for, else -1.
    int stdout_fd() const { return out_fd_; }
    int stderr_fd() const { return err_fd_; }

    // Reads the pipes to their end and waits for the exit, all within
    // timeout_ms; a child still running then is killed (timed_out).
    RunResult finish(int timeout_ms);

private:
    bool try_reap();

    pid_t pid_ = -1;
    int pidfd_ = -1;  // -1 when pidfd_open is not available: waits poll waitpid
    int out_fd_ = -1;
    int err_fd_ = -1;
    std::optional<int> status_;
};

// Runs a short command to completion, capturing stdout and stderr; a child
// still running after timeout_ms is killed.
RunResult run(const std::vector<std::string>& argv, int timeout_ms, const Env& env = {});

}  // namespace presenced::test
