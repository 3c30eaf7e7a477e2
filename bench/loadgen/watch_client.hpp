// A client of presenced's control socket (presencectl(8) CONTROL PROTOCOL:
// JSON lines on a Unix stream socket) that sends one `watch` for every user
// and matches each presence event whose message carries a stamp ("lg N") to
// the NOTIFY that caused it. Lines are scanned by hand, not parsed: at
// 50,000 events per second a JSON parser would cost the generator more than
// the rest of its work.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>

#include "stats.hpp"

namespace loadgen {

class WatchClient {
public:
    WatchClient(uv_loop_t* loop, std::string path, LatencyBook& latency);
    ~WatchClient();
    WatchClient(const WatchClient&) = delete;
    WatchClient& operator=(const WatchClient&) = delete;

    // Connects, retrying every 100 ms (the daemon may not be up yet) until
    // give_up_ns (steady clock).
    void start(uint64_t give_up_ns);
    void close();

    // The daemon answered the watch request with ok.
    bool ready() const { return ready_; }
    bool failed() const { return failed_; }
    uint64_t presence_events() const { return presence_events_; }
    uint64_t other_events() const { return other_events_; }

private:
    void connect();
    void on_connected(int status);
    void on_read(ssize_t n);
    void on_line(std::string_view line, uint64_t now);
    void fail(const std::string& why);

    uv_loop_t* loop_;
    std::string path_;
    LatencyBook& latency_;
    uv_pipe_t* pipe_ = nullptr;
    uv_timer_t* retry_ = nullptr;
    uv_connect_t connect_req_{};
    uint64_t give_up_ns_ = 0;
    std::string in_;
    bool ready_ = false;
    bool failed_ = false;
    bool closed_ = false;
    uint64_t presence_events_ = 0;
    uint64_t other_events_ = 0;
};

}  // namespace loadgen
