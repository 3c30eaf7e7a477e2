// UDP (recvmmsg/sendmmsg on a polled socket) and TCP (libuv streams) for
// the load generator; see transport.hpp.
#include "transport.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sip_text.hpp"

namespace loadgen {
namespace {

// perf-limits.md §3: with the 208 KB default, bursts of answers overflow.
constexpr int kSocketBufferBytes = 4 * 1024 * 1024;
constexpr unsigned kBatch = 64;               // datagrams per recvmmsg/sendmmsg
constexpr size_t kRecvSlotBytes = 16 * 1024;  // our peers' messages are < 4 KB
constexpr int kMaxRecvRounds = 16;            // recvmmsg calls per wake-up, to keep timers fair
constexpr int kTcpBacklog = 1024;
constexpr int kBindAttempts = 10;
constexpr size_t kTcpReadChunk = 64 * 1024;
// RFC 5626 §3.5.1: a double-CRLF ping is answered with a single CRLF pong.
constexpr std::string_view kPing = "\r\n\r\n";
constexpr std::string_view kPong = "\r\n";

struct WriteReq {
    uv_write_t req{};
    std::string data;
};

}  // namespace

struct Transport::Conn {
    uv_tcp_t handle{};
    uv_connect_t connect{};
    Transport* owner = nullptr;
    uint32_t id = 0;
    uint64_t outgoing_key = 0;  // != 0: we opened it (outgoing_)
    bool connecting = false;
    std::string in;
    std::string out;
    std::vector<uint64_t> tags;
    bool dirty = false;
};

Transport::Transport(uv_loop_t* loop) : loop_(loop) { recv_slots_.resize(kBatch * kRecvSlotBytes); }

Transport::~Transport() { close(); }

void Transport::set_handlers(OnMessage on_message, BeforeFlush before_flush, OnWritten on_written, OnClosed on_closed) {
    on_closed_ = std::move(on_closed);
    on_message_ = std::move(on_message);
    before_flush_ = std::move(before_flush);
    on_written_ = std::move(on_written);
}

bool Transport::listen(const std::string& ip, uint16_t port, std::string& error) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
        error = "not an IPv4 address: " + ip;
        return false;
    }
    for (int attempt = 0; attempt < kBindAttempts; ++attempt) {
        addr.sin_port = htons(port);
        udp_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (udp_fd_ < 0) {
            error = std::string("socket: ") + std::strerror(errno);
            return false;
        }
        const int size = kSocketBufferBytes;
        ::setsockopt(udp_fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        ::setsockopt(udp_fd_, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        if (::bind(udp_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            error = std::string("bind UDP ") + ip + ":" + std::to_string(port) + ": " + std::strerror(errno);
            ::close(udp_fd_);
            udp_fd_ = -1;
            return false;
        }
        sockaddr_in bound{};
        socklen_t len = sizeof bound;
        ::getsockname(udp_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
        const uint16_t chosen = ntohs(bound.sin_port);
        uv_tcp_init(loop_, &tcp_server_);
        tcp_server_.data = this;
        sockaddr_in taddr = addr;
        taddr.sin_port = htons(chosen);
        int rc = uv_tcp_bind(&tcp_server_, reinterpret_cast<sockaddr*>(&taddr), 0);
        if (rc == 0)
            rc = uv_listen(reinterpret_cast<uv_stream_t*>(&tcp_server_), kTcpBacklog, [](uv_stream_t* s, int status) {
                if (status == 0) static_cast<Transport*>(s->data)->on_tcp_connection();
            });
        if (rc == 0) {
            port_ = chosen;
            break;
        }
        uv_close(reinterpret_cast<uv_handle_t*>(&tcp_server_), nullptr);
        ::close(udp_fd_);
        udp_fd_ = -1;
        error = std::string("bind TCP ") + ip + ":" + std::to_string(chosen) + ": " + uv_strerror(rc);
        if (port != 0) return false;  // a fixed port: no other choice
    }
    if (udp_fd_ < 0) return false;
    uv_poll_init(loop_, &udp_poll_, udp_fd_);
    udp_poll_.data = this;
    uv_poll_start(&udp_poll_, UV_READABLE, [](uv_poll_t* p, int status, int) {
        if (status == 0) static_cast<Transport*>(p->data)->on_udp_readable();
    });
    // Flush before the loop blocks (sends queued by timers) and after I/O
    // callbacks (answers to what was just received).
    uv_prepare_init(loop_, &prepare_);
    prepare_.data = this;
    uv_prepare_start(&prepare_, [](uv_prepare_t* h) { static_cast<Transport*>(h->data)->flush(); });
    uv_check_init(loop_, &check_);
    check_.data = this;
    uv_check_start(&check_, [](uv_check_t* h) { static_cast<Transport*>(h->data)->flush(); });
    open_ = true;
    return true;
}

void Transport::close() {
    if (!open_) return;
    open_ = false;
    uv_poll_stop(&udp_poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(&udp_poll_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_server_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
    std::vector<uint32_t> ids;
    for (auto& [id, c] : conns_) ids.push_back(id);
    for (uint32_t id : ids) drop_conn(*conns_.at(id));
    if (udp_fd_ >= 0) ::close(udp_fd_);
    udp_fd_ = -1;
}

void Transport::on_udp_readable() {
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    sockaddr_in from[kBatch];
    for (int round = 0; round < kMaxRecvRounds; ++round) {
        for (unsigned i = 0; i < kBatch; ++i) {
            iov[i] = {recv_slots_.data() + i * kRecvSlotBytes, kRecvSlotBytes};
            msgs[i] = {};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        }
        const int n = ::recvmmsg(udp_fd_, msgs, kBatch, MSG_DONTWAIT, nullptr);
        if (n <= 0) return;
        for (int i = 0; i < n; ++i) {
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
                ++counters_.truncated;
                continue;
            }
            ++counters_.udp_received;
            Route r;
            r.addr = from[i];
            const std::string_view data(static_cast<const char*>(iov[i].iov_base), msgs[i].msg_len);
            if (data.find_first_not_of("\r\n \t") == std::string_view::npos) continue;  // keep-alive
            on_message_(r, data);
        }
        if (static_cast<unsigned>(n) < kBatch) return;
    }
}

void Transport::send(const Route& route, std::string_view bytes, uint64_t tag) {
    static thread_local std::vector<uint64_t> one;
    one.clear();
    if (tag) one.push_back(tag);
    send(route, bytes, one);
}

void Transport::send(const Route& route, std::string_view bytes, const std::vector<uint64_t>& tags) {
    if (route.conn == 0) {
        const size_t begin = udp_tags_.size();
        udp_tags_.insert(udp_tags_.end(), tags.begin(), tags.end());
        udp_queue_.push_back({route.addr, udp_arena_.size(), bytes.size(), begin, udp_tags_.size()});
        udp_arena_.append(bytes);
        if (udp_queue_.size() >= kBatch) flush_udp();
        return;
    }
    auto it = conns_.find(route.conn);
    if (it == conns_.end()) {
        ++counters_.send_errors;
        return;
    }
    Conn& c = *it->second;
    c.out.append(bytes);
    c.tags.insert(c.tags.end(), tags.begin(), tags.end());
    if (c.connecting) return;  // flushed once connected
    if (!c.dirty) {
        c.dirty = true;
        dirty_conns_.push_back(c.id);
    }
}

void Transport::flush() {
    if (before_flush_) before_flush_();
    flush_udp();
    flush_tcp();
}

void Transport::flush_udp() {
    size_t done = 0;
    while (done < udp_queue_.size()) {
        mmsghdr msgs[kBatch];
        iovec iov[kBatch];
        const size_t count = std::min<size_t>(kBatch, udp_queue_.size() - done);
        for (size_t i = 0; i < count; ++i) {
            QueuedDatagram& q = udp_queue_[done + i];
            iov[i] = {udp_arena_.data() + q.offset, q.length};
            msgs[i] = {};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &q.addr;
            msgs[i].msg_hdr.msg_namelen = sizeof q.addr;
        }
        const int n = ::sendmmsg(udp_fd_, msgs, static_cast<unsigned>(count), MSG_DONTWAIT);
        // A refused datagram is lost like one dropped on the wire: Timer E covers NOTIFYs.
        const size_t sent = n > 0 ? static_cast<size_t>(n) : 0;
        for (size_t i = 0; i < sent && on_written_; ++i)
            for (size_t t = udp_queue_[done + i].tags_begin; t < udp_queue_[done + i].tags_end; ++t)
                on_written_(udp_tags_[t]);
        if (sent < count) {
            ++counters_.send_errors;
            done += sent + 1;  // skip the one refused
        } else {
            done += count;
        }
    }
    udp_queue_.clear();
    udp_arena_.clear();
    udp_tags_.clear();
}

void Transport::flush_tcp() {
    for (uint32_t id : dirty_conns_) {
        auto it = conns_.find(id);
        if (it == conns_.end()) continue;
        Conn& c = *it->second;
        c.dirty = false;
        if (on_written_)
            for (uint64_t tag : c.tags) on_written_(tag);
        c.tags.clear();
        uv_buf_t buf = uv_buf_init(c.out.data(), static_cast<unsigned>(c.out.size()));
        const int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&c.handle), &buf, 1);
        const size_t written = n > 0 ? static_cast<size_t>(n) : 0;
        if (n < 0 && n != UV_EAGAIN) {
            ++counters_.send_errors;
            c.out.clear();
            continue;
        }
        if (written < c.out.size()) {
            // The rest goes through libuv's write queue, which keeps the order.
            auto* w = new WriteReq;
            w->data.assign(c.out, written);
            w->req.data = w;
            uv_buf_t rest = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
            uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c.handle), &rest, 1,
                     [](uv_write_t* r, int) { delete static_cast<WriteReq*>(r->data); });
        }
        c.out.clear();
    }
    dirty_conns_.clear();
}

Transport::Conn& Transport::add_conn() {
    auto c = std::make_unique<Conn>();
    c->owner = this;
    c->id = next_conn_++;
    uv_tcp_init(loop_, &c->handle);
    c->handle.data = c.get();
    Conn& ref = *c;
    conns_.emplace(ref.id, std::move(c));
    return ref;
}

void Transport::on_tcp_connection() {
    Conn& c = add_conn();
    if (uv_accept(reinterpret_cast<uv_stream_t*>(&tcp_server_), reinterpret_cast<uv_stream_t*>(&c.handle)) != 0) {
        Conn* raw = conns_.at(c.id).release();
        conns_.erase(raw->id);
        uv_close(reinterpret_cast<uv_handle_t*>(&raw->handle),
                 [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
        return;
    }
    ++counters_.tcp_connections;
    start_reading(c);
}

Route Transport::tcp_route_to(const sockaddr_in& addr) {
    const uint64_t key = (uint64_t{addr.sin_addr.s_addr} << 16) | addr.sin_port;
    Route r;
    r.addr = addr;
    if (auto it = outgoing_.find(key); it != outgoing_.end() && conns_.count(it->second)) {
        r.conn = it->second;
        return r;
    }
    Conn& c = add_conn();
    c.outgoing_key = key;
    c.connecting = true;
    c.connect.data = &c;
    outgoing_[key] = c.id;
    r.conn = c.id;
    ++counters_.tcp_connects;
    const int rc = uv_tcp_connect(&c.connect, &c.handle, reinterpret_cast<const sockaddr*>(&addr),
                                  [](uv_connect_t* req, int status) {
                                      auto* conn = static_cast<Conn*>(req->data);
                                      Transport* self = conn->owner;
                                      if (status == UV_ECANCELED || !self->conns_.count(conn->id)) return;
                                      if (status != 0) {
                                          ++self->counters_.connect_failures;
                                          return self->drop_conn(*conn);
                                      }
                                      conn->connecting = false;
                                      self->start_reading(*conn);
                                      if (!conn->out.empty() && !conn->dirty) {
                                          conn->dirty = true;
                                          self->dirty_conns_.push_back(conn->id);
                                      }
                                  });
    if (rc != 0) {
        ++counters_.connect_failures;
        c.connecting = false;  // sends to it count as errors until the dialog times out
    }
    return r;
}

void Transport::start_reading(Conn& target) {
    Conn* c = &target;
    uv_tcp_nodelay(&c->handle, 1);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->handle),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
            auto* conn = static_cast<Conn*>(h->data);
            const size_t old = conn->in.size();
            conn->in.resize(old + kTcpReadChunk);
            *buf = uv_buf_init(conn->in.data() + old, static_cast<unsigned>(kTcpReadChunk));
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
            auto* conn = static_cast<Conn*>(s->data);
            conn->owner->on_tcp_read(*conn, n);
        });
}

void Transport::on_tcp_read(Conn& c, ssize_t n) {
    // The alloc callback grew the buffer by a whole chunk; keep what was read.
    c.in.resize(c.in.size() - kTcpReadChunk + (n > 0 ? static_cast<size_t>(n) : 0));
    if (n < 0) {
        drop_conn(c);
        return;
    }
    Route r;
    r.conn = c.id;
    size_t pos = 0;
    while (pos < c.in.size()) {
        std::string_view rest(c.in.data() + pos, c.in.size() - pos);
        if (rest.substr(0, kPing.size()) == kPing) {
            send(r, kPong);
            pos += kPing.size();
            continue;
        }
        if (rest.size() < kPing.size() && kPing.substr(0, rest.size()) == rest) break;  // part of a ping
        if (rest.substr(0, 2) == "\r\n") {
            pos += 2;
            continue;
        }
        const size_t len = sip::frame_length(rest);
        if (len == 0) break;
        if (len == std::string_view::npos) {
            ++counters_.framing_errors;
            drop_conn(c);
            return;
        }
        ++counters_.tcp_received;
        on_message_(r, rest.substr(0, len));
        if (conns_.count(r.conn) == 0) return;  // the handler dropped it
        pos += len;
    }
    c.in.erase(0, pos);
}

void Transport::drop_conn(Conn& c) {
    auto it = conns_.find(c.id);
    if (it == conns_.end()) return;
    Conn* raw = it->second.release();
    conns_.erase(it);
    if (raw->outgoing_key) outgoing_.erase(raw->outgoing_key);
    uv_close(reinterpret_cast<uv_handle_t*>(&raw->handle), [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
    ++counters_.tcp_closed;
    if (open_ && on_closed_) on_closed_(raw->id);
}

}  // namespace loadgen
