// The Transport's life cycle and its UDP side: UDP and TCP bound on one
// address and port (RFC 3261 §18, rfc-checklist 2.1), datagrams received up
// to 65,535 bytes (2.3), and sends from the listening socket so responses
// and rport work (2.9, RFC 3581).
#include <sys/socket.h>

#include "sip/transport.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace presenced::sip {

using util::cat;

namespace {

// Port 0: UDP picks an ephemeral port; if TCP finds it taken, try another.
constexpr int kBindAttempts = 10;

struct UdpSend {
    uv_udp_send_t req{};
    std::string data;
};

bool only_line_ends(const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (data[i] != '\r' && data[i] != '\n' && data[i] != ' ' && data[i] != '\t') return false;
    return true;
}

}  // namespace

struct Transport::UdpSocket {
    uv_udp_t handle{};
    Transport* owner = nullptr;

    void close() {
        owner = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(&handle),
                 [](uv_handle_t* h) { delete static_cast<UdpSocket*>(h->data); });
    }
};

Transport::Transport(uv_loop_t* loop, TransportLimits limits)
    : loop_(loop), limits_(limits), read_buffer_(new char[kReadBufferSize]) {}

Transport::~Transport() { close(); }

util::Status Transport::listen(const Address& local) {
    if (closed_) return util::make_error("closed", "transport is closed");
    if (udp_) return util::make_error("already_listening", cat("already listening on ", local_.str()));
    if (!local.valid()) return util::make_error("bind_failed", "no IPv4 or IPv6 address to listen on");

    for (int attempt = 1;; ++attempt) {
        auto* u = new UdpSocket;
        u->owner = this;
        u->handle.data = u;
        uv_udp_init(loop_, &u->handle);
        int rc = uv_udp_bind(&u->handle, local.sockaddr_ptr(), 0);
        if (rc != 0) {
            u->close();
            return util::make_error("bind_failed", cat("cannot bind udp ", local.str(), ": ", uv_strerror(rc)));
        }
        sockaddr_storage ss{};
        int len = sizeof ss;
        uv_udp_getsockname(&u->handle, reinterpret_cast<sockaddr*>(&ss), &len);
        const Address bound = Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));

        rc = open_listener(bound);
        if (rc == 0) {
            udp_ = u;
            local_ = bound;
            break;
        }
        u->close();
        if (rc == UV_EADDRINUSE && local.port() == 0 && attempt < kBindAttempts) {
            log::debug("sip transport: tcp port ", bound.port(), " taken, trying another udp port");
            continue;
        }
        return util::make_error("bind_failed", cat("cannot listen on tcp ", bound.str(), ": ", uv_strerror(rc)));
    }

    // A deep receive buffer absorbs NOTIFY bursts (perf-limits §3). Forcing
    // past net.core.rmem_max works with CAP_NET_ADMIN; otherwise the kernel
    // caps the plain request.
    auto* handle = reinterpret_cast<uv_handle_t*>(&udp_->handle);
    if (limits_.udp_receive_buffer > 0) {
        uv_os_fd_t fd = -1;
        int want = limits_.udp_receive_buffer;
        if (uv_fileno(handle, &fd) != 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
            uv_recv_buffer_size(handle, &want);
        int got = 0;
        uv_recv_buffer_size(handle, &got);  // Linux reports twice the size set
        if (got < limits_.udp_receive_buffer)
            log::info("sip transport: udp receive buffer is ", got, " bytes, asked ", limits_.udp_receive_buffer,
                      " (raise net.core.rmem_max)");
    }

    const int rc = uv_udp_recv_start(&udp_->handle, on_udp_alloc, on_udp_recv);
    if (rc != 0) {
        close();
        return util::make_error("bind_failed", cat("cannot receive on udp ", local_.str(), ": ", uv_strerror(rc)));
    }
    log::debug("sip transport: listening on udp and tcp ", local_.str());
    return util::Ok{};
}

void Transport::close() {
    if (closed_) return;
    closed_ = true;
    if (udp_) {
        udp_->close();
        udp_ = nullptr;
    }
    close_tcp();
}

void Transport::on_udp_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* u = static_cast<UdpSocket*>(handle->data);
    if (!u->owner) {
        *buf = uv_buf_init(nullptr, 0);  // libuv then reports UV_ENOBUFS; harmless while closing
        return;
    }
    *buf = uv_buf_init(u->owner->read_buffer_.get(), kReadBufferSize);
}

void Transport::on_udp_recv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                            unsigned flags) {
    auto* u = static_cast<UdpSocket*>(handle->data);
    Transport* self = u->owner;
    if (!self) return;
    if (nread < 0) {
        // ICMP errors and the like: the socket stays usable.
        log::debug("sip transport: udp receive error: ", uv_err_name(static_cast<int>(nread)));
        return;
    }
    if (!addr) return;  // nothing more to read this time
    const Address source = Address::from_sockaddr(addr);
    if (flags & UV_UDP_PARTIAL) {
        ++self->counters_.oversize_dropped;
        log::warn("sip transport: dropped a truncated datagram (over ", kReadBufferSize, " bytes) from ", source.str());
        return;
    }
    const auto n = static_cast<size_t>(nread);
    if (only_line_ends(buf->base, n)) return;  // empty datagram or CRLF keep-alive
    ++self->counters_.udp_received;
    try {
        self->deliver(Inbound{std::string(buf->base, n), source, TransportKind::udp, 0});
    } catch (const std::exception& e) {
        log::warn("sip transport: udp datagram from ", source.str(), " dropped: ", e.what());
    }
}

util::Status Transport::send_udp(const Address& to, std::string bytes) {
    if (!udp_) return util::make_error("not_listening", "the udp socket is not open");
    if (!to.valid()) return util::make_error("send_failed", "no IPv4 or IPv6 destination");
    uv_buf_t buf = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
    // The common case costs one sendto; only a full socket buffer queues.
    int rc = uv_udp_try_send(&udp_->handle, &buf, 1, to.sockaddr_ptr());
    if (rc >= 0) {
        ++counters_.udp_sent;
        return util::Ok{};
    }
    if (rc != UV_EAGAIN && rc != UV_ENOSYS)
        return util::make_error("send_failed", cat("udp send to ", to.str(), ": ", uv_strerror(rc)));
    if (udp_->handle.send_queue_size + bytes.size() > limits_.max_queued_bytes)
        return util::make_error("queue_full", cat("udp send queue full (", udp_->handle.send_queue_size,
                                                  " bytes); datagram to ", to.str(), " dropped"));
    auto* send = new UdpSend;
    send->data = std::move(bytes);
    buf = uv_buf_init(send->data.data(), static_cast<unsigned>(send->data.size()));
    send->req.data = send;
    rc = uv_udp_send(&send->req, &udp_->handle, &buf, 1, to.sockaddr_ptr(), [](uv_udp_send_t* req, int status) {
        auto* s = static_cast<UdpSend*>(req->data);
        if (status < 0 && status != UV_ECANCELED)
            log::debug("sip transport: queued udp send failed: ", uv_err_name(status));
        delete s;
    });
    if (rc != 0) {
        delete send;
        return util::make_error("send_failed", cat("udp send to ", to.str(), ": ", uv_strerror(rc)));
    }
    ++counters_.udp_sent;
    return util::Ok{};
}

}  // namespace presenced::sip
