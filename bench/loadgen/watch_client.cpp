// Control-socket watch client; see watch_client.hpp.
#include "watch_client.hpp"

#include <charconv>
#include <iostream>

#include "bodies.hpp"

namespace loadgen {
namespace {

constexpr uint64_t kRetryMs = 100;
constexpr size_t kReadChunk = 64 * 1024;
// presencectl(8): {"v":1,"id":...,"cmd":"watch"} with no args watches every user.
constexpr std::string_view kWatchRequest = "{\"v\":1,\"id\":1,\"cmd\":\"watch\"}\n";
constexpr std::string_view kPresenceEvent = "\"event\":\"presence\"";
constexpr std::string_view kAnyEvent = "\"event\":";
constexpr std::string_view kOk = "\"ok\":true";
constexpr std::string_view kMessageKey = "\"message\":\"";

struct Write {
    uv_write_t req{};
    std::string data;
};

}  // namespace

WatchClient::WatchClient(uv_loop_t* loop, std::string path, LatencyBook& latency)
    : loop_(loop), path_(std::move(path)), latency_(latency) {}

WatchClient::~WatchClient() { close(); }

void WatchClient::start(uint64_t give_up_ns) {
    give_up_ns_ = give_up_ns;
    retry_ = new uv_timer_t;
    uv_timer_init(loop_, retry_);
    retry_->data = this;
    connect();
}

void WatchClient::close() {
    if (closed_) return;
    closed_ = true;
    if (retry_)
        uv_close(reinterpret_cast<uv_handle_t*>(retry_),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    if (pipe_)
        uv_close(reinterpret_cast<uv_handle_t*>(pipe_), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    retry_ = nullptr;
    pipe_ = nullptr;
}

void WatchClient::connect() {
    pipe_ = new uv_pipe_t;
    uv_pipe_init(loop_, pipe_, 0);
    pipe_->data = this;
    connect_req_.data = this;
    uv_pipe_connect(&connect_req_, pipe_, path_.c_str(), [](uv_connect_t* req, int status) {
        auto* self = static_cast<WatchClient*>(req->data);
        if (!self->closed_) self->on_connected(status);
    });
}

void WatchClient::on_connected(int status) {
    if (status != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(pipe_), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
        pipe_ = nullptr;
        if (now_ns() >= give_up_ns_) return fail(std::string("cannot connect: ") + uv_strerror(status));
        uv_timer_start(
            retry_, [](uv_timer_t* t) { static_cast<WatchClient*>(t->data)->connect(); }, kRetryMs, 0);
        return;
    }
    auto* w = new Write;
    w->data = kWatchRequest;
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    uv_write(&w->req, reinterpret_cast<uv_stream_t*>(pipe_), &buf, 1,
             [](uv_write_t* r, int) { delete static_cast<Write*>(r->data); });
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(pipe_),
        [](uv_handle_t* h, size_t, uv_buf_t* out) {
            auto* self = static_cast<WatchClient*>(h->data);
            const size_t old = self->in_.size();
            self->in_.resize(old + kReadChunk);
            *out = uv_buf_init(self->in_.data() + old, static_cast<unsigned>(kReadChunk));
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t*) { static_cast<WatchClient*>(s->data)->on_read(n); });
}

void WatchClient::on_read(ssize_t n) {
    in_.resize(in_.size() - kReadChunk + (n > 0 ? static_cast<size_t>(n) : 0));
    if (n < 0) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(pipe_));
        return fail("the daemon closed the control connection");
    }
    const uint64_t now = now_ns();
    size_t start = 0;
    for (size_t nl; (nl = in_.find('\n', start)) != std::string::npos; start = nl + 1)
        on_line(std::string_view(in_).substr(start, nl - start), now);
    in_.erase(0, start);
}

void WatchClient::on_line(std::string_view line, uint64_t now) {
    if (line.find(kPresenceEvent) != std::string_view::npos) {
        ++presence_events_;
        const size_t key = line.find(kMessageKey);
        if (key == std::string_view::npos) return latency_.unstamped_event();
        std::string_view message = line.substr(key + kMessageKey.size());
        if (message.substr(0, kStampPrefix.size()) != kStampPrefix) return latency_.unstamped_event();
        message.remove_prefix(kStampPrefix.size());
        uint64_t seq = 0;
        const auto r = std::from_chars(message.data(), message.data() + message.size(), seq);
        if (r.ec != std::errc{} || r.ptr == message.data() || *r.ptr != '"') return latency_.unstamped_event();
        latency_.event(seq, now);
        return;
    }
    if (line.find(kAnyEvent) != std::string_view::npos) {
        ++other_events_;
        return;
    }
    // The answer to our request (the only line with an id).
    if (line.find(kOk) != std::string_view::npos) {
        ready_ = true;
        std::cerr << "loadgen: watching all users on " << path_ << "\n";
    } else {
        fail("watch refused: " + std::string(line));
    }
}

void WatchClient::fail(const std::string& why) {
    if (failed_) return;
    failed_ = true;
    std::cerr << "loadgen: watch on " << path_ << ": " << why << "\n";
}

}  // namespace loadgen
