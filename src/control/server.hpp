// The control socket: a Unix stream socket speaking newline-delimited JSON.
// Many clients at once; a slow, stalled or flooding client is cut off and
// never blocks the loop or the others. A watching client also gets event
// lines (cmd_watch), bounded by the same cap as answers.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <unordered_set>

#include "control/commands.hpp"
#include "util/error.hpp"

namespace presenced::control {

// Tunables of the socket server.
inline constexpr size_t kMaxClients = 1024;  // more are told "busy" and closed
// Backpressure: a client with this much unsent is not read until it drains,
// so one pipelining client cannot hold the loop (answers stay in order).
inline constexpr size_t kPauseQueuedAnswerBytes = size_t{256} * 1024;
// A client with this much unsent (answers and watch events) is dropped.
inline constexpr size_t kMaxQueuedAnswerBytes = size_t{4} * 1024 * 1024;
inline constexpr uint64_t kPartialLineTimeoutMs = 30'000;  // half a line for this long: closed
inline constexpr uint64_t kSweepIntervalMs = 5'000;

struct SocketOptions {
    std::string path;
    unsigned mode = 0660;
    std::string group;  // "" = leave the daemon's group
};

class Server {
public:
    Server(uv_loop_t* loop, Services& services);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Refuses when another daemon answers on the path; removes a stale
    // socket file; creates the socket with the mode and group asked for.
    util::Status start(const SocketOptions& options);
    // Closes every client and the listening socket, and removes the file.
    void stop();

    size_t client_count() const { return clients_.size(); }
    size_t watcher_count() const;

private:
    struct Client;
    static void on_connection(uv_stream_t* server, int status);
    static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_sweep(uv_timer_t* timer);
    static void on_drop(uv_timer_t* timer);

    void handle_input(Client* client, const char* data, size_t size);
    // Queues one line; false (nothing queued) when the client has more than
    // kMaxQueuedAnswerBytes unsent or the write fails: the caller drops it.
    bool write_line(Client* client, std::string line);
    bool write_bytes(Client* client, std::string bytes);
    // Writes the client's coalesced event lines now (false: drop the client).
    bool flush_events(Client* client);
    static void on_flush(uv_timer_t* timer);
    void send(Client* client, std::string line);
    // From a watch sink: inside the daemon's event delivery, so a client
    // to drop is only marked here and closed from on_drop (closing ends
    // its watch, and Services::unwatch must not run inside its own sink).
    void send_event(Client* client, std::string line);
    void replace_watch(Client* client, uint64_t id);
    void end_watch(Client* client);
    void close_client(Client* client);
    void close_after_writes(Client* client);
    static void on_written(uv_write_t* req, int status);

    uv_loop_t* loop_;
    Services& services_;
    uv_pipe_t listener_{};
    uv_timer_t sweep_{};
    uv_timer_t drop_{};   // fires at once: closes the clients in to_drop_
    uv_timer_t flush_{};  // fires on the next loop turn: writes the clients' coalesced events
    bool listening_ = false;
    std::string path_;
    std::unordered_set<Client*> clients_;
    std::unordered_set<Client*> to_drop_;   // watchers past the cap, closed from on_drop
    std::unordered_set<Client*> to_flush_;  // clients with pending_events
};

}  // namespace presenced::control
