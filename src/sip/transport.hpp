// SIP transports on the libuv loop: one UDP socket and one TCP listener on
// the same local address and port, outbound TCP connections reused per
// destination, and inbound TCP connections accepted (a server may open its
// own to our Contact). Delivers whole messages up; knows nothing of SIP
// beyond framing.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "sip/address.hpp"
#include "sip/framing.hpp"
#include "util/error.hpp"

namespace presenced::sip {

enum class TransportKind { udp, tcp };

struct TransportLimits {
    FramingLimits framing;
    int udp_receive_buffer = 4 * 1024 * 1024;  // SO_RCVBUF asked for (the kernel may cap it)
    uint64_t tcp_connect_timeout_ms = 10'000;
    uint64_t tcp_message_timeout_ms = 30'000;           // unfinished message on a connection: closed (anti-slowloris)
    uint64_t tcp_idle_timeout_ms = 600'000;             // inbound connection without traffic: closed
    size_t max_tcp_connections = 256;                   // inbound (accepted) connections at once; more are refused
    size_t max_queued_bytes = size_t{4} * 1024 * 1024;  // per connection, unsent (and for the UDP send queue)
};

using ConnectionId = uint64_t;  // 0 = UDP / none

struct Inbound {
    std::string bytes;  // exactly one message (UDP: the whole datagram)
    Address source;
    TransportKind kind = TransportKind::udp;
    ConnectionId connection = 0;  // TCP: the connection it arrived on
};

// Why a TCP connection went away, for client transactions (RFC 3261
// §8.1.3.1: a transport error counts as a 503) and connector health.
//
// Emitted for outbound connections when the connect succeeds (error 0) or
// fails, and for every connection (outbound or accepted) when it goes away:
//   UV_ECONNREFUSED, UV_ECONNRESET, UV_ENETUNREACH ...  from the socket
//   UV_ETIMEDOUT   connect timeout, unfinished-message timeout (slowloris),
//                  or idle timeout of an accepted connection
//   UV_EOF         the peer closed
//   UV_EPROTO      framing lost (StreamFramer error: bad or missing
//                  Content-Length, headers or body too large); nothing of
//                  the failed message is delivered and the connection is
//                  closed. Answering 400 first is not done here: the
//                  transport has no SIP parser (counted in framing_errors).
//   UV_ENOBUFS     more than max_queued_bytes unsent
// Accepting a connection emits nothing; close() emits nothing. Failures
// found inside send_tcp()/send_on() are reported from a later loop turn,
// never from inside the call. The connection is forgotten before its event:
// the next send_tcp() to the same address opens a new one.
struct ConnectionEvent {
    ConnectionId connection = 0;
    Address peer;
    int error = 0;  // libuv error code (UV_ECONNREFUSED, UV_ETIMEDOUT, UV_EOF ...); 0 = connected
};

// Handlers run on the loop; they may call any method, close() included,
// but must not destroy the Transport. Exceptions they throw are caught and
// logged (never thrown across libuv). Datagrams holding only CR/LF/space
// (CRLF keep-alives some devices send over UDP) are dropped silently.
class Transport {
public:
    Transport(uv_loop_t* loop, TransportLimits limits = {});
    ~Transport();
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    // Binds UDP and TCP on the same address. Port 0: an ephemeral port free
    // for both (UDP picks it, TCP binds the same; retried a few times).
    // Only once per Transport; error codes: already_listening, closed,
    // bind_failed.
    util::Status listen(const Address& local);
    const Address& local() const { return local_; }

    void on_message(std::function<void(Inbound)> handler) { on_message_ = std::move(handler); }
    void on_connection_event(std::function<void(const ConnectionEvent&)> handler) { on_event_ = std::move(handler); }

    // UDP: sends from the listening socket (so responses and rport work).
    // Error codes: not_listening, queue_full, send_failed.
    util::Status send_udp(const Address& to, std::string bytes);
    // TCP: on the persistent outbound connection to `to`, opened on first use
    // (data queued until connected). Returns the connection id; failures
    // arrive later through on_connection_event. Returns 0 (nothing sent)
    // after close() or for an invalid address.
    ConnectionId send_tcp(const Address& to, std::string bytes);
    // Answers on a given connection (the one a request arrived on).
    // Returns false when it is gone.
    bool send_on(ConnectionId connection, std::string bytes);
    // Sends a CRLFCRLF ping on the outbound connection to `to`, if open.
    void ping_tcp(const Address& to);

    // Closes every handle; the loop can then finish. Final: the Transport
    // sends and receives nothing afterwards.
    void close();

    struct Counters {
        uint64_t udp_received = 0, udp_sent = 0, tcp_received = 0, tcp_sent = 0;
        uint64_t framing_errors = 0, oversize_dropped = 0, connections_opened = 0, connections_accepted = 0;
    };
    // tcp_received/tcp_sent count messages (pings and pongs are not);
    // connections_opened counts successful outbound connects;
    // oversize_dropped counts truncated datagrams.
    const Counters& counters() const { return counters_; }

private:
    // Every libuv handle lives on the heap and frees itself from its close
    // callback, so a Transport may be destroyed before the loop has run
    // those callbacks. The callbacks reach the Transport through `owner`,
    // cleared by close().
    struct Connection;  // transport_tcp.cpp
    struct UdpSocket;   // transport_udp.cpp
    struct Listener;    // transport_tcp.cpp
    struct EventTimer;  // transport_tcp.cpp: defers events raised inside send calls
    static constexpr size_t kReadBufferSize = 65535;

    // libuv callbacks (static: they find the Transport through the handle).
    static void on_udp_alloc(uv_handle_t*, size_t, uv_buf_t*);
    static void on_udp_recv(uv_udp_t*, ssize_t, const uv_buf_t*, const sockaddr*, unsigned);
    static void on_tcp_connection(uv_stream_t*, int);
    static void on_tcp_alloc(uv_handle_t*, size_t, uv_buf_t*);
    static void on_tcp_read(uv_stream_t*, ssize_t, const uv_buf_t*);
    static void on_tcp_connect(uv_connect_t*, int);

    // transport_tcp.cpp
    int open_listener(const Address& at);  // 0 or a libuv error
    void close_tcp();
    void accept_one();
    Connection* connection_to(const Address& to);
    bool write(Connection* c, std::string bytes, bool count);
    void read(Connection* c, ssize_t nread, const char* data);
    void arm(Connection* c);
    void expire(Connection* c);
    void drop_connection(Connection* c, int error, bool defer_event);
    void emit(const ConnectionEvent& event);
    void post(const ConnectionEvent& event);
    void deliver(Inbound in);

    uv_loop_t* loop_;
    TransportLimits limits_;
    Address local_;
    UdpSocket* udp_ = nullptr;
    Listener* listener_ = nullptr;
    EventTimer* event_timer_ = nullptr;
    bool closed_ = false;
    // One read buffer for every socket: each read is consumed before the
    // next allocation (UDP datagrams up to 65,535 bytes, rfc-checklist 2.3).
    std::unique_ptr<char[]> read_buffer_;
    // Live connections by id; a Connection frees itself once its handles
    // have closed, after it has left this map.
    std::unordered_map<ConnectionId, Connection*> connections_;
    std::unordered_map<std::string, ConnectionId> outbound_;  // Address::str() -> id
    size_t inbound_count_ = 0;
    uint64_t refused_connections_ = 0;  // over max_tcp_connections (throttles the warning)
    ConnectionId next_connection_ = 1;
    std::function<void(Inbound)> on_message_;
    std::function<void(const ConnectionEvent&)> on_event_;
    Counters counters_;
};

}  // namespace presenced::sip
