// posix_spawn-based subprocesses with deadlines (see process.hpp).
#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <iterator>
#include <stdexcept>

extern char** environ;

namespace presenced::test {

namespace {

using Clock = std::chrono::steady_clock;

// Fallback only (no pidfd): how often waitpid is retried while waiting.
constexpr long kReapPollNs = 2'000'000;

// A test that crashes (or calls abort, or is interrupted) runs no
// destructors; the children it started are killed from these hooks instead,
// so no daemon outlives its test. Only a SIGKILL of the test (a ctest
// timeout) escapes them. The table is read inside signal handlers: a fixed
// array of atomics, no allocation, only kill().
constexpr size_t kMaxLiveChildren = 64;
std::atomic<pid_t> g_live[kMaxLiveChildren];
constexpr int kFatalSignals[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT, SIGQUIT};
struct sigaction g_previous[std::size(kFatalSignals)];
std::terminate_handler g_previous_terminate = nullptr;

void kill_live_children() {
    for (auto& slot : g_live)
        if (const pid_t pid = slot.load(); pid > 0) ::kill(pid, SIGKILL);
}

void on_fatal_signal(int sig) {
    kill_live_children();
    // Then whatever was there before (Catch2's reporter, or the default).
    for (size_t i = 0; i < std::size(kFatalSignals); ++i)
        if (kFatalSignals[i] == sig) ::sigaction(sig, &g_previous[i], nullptr);
    ::raise(sig);
}

void install_cleanup_hooks() {
    static const bool installed = [] {
        struct sigaction sa {};
        sa.sa_handler = on_fatal_signal;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < std::size(kFatalSignals); ++i) ::sigaction(kFatalSignals[i], &sa, &g_previous[i]);
        g_previous_terminate = std::set_terminate([] {
            kill_live_children();
            if (g_previous_terminate) g_previous_terminate();
            std::abort();
        });
        std::atexit(kill_live_children);
        return true;
    }();
    (void)installed;
}

void track(pid_t pid) {
    for (auto& slot : g_live) {
        pid_t empty = 0;
        if (slot.compare_exchange_strong(empty, pid)) return;
    }  // table full: this child is only covered by ~Process
}

void untrack(pid_t pid) {
    for (auto& slot : g_live) {
        pid_t expected = pid;
        if (slot.compare_exchange_strong(expected, 0)) return;
    }
}

int ms_left(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
}

std::vector<std::string> child_environment(const Env& env) {
    std::vector<std::string> out;
    auto overridden = [&](const std::string& entry) {
        const std::string name = entry.substr(0, entry.find('='));
        for (const auto& u : env.unset)
            if (u == name) return true;
        for (const auto& [k, v] : env.set)
            if (k == name) return true;
        return false;
    };
    for (char** e = environ; e && *e; ++e)
        if (!overridden(*e)) out.emplace_back(*e);
    for (const auto& [k, v] : env.set) out.push_back(k + "=" + v);
    return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

int decode(int raw) {
    if (WIFEXITED(raw)) return WEXITSTATUS(raw);
    if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
    return -1;
}

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

// Sets up fd (1 or 2) of the child; returns the parent's read end for a pipe.
int plan_output(posix_spawn_file_actions_t& actions, const Output& output, int fd, int& child_end) {
    child_end = -1;
    switch (output.kind) {
        case Output::null:
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0);
            return -1;
        case Output::file:
            posix_spawn_file_actions_addopen(&actions, fd, output.path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            return -1;
        case Output::pipe: {
            int p[2];
            if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
            posix_spawn_file_actions_adddup2(&actions, p[1], fd);  // dup2 clears close-on-exec on fd
            child_end = p[1];
            return p[0];
        }
    }
    return -1;
}

}  // namespace

std::string describe_status(int status) {
    if (status > 128) return "killed by signal " + std::to_string(status - 128) + " (" + strsignal(status - 128) + ")";
    return "exit code " + std::to_string(status);
}

Process::Process(const SpawnOptions& options) {
    if (options.argv.empty()) throw std::runtime_error("Process: empty argv");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    int out_child = -1, err_child = -1;
    try {
        out_fd_ = plan_output(actions, options.out, 1, out_child);
        err_fd_ = plan_output(actions, options.err, 2, err_child);
    } catch (...) {
        posix_spawn_file_actions_destroy(&actions);
        close_fd(out_fd_);
        close_fd(out_child);
        throw;
    }

    // The child starts with default dispositions and nothing blocked, whatever
    // the test runner did to its own signals.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    std::vector<std::string> argv_strings = options.argv;
    std::vector<std::string> env_strings = child_environment(options.env);
    std::vector<char*> argv = c_strings(argv_strings);
    std::vector<char*> envp = c_strings(env_strings);
    install_cleanup_hooks();
    const int rc = posix_spawn(&pid_, argv[0], &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close_fd(out_child);
    close_fd(err_child);
    if (rc != 0) {
        pid_ = -1;
        close_fd(out_fd_);
        close_fd(err_fd_);
        throw std::runtime_error("posix_spawn " + options.argv[0] + ": " + std::strerror(rc));
    }
    track(pid_);
#ifdef SYS_pidfd_open
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));  // close-on-exec by default
    if (pidfd_ < 0) pidfd_ = -1;
#endif
}

Process::~Process() {
    kill();
    close_fd(pidfd_);
    close_fd(out_fd_);
    close_fd(err_fd_);
}

bool Process::try_reap() {
    if (status_) return true;
    // Look without reaping first: the PID leaves the cleanup table before it
    // can be recycled, so the hooks never kill a stranger.
    siginfo_t info{};
    int rc;
    do rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    while (rc < 0 && errno == EINTR);
    if (rc == 0 && info.si_pid == 0) return false;  // still running
    untrack(pid_);
    int raw = 0;
    pid_t r;
    do r = ::waitpid(pid_, &raw, 0);
    while (r < 0 && errno == EINTR);
    status_ = r == pid_ ? decode(raw) : -1;  // -1: not our child any more (should not happen)
    close_fd(pidfd_);
    return true;
}

std::optional<int> Process::wait_for_exit(int timeout_ms) {
    if (pid_ <= 0) return status_;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (try_reap()) return status_;
        const int left = ms_left(deadline);
        if (left == 0) return std::nullopt;
        if (pidfd_ >= 0) {
            pollfd p{pidfd_, POLLIN, 0};
            ::poll(&p, 1, left);  // readable when the child has exited
        } else {
            timespec ts{0, kReapPollNs};
            ::nanosleep(&ts, nullptr);
        }
    }
}

bool Process::signal(int sig) {
    if (!running()) return false;
    return ::kill(pid_, sig) == 0;
}

void Process::kill() {
    if (!running()) return;
    ::kill(pid_, SIGKILL);
    untrack(pid_);
    int raw = 0;
    pid_t r;
    do r = ::waitpid(pid_, &raw, 0);  // SIGKILL cannot be caught: this returns
    while (r < 0 && errno == EINTR);
    status_ = r == pid_ ? decode(raw) : -1;
    close_fd(pidfd_);
}

RunResult Process::finish(int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    RunResult result;
    int* fds[2] = {&out_fd_, &err_fd_};
    std::string* sinks[2] = {&result.out, &result.err};
    char buffer[16 * 1024];
    while ((out_fd_ >= 0 || err_fd_ >= 0) && !result.timed_out) {
        pollfd pfds[2];
        int which[2];
        nfds_t n = 0;
        for (int i = 0; i < 2; ++i)
            if (*fds[i] >= 0) {
                pfds[n] = {*fds[i], POLLIN, 0};
                which[n++] = i;
            }
        const int left = ms_left(deadline);
        if (left == 0) {
            result.timed_out = true;
            break;
        }
        const int ready = ::poll(pfds, n, left);
        if (ready < 0 && errno != EINTR) break;
        for (nfds_t k = 0; k < n && ready > 0; ++k) {
            if (pfds[k].revents == 0) continue;
            const ssize_t got = ::read(pfds[k].fd, buffer, sizeof buffer);
            if (got > 0)
                sinks[which[k]]->append(buffer, static_cast<size_t>(got));
            else if (got == 0 || (errno != EINTR && errno != EAGAIN))
                close_fd(*fds[which[k]]);  // end of output
        }
    }
    std::optional<int> status;
    if (!result.timed_out) status = wait_for_exit(ms_left(deadline));
    if (!status) {
        result.timed_out = true;
        kill();
        result.exit_code = -1;
    } else {
        result.exit_code = *status;
    }
    return result;
}

RunResult run(const std::vector<std::string>& argv, int timeout_ms, const Env& env) {
    Process p({argv, env, Output::to_pipe(), Output::to_pipe()});
    return p.finish(timeout_ms);
}

}  // namespace presenced::test
