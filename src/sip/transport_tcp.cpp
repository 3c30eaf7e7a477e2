// TCP side of the SIP transport: the listener, one persistent outbound
// connection per destination (rfc-checklist 2.7-2.8), accepted inbound
// connections, stream framing, CRLF keep-alives (RFC 5626 §3.5.1), and the
// per-connection timers that bound connects, unfinished messages
// (anti-slowloris, 16.7) and idle inbound connections.
#include <algorithm>
#include <limits>
#include <vector>

#include "sip/stateless.hpp"
#include "sip/transport.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace presenced::sip {

using util::cat;

namespace {

constexpr int kListenBacklog = 128;
constexpr std::string_view kPing = "\r\n\r\n";
constexpr std::string_view kPong = "\r\n";
constexpr size_t kLoggedHeadBytes = 120;  // of a message that broke framing

struct WriteRequest {
    uv_write_t req{};
    std::string data;
};

uint64_t add_saturating(uint64_t a, uint64_t b) {
    return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max() : a + b;
}

uv_handle_t* as_handle(auto* h) { return reinterpret_cast<uv_handle_t*>(h); }
uv_stream_t* as_stream(uv_tcp_t* h) { return reinterpret_cast<uv_stream_t*>(h); }

}  // namespace

// One TCP connection and its timer. Owned by its two libuv handles: it is
// deleted when both have closed, which may be after the Transport is gone,
// so callbacks test `owner` (null once closing) before touching it.
struct Transport::Connection {
    explicit Connection(const FramingLimits& limits) : framer(limits) {}

    Transport* owner = nullptr;
    ConnectionId id = 0;
    Address peer;
    std::string key;  // outbound: Address::str() of the destination
    bool outbound = false;
    bool connecting = false;
    bool closing = false;
    bool partial = false;  // an unfinished message is buffered
    uv_tcp_t tcp{};
    uv_timer_t timer{};
    uv_connect_t connect_req{};
    int open_handles = 0;
    StreamFramer framer;
    uint64_t started_ms = 0;  // loop time: connect started
    uint64_t last_activity_ms = 0;
    uint64_t partial_since_ms = 0;
    uint64_t timer_due_ms = 0;

    void init(uv_loop_t* loop) {
        uv_tcp_init(loop, &tcp);
        uv_timer_init(loop, &timer);
        tcp.data = this;
        timer.data = this;
        connect_req.data = this;
        open_handles = 2;
    }

    void close_handles() {
        closing = true;
        owner = nullptr;
        auto on_closed = [](uv_handle_t* h) {
            auto* c = static_cast<Connection*>(h->data);
            if (--c->open_handles == 0) delete c;
        };
        uv_close(as_handle(&tcp), on_closed);
        uv_close(as_handle(&timer), on_closed);
    }
};

struct Transport::Listener {
    uv_tcp_t handle{};
    Transport* owner = nullptr;

    void close() {
        owner = nullptr;
        uv_close(as_handle(&handle), [](uv_handle_t* h) { delete static_cast<Listener*>(h->data); });
    }
};

// Connection failures found inside send_tcp()/send_on() are reported from
// the next loop turn, so a caller never sees its handler run re-entrantly.
struct Transport::EventTimer {
    uv_timer_t handle{};
    Transport* owner = nullptr;
    std::vector<ConnectionEvent> pending;

    void close() {
        owner = nullptr;
        uv_close(as_handle(&handle), [](uv_handle_t* h) { delete static_cast<EventTimer*>(h->data); });
    }
};

int Transport::open_listener(const Address& at) {
    auto* l = new Listener;
    l->owner = this;
    l->handle.data = l;
    uv_tcp_init(loop_, &l->handle);
    // uv_tcp_bind reports EADDRINUSE late, from uv_listen.
    int rc = uv_tcp_bind(&l->handle, at.sockaddr_ptr(), 0);
    if (rc == 0) rc = uv_listen(as_stream(&l->handle), kListenBacklog, on_tcp_connection);
    if (rc != 0) {
        l->close();
        return rc;
    }
    listener_ = l;
    return 0;
}

void Transport::close_tcp() {
    if (listener_) {
        listener_->close();
        listener_ = nullptr;
    }
    if (event_timer_) {
        event_timer_->close();
        event_timer_ = nullptr;
    }
    for (auto& [id, c] : connections_) c->close_handles();
    connections_.clear();
    outbound_.clear();
    inbound_count_ = 0;
}

// ---- inbound -------------------------------------------------------------

void Transport::on_tcp_connection(uv_stream_t* server, int status) {
    Transport* self = static_cast<Listener*>(server->data)->owner;
    if (!self) return;
    if (status < 0) {
        log::warn("sip transport: accept failed: ", uv_strerror(status));
        return;
    }
    try {
        self->accept_one();
    } catch (const std::exception& e) {
        log::warn("sip transport: accept failed: ", e.what());
    }
}

void Transport::accept_one() {
    auto* c = new Connection(limits_.framing);
    c->init(loop_);
    if (const int rc = uv_accept(as_stream(&listener_->handle), as_stream(&c->tcp)); rc != 0) {
        log::warn("sip transport: accept failed: ", uv_strerror(rc));
        c->close_handles();
        return;
    }
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
        c->peer = Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
    if (inbound_count_ >= limits_.max_tcp_connections) {
        // Powers of two: a flood leaves a handful of lines, not thousands.
        ++refused_connections_;
        if ((refused_connections_ & (refused_connections_ - 1)) == 0)
            log::warn("sip transport: refused tcp connection from ", c->peer.str(), ": ", inbound_count_,
                      " connections open (max_tcp_connections); ", refused_connections_, " refused so far");
        c->close_handles();
        return;
    }
    c->owner = this;
    c->id = next_connection_++;
    c->last_activity_ms = uv_now(loop_);
    connections_.emplace(c->id, c);
    ++inbound_count_;
    ++counters_.connections_accepted;
    uv_tcp_nodelay(&c->tcp, 1);  // whole messages are written at once
    if (const int rc = uv_read_start(as_stream(&c->tcp), on_tcp_alloc, on_tcp_read); rc != 0) {
        drop_connection(c, rc, false);
        return;
    }
    log::debug("sip transport: tcp connection #", c->id, " accepted from ", c->peer.str());
    arm(c);
}

// ---- reading -------------------------------------------------------------

void Transport::on_tcp_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(handle->data);
    if (!c->owner) {
        *buf = uv_buf_init(nullptr, 0);
        return;
    }
    *buf = uv_buf_init(c->owner->read_buffer_.get(), kReadBufferSize);
}

void Transport::on_tcp_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(stream->data);
    Transport* self = c->owner;
    if (!self) return;
    try {
        self->read(c, nread, buf->base);
    } catch (const std::exception& e) {
        log::warn("sip transport: tcp connection #", c->id, " from ", c->peer.str(), ": ", e.what());
        self->drop_connection(c, UV_ENOMEM, false);
    }
}

void Transport::read(Connection* c, ssize_t nread, const char* data) {
    if (nread == 0) return;  // EAGAIN
    if (nread < 0) {
        log::debug("sip transport: tcp connection #", c->id, " with ", c->peer.str(),
                   " ended: ", uv_err_name(static_cast<int>(nread)));
        drop_connection(c, static_cast<int>(nread), false);
        return;
    }
    const uint64_t now = uv_now(loop_);
    c->last_activity_ms = now;
    c->framer.feed(std::string_view(data, static_cast<size_t>(nread)));

    bool completed = false;
    std::string message;
    while (c->framer.next(message)) {
        completed = true;
        ++counters_.tcp_received;
        deliver(Inbound{std::move(message), c->peer, TransportKind::tcp, c->id});
        if (c->closing) return;  // the handler closed the transport
    }
    // RFC 5626 §3.5.1: one CRLF answers each CRLF CRLF.
    if (const size_t pings = c->framer.take_pings(); pings > 0) {
        std::string pongs;
        for (size_t i = 0; i < pings; ++i) pongs += kPong;
        if (!write(c, std::move(pongs), false)) return;
    }
    if (const auto error = c->framer.error(); error != StreamFramer::Error::none) {
        // RFC 3261 §18.3 (rfc-checklist 2.5): framing is lost, so nothing more
        // on this stream can be trusted: answer 400 when the head is a request
        // we can answer, then close. The 400 is written now, best effort (a
        // few hundred bytes; the close would cancel a queued write).
        ++counters_.framing_errors;
        const std::string& head = c->framer.failed_head();
        if (const auto answer = stateless_response(head, 400, "Bad Request")) {
            std::string bytes = *answer;
            uv_buf_t buf = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
            (void)uv_try_write(reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1);
        }
        log::warn("sip transport: framing error (", StreamFramer::error_name(error), ") on tcp connection #", c->id,
                  " from ", c->peer.str(),
                  ", closing it; message starts: ", std::string_view(head).substr(0, kLoggedHeadBytes));
        drop_connection(c, UV_EPROTO, false);
        return;
    }
    if (c->framer.pending() == 0) {
        c->partial = false;
    } else if (completed || !c->partial) {
        // The message timeout runs from the first byte of each message.
        c->partial = true;
        c->partial_since_ms = now;
        arm(c);
    }
}

void Transport::deliver(Inbound in) {
    if (!on_message_) return;
    try {
        on_message_(std::move(in));
    } catch (const std::exception& e) {
        log::warn("sip transport: message handler failed: ", e.what());
    } catch (...) {
        log::warn("sip transport: message handler failed");
    }
}

// ---- outbound ------------------------------------------------------------

Transport::Connection* Transport::connection_to(const Address& to) {
    std::string key = to.str();
    if (auto it = outbound_.find(key); it != outbound_.end()) return connections_.at(it->second);

    auto* c = new Connection(limits_.framing);
    c->init(loop_);
    c->owner = this;
    c->id = next_connection_++;
    c->peer = to;
    c->key = std::move(key);
    c->outbound = true;
    c->connecting = true;
    c->started_ms = uv_now(loop_);
    connections_.emplace(c->id, c);
    outbound_.emplace(c->key, c->id);
    uv_tcp_nodelay(&c->tcp, 1);  // applied when the socket is created
    // Writes issued before the connect completes wait in libuv's queue.
    if (const int rc = uv_tcp_connect(&c->connect_req, &c->tcp, to.sockaddr_ptr(), on_tcp_connect); rc != 0) {
        log::debug("sip transport: cannot connect to ", to.str(), ": ", uv_err_name(rc));
        drop_connection(c, rc, true);
        return c;
    }
    log::debug("sip transport: tcp connection #", c->id, " connecting to ", to.str());
    arm(c);
    return c;
}

void Transport::on_tcp_connect(uv_connect_t* req, int status) {
    auto* c = static_cast<Connection*>(req->data);
    Transport* self = c->owner;
    if (!self) return;  // closed meanwhile (UV_ECANCELED)
    if (status < 0) {
        log::debug("sip transport: tcp connection #", c->id, " to ", c->peer.str(), " failed: ", uv_err_name(status));
        self->drop_connection(c, status, false);
        return;
    }
    c->connecting = false;
    c->last_activity_ms = uv_now(self->loop_);
    ++self->counters_.connections_opened;
    if (const int rc = uv_read_start(as_stream(&c->tcp), on_tcp_alloc, on_tcp_read); rc != 0) {
        self->drop_connection(c, rc, false);
        return;
    }
    log::debug("sip transport: tcp connection #", c->id, " to ", c->peer.str(), " open");
    self->emit(ConnectionEvent{c->id, c->peer, 0});
}

ConnectionId Transport::send_tcp(const Address& to, std::string bytes) {
    if (closed_) return 0;
    if (!to.valid()) {
        log::warn("sip transport: send_tcp without an IPv4 or IPv6 destination");
        return 0;
    }
    Connection* c = connection_to(to);
    const ConnectionId id = c->id;
    write(c, std::move(bytes), true);
    return id;
}

bool Transport::send_on(ConnectionId connection, std::string bytes) {
    const auto it = connections_.find(connection);
    if (it == connections_.end()) return false;
    return write(it->second, std::move(bytes), true);
}

void Transport::ping_tcp(const Address& to) {
    const auto it = outbound_.find(to.str());
    if (it == outbound_.end()) return;
    Connection* c = connections_.at(it->second);
    if (!c->connecting) write(c, std::string(kPing), false);
}

// ---- writing -------------------------------------------------------------

bool Transport::write(Connection* c, std::string bytes, bool count) {
    if (c->closing) return false;
    if (bytes.empty()) return true;
    uv_stream_t* stream = as_stream(&c->tcp);
    size_t offset = 0;
    // Try the socket first: most messages leave in one syscall, uncopied.
    if (!c->connecting && stream->write_queue_size == 0) {
        uv_buf_t buf = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
        const int n = uv_try_write(stream, &buf, 1);
        if (n >= 0) {
            offset = static_cast<size_t>(n);
        } else if (n != UV_EAGAIN) {
            drop_connection(c, n, true);
            return false;
        }
    }
    c->last_activity_ms = uv_now(loop_);
    if (offset == bytes.size()) {
        if (count) ++counters_.tcp_sent;
        return true;
    }

    // A peer that does not read must not grow our memory without bound.
    const size_t rest = bytes.size() - offset;
    if (stream->write_queue_size + rest > limits_.max_queued_bytes) {
        log::warn("sip transport: tcp connection #", c->id, " with ", c->peer.str(), " has ",
                  stream->write_queue_size + rest, " bytes unsent (max_queued_bytes ", limits_.max_queued_bytes,
                  "), closing it");
        drop_connection(c, UV_ENOBUFS, true);
        return false;
    }
    auto* w = new WriteRequest;
    w->req.data = w;
    w->data = std::move(bytes);
    uv_buf_t buf = uv_buf_init(w->data.data() + offset, static_cast<unsigned>(rest));
    const int rc = uv_write(&w->req, stream, &buf, 1, [](uv_write_t* req, int status) {
        auto* conn = static_cast<Connection*>(req->handle->data);
        delete static_cast<WriteRequest*>(req->data);
        if (status < 0 && conn->owner) conn->owner->drop_connection(conn, status, false);
    });
    if (rc != 0) {
        delete w;
        drop_connection(c, rc, true);
        return false;
    }
    if (count) ++counters_.tcp_sent;
    return true;
}

// ---- timers and closing --------------------------------------------------

// One timer per connection, armed for the earliest deadline. Activity only
// moves deadlines later, so the timer is re-armed lazily when it fires.
void Transport::arm(Connection* c) {
    if (c->closing) return;
    uint64_t due = std::numeric_limits<uint64_t>::max();
    if (c->connecting) {
        due = add_saturating(c->started_ms, limits_.tcp_connect_timeout_ms);
    } else {
        if (c->partial) due = std::min(due, add_saturating(c->partial_since_ms, limits_.tcp_message_timeout_ms));
        if (!c->outbound) due = std::min(due, add_saturating(c->last_activity_ms, limits_.tcp_idle_timeout_ms));
    }
    if (due == std::numeric_limits<uint64_t>::max()) return;
    if (uv_is_active(as_handle(&c->timer)) && c->timer_due_ms <= due) return;
    c->timer_due_ms = due;
    const uint64_t now = uv_now(loop_);
    uv_timer_start(
        &c->timer,
        [](uv_timer_t* t) {
            auto* conn = static_cast<Connection*>(t->data);
            if (conn->owner) conn->owner->expire(conn);
        },
        due > now ? due - now : 0, 0);
}

void Transport::expire(Connection* c) {
    const uint64_t now = uv_now(loop_);
    if (c->connecting) {
        if (now >= add_saturating(c->started_ms, limits_.tcp_connect_timeout_ms)) {
            log::debug("sip transport: tcp connect to ", c->peer.str(), " timed out");
            drop_connection(c, UV_ETIMEDOUT, false);
            return;
        }
    } else if (c->partial && now >= add_saturating(c->partial_since_ms, limits_.tcp_message_timeout_ms)) {
        log::warn("sip transport: tcp connection #", c->id, " with ", c->peer.str(), " left a message unfinished for ",
                  now - c->partial_since_ms, " ms (", c->framer.pending(), " bytes), closing it");
        drop_connection(c, UV_ETIMEDOUT, false);
        return;
    } else if (!c->outbound && now >= add_saturating(c->last_activity_ms, limits_.tcp_idle_timeout_ms)) {
        log::debug("sip transport: tcp connection #", c->id, " from ", c->peer.str(), " idle, closing it");
        drop_connection(c, UV_ETIMEDOUT, false);
        return;
    }
    arm(c);
}

void Transport::drop_connection(Connection* c, int error, bool defer_event) {
    if (c->closing) return;
    connections_.erase(c->id);
    if (c->outbound) {
        if (auto it = outbound_.find(c->key); it != outbound_.end() && it->second == c->id) outbound_.erase(it);
    } else if (inbound_count_ > 0) {
        --inbound_count_;
    }
    const ConnectionEvent event{c->id, c->peer, error};
    c->close_handles();
    if (defer_event)
        post(event);
    else
        emit(event);
}

void Transport::emit(const ConnectionEvent& event) {
    if (!on_event_) return;
    try {
        auto handler = on_event_;  // the handler may replace itself
        handler(event);
    } catch (const std::exception& e) {
        log::warn("sip transport: connection event handler failed: ", e.what());
    } catch (...) {
        log::warn("sip transport: connection event handler failed");
    }
}

void Transport::post(const ConnectionEvent& event) {
    if (closed_) return;
    if (!event_timer_) {
        event_timer_ = new EventTimer;
        event_timer_->owner = this;
        event_timer_->handle.data = event_timer_;
        uv_timer_init(loop_, &event_timer_->handle);
    }
    event_timer_->pending.push_back(event);
    uv_timer_start(
        &event_timer_->handle,
        [](uv_timer_t* t) {
            auto* timer = static_cast<EventTimer*>(t->data);
            std::vector<ConnectionEvent> events;
            events.swap(timer->pending);
            for (const auto& e : events) {
                if (!timer->owner) return;  // a handler closed the transport
                timer->owner->emit(e);
            }
        },
        0, 0);
}

}  // namespace presenced::sip
