// Loopback SIP transport of the load generator: UDP and TCP bound on one
// address and port (RFC 3261 §18). Sends are queued and written in batches
// once per loop iteration (sendmmsg for UDP, one write per TCP connection),
// and UDP is received with recvmmsg, so the generator spends about a
// microsecond of system time per message and is never the bottleneck.
#pragma once

#include <netinet/in.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace loadgen {

// Where a message came from and where its answer (or a NOTIFY) goes:
// a UDP address, or a TCP connection (conn != 0).
struct Route {
    uint32_t conn = 0;
    sockaddr_in addr{};
};

class Transport {
public:
    // Called for every whole message received.
    using OnMessage = std::function<void(const Route&, std::string_view)>;
    // Called once per loop iteration just before queued sends are written.
    using BeforeFlush = std::function<void()>;
    // Called for each queued datagram/segment as it is written (tag given to send()).
    using OnWritten = std::function<void(uint64_t tag)>;
    // Called when a TCP connection is gone (closed by the peer, reset, or unusable framing).
    using OnClosed = std::function<void(uint32_t conn)>;

    explicit Transport(uv_loop_t* loop);
    ~Transport();
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    // Binds UDP and TCP on ip:port (port 0: ephemeral, the same for both).
    bool listen(const std::string& ip, uint16_t port, std::string& error);
    uint16_t port() const { return port_; }

    void set_handlers(OnMessage on_message, BeforeFlush before_flush, OnWritten on_written, OnClosed on_closed);

    // Queues bytes for route; written at the end of this loop iteration.
    // tag != 0 is reported to OnWritten when the bytes are handed to the kernel.
    void send(const Route& route, std::string_view bytes, uint64_t tag = 0);
    // The same with several tags (a list NOTIFY carries several stamped states).
    void send(const Route& route, std::string_view bytes, const std::vector<uint64_t>& tags);
    // A TCP route to addr: the connection we opened to it earlier, or a new
    // one (sends queue until it is connected). RFC 3261 §18.1.1: a request
    // too large for UDP goes over TCP to the same address.
    Route tcp_route_to(const sockaddr_in& addr);
    // Writes everything queued now.
    void flush();
    bool connection_open(uint32_t conn) const { return conns_.count(conn) != 0; }

    void close();

    struct Counters {
        uint64_t udp_received = 0;
        uint64_t tcp_received = 0;
        uint64_t truncated = 0;    // datagrams larger than the receive slot
        uint64_t send_errors = 0;  // datagrams the kernel refused, writes to a closed connection
        uint64_t tcp_connections = 0;
        uint64_t tcp_closed = 0;
        uint64_t framing_errors = 0;  // TCP streams closed for unusable framing
        uint64_t tcp_connects = 0;    // connections we opened (large NOTIFYs of UDP dialogs)
        uint64_t connect_failures = 0;
    };
    const Counters& counters() const { return counters_; }

private:
    struct Conn;
    struct QueuedDatagram {
        sockaddr_in addr;
        size_t offset;
        size_t length;
        size_t tags_begin;  // into udp_tags_
        size_t tags_end;
    };

    void on_udp_readable();
    void flush_udp();
    void flush_tcp();
    void on_tcp_connection();
    Conn& add_conn();
    void start_reading(Conn& target);
    void on_tcp_read(Conn& c, ssize_t n);
    void drop_conn(Conn& c);

    uv_loop_t* loop_;
    int udp_fd_ = -1;
    uint16_t port_ = 0;
    uv_poll_t udp_poll_{};
    uv_tcp_t tcp_server_{};
    uv_prepare_t prepare_{};
    uv_check_t check_{};
    bool open_ = false;

    OnMessage on_message_;
    BeforeFlush before_flush_;
    OnWritten on_written_;
    OnClosed on_closed_;

    std::vector<char> recv_slots_;
    std::string udp_arena_;
    std::vector<QueuedDatagram> udp_queue_;
    std::vector<uint64_t> udp_tags_;
    std::unordered_map<uint64_t, uint32_t> outgoing_;  // ip:port -> connection we opened
    std::unordered_map<uint32_t, std::unique_ptr<Conn>> conns_;
    std::vector<uint32_t> dirty_conns_;
    std::vector<uint64_t> tcp_tags_;
    uint32_t next_conn_ = 1;
    Counters counters_;
};

}  // namespace loadgen
