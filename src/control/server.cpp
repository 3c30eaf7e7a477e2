// Control socket server on libuv: accept, line framing (<= 64 KiB), one
// answer per request in order, watch event lines, bounded output queues,
// and clean shutdown.
#include "control/server.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/log.hpp"
#include "util/text.hpp"

namespace presenced::control {

using util::cat;

struct Server::Client final : Session {
    uv_pipe_t pipe{};  // the handle's data points back to the Client
    Server* server = nullptr;
    std::string input;           // bytes of the unfinished line
    uint64_t partial_since = 0;  // loop time when input became non-empty, or reading was paused
    bool paused = false;         // not read until its unsent answers drain
    bool closing = false;
    uint64_t watch_id = 0;          // Services::watch id, 0 = not watching
    bool handling = false;          // a request is being answered: its events wait in held
    std::vector<std::string> held;  // event lines that follow that answer
    std::string pending_events;     // event lines (with their newlines) for the next flush
    char read_buffer[16 * 1024];

    void set_watch(uint64_t id) override { server->replace_watch(this, id); }
    void send_event(std::string line) override { server->send_event(this, std::move(line)); }
};

namespace {

struct WriteRequest {
    uv_write_t req{};
    std::string data;
};

// True when something accepts connections on path (a live daemon).
bool socket_answers(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    const bool answers = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return answers;
}

}  // namespace

Server::Server(uv_loop_t* loop, Services& services) : loop_(loop), services_(services) {}

Server::~Server() { stop(); }

util::Status Server::start(const SocketOptions& options) {
    path_ = options.path;
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return util::make_error(
                "socket_in_use", cat("control socket ", path_, " exists and is not a socket; refusing to remove it"));
        if (socket_answers(path_))
            return util::make_error("socket_in_use", cat("another daemon answers on the control socket ", path_));
        log::warn("control: removing stale socket ", path_);
        if (::unlink(path_.c_str()) != 0)
            return util::make_error("socket_in_use",
                                    cat("cannot remove stale socket ", path_, ": ", std::strerror(errno)));
    }

    gid_t gid = static_cast<gid_t>(-1);
    if (!options.group.empty()) {
        group grp{}, *found = nullptr;
        char buf[4096];
        if (getgrnam_r(options.group.c_str(), &grp, buf, sizeof buf, &found) != 0 || !found)
            return util::make_error("bad_group",
                                    cat("control_group ", options.group, " is not a group on this system"));
        gid = found->gr_gid;
    }

    uv_pipe_init(loop_, &listener_, 0);
    listener_.data = this;
    // Bind with no permissions for anyone but the owner, then open up to the
    // configured mode: no window in which the socket is wider than asked.
    const mode_t old_umask = ::umask(0177);
    int rc = uv_pipe_bind(&listener_, path_.c_str());
    ::umask(old_umask);
    if (rc == 0 && gid != static_cast<gid_t>(-1) && ::chown(path_.c_str(), static_cast<uid_t>(-1), gid) != 0)
        rc = -errno;
    if (rc == 0 && ::chmod(path_.c_str(), options.mode) != 0) rc = -errno;
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, on_connection);
    if (rc != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
        ::unlink(path_.c_str());
        return util::make_error("socket_error", cat("cannot listen on control socket ", path_, ": ", uv_strerror(rc)));
    }
    listening_ = true;
    uv_timer_init(loop_, &sweep_);
    sweep_.data = this;
    uv_timer_start(&sweep_, on_sweep, kSweepIntervalMs, kSweepIntervalMs);
    uv_timer_init(loop_, &drop_);
    drop_.data = this;
    uv_timer_init(loop_, &flush_);
    flush_.data = this;
    return util::Ok{};
}

void Server::stop() {
    if (!listening_) return;
    listening_ = false;
    // Every watch ends here, before the daemon tears down what feeds them.
    for (Client* c : std::unordered_set<Client*>(clients_)) close_client(c);
    to_drop_.clear();
    to_flush_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sweep_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&drop_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&flush_), nullptr);
    ::unlink(path_.c_str());
}

size_t Server::watcher_count() const {
    size_t n = 0;
    for (const Client* c : clients_) n += c->watch_id != 0 ? 1 : 0;
    return n;
}

void Server::on_connection(uv_stream_t* listener, int status) {
    auto* self = static_cast<Server*>(listener->data);
    if (status < 0) {
        log::warn("control: accept failed: ", uv_strerror(status));
        return;
    }
    auto* client = new Client;
    client->server = self;
    uv_pipe_init(self->loop_, &client->pipe, 0);
    client->pipe.data = client;
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&client->pipe)) != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(&client->pipe),
                 [](uv_handle_t* h) { delete static_cast<Client*>(h->data); });
        return;
    }
    self->clients_.insert(client);
    if (self->clients_.size() > kMaxClients) {
        self->send(client, error_answer(nullptr, Errc::busy, cat("too many control clients (", kMaxClients, ")")));
        self->close_after_writes(client);
        return;
    }
    uv_read_start(reinterpret_cast<uv_stream_t*>(&client->pipe), on_alloc, on_read);
}

void Server::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* client = static_cast<Client*>(handle->data);
    *buf = uv_buf_init(client->read_buffer, sizeof client->read_buffer);
}

void Server::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* client = static_cast<Client*>(stream->data);
    Server* self = client->server;
    if (nread < 0) {
        // EOF or error: answers already queued are still flushed.
        self->close_after_writes(client);
        return;
    }
    if (nread > 0) self->handle_input(client, buf->base, static_cast<size_t>(nread));
}

void Server::handle_input(Client* client, const char* data, size_t size) {
    if (size > 0) client->input.append(data, size);
    size_t start = 0;
    auto* stream = reinterpret_cast<uv_stream_t*>(&client->pipe);
    while (!client->closing) {
        if (uv_stream_get_write_queue_size(stream) > kPauseQueuedAnswerBytes) {
            // The rest waits in input until on_written() resumes this client.
            client->paused = true;
            uv_read_stop(stream);
            break;
        }
        const size_t newline = client->input.find('\n', start);
        if (newline == std::string::npos) break;
        std::string_view line(client->input.data() + start, newline - start);
        start = newline + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > kMaxLineBytes) {
            send(client,
                 error_answer(nullptr, Errc::bad_request, cat("request line longer than ", kMaxLineBytes, " bytes")));
            close_after_writes(client);
            return;
        }
        if (util::trim(line).empty()) continue;  // blank lines are harmless (hand-typed sessions)
        // Events raised while the request is handled (a watch the service
        // feeds at once) follow its answer: the answer comes first.
        client->handling = true;
        std::string answer = dispatch(services_, line, client);
        client->handling = false;
        send(client, std::move(answer));
        std::vector<std::string> held;
        held.swap(client->held);
        for (auto& event : held) send(client, std::move(event));
    }
    client->input.erase(0, start);
    if (client->closing) return;
    if (client->paused) {
        if (client->partial_since == 0) client->partial_since = uv_now(loop_);
        return;
    }
    if (client->input.size() > kMaxLineBytes) {
        send(client,
             error_answer(nullptr, Errc::bad_request, cat("request line longer than ", kMaxLineBytes, " bytes")));
        close_after_writes(client);
        return;
    }
    if (client->input.empty())
        client->partial_since = 0;
    else if (client->partial_since == 0)
        client->partial_since = uv_now(loop_);
}

bool Server::write_line(Client* client, std::string line) {
    line += '\n';
    return write_bytes(client, std::move(line));
}

bool Server::write_bytes(Client* client, std::string bytes) {
    auto* stream = reinterpret_cast<uv_stream_t*>(&client->pipe);
    if (const size_t unsent = uv_stream_get_write_queue_size(stream); unsent > kMaxQueuedAnswerBytes) {
        log::warn("control: dropping a client that does not read what it is sent (", unsent, " bytes unsent",
                  client->watch_id != 0 ? ", watching" : "", ")");
        return false;
    }
    auto* w = new WriteRequest;
    w->data = std::move(bytes);
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, stream, &buf, 1, on_written) != 0) {
        delete w;
        return false;
    }
    return true;
}

void Server::send(Client* client, std::string line) {
    if (client->closing) return;
    // Events queued before this answer go first: the order stays as it happened.
    if (!flush_events(client) || !write_line(client, std::move(line))) close_client(client);
}

void Server::send_event(Client* client, std::string line) {
    if (client->closing || to_drop_.count(client) != 0) return;
    if (client->handling) {
        client->held.push_back(std::move(line));
        return;
    }
    // Coalesced: every event of this loop turn goes out in one write on the
    // next turn. One write (and one wake-up of the reader) per event was
    // a fifth of the daemon's CPU per NOTIFY with a watcher (issue 6).
    auto* stream = reinterpret_cast<uv_stream_t*>(&client->pipe);
    if (uv_stream_get_write_queue_size(stream) + client->pending_events.size() + line.size() > kMaxQueuedAnswerBytes) {
        log::warn("control: dropping a watching client that does not read its events (",
                  uv_stream_get_write_queue_size(stream) + client->pending_events.size(), " bytes unsent)");
        to_drop_.insert(client);
        uv_timer_start(&drop_, on_drop, 0, 0);
        return;
    }
    if (client->pending_events.empty()) {
        to_flush_.insert(client);
        if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&flush_))) uv_timer_start(&flush_, on_flush, 0, 0);
    }
    client->pending_events += line;
    client->pending_events += '\n';
}

bool Server::flush_events(Client* client) {
    to_flush_.erase(client);
    if (client->pending_events.empty()) return true;
    std::string bytes;
    bytes.swap(client->pending_events);
    return write_bytes(client, std::move(bytes));
}

void Server::on_flush(uv_timer_t* timer) {
    auto* self = static_cast<Server*>(timer->data);
    for (Client* c : std::unordered_set<Client*>(self->to_flush_)) {
        if (c->closing) {  // hung up or being dropped: its events stop
            self->to_flush_.erase(c);
            c->pending_events.clear();
            continue;
        }
        if (self->flush_events(c)) continue;
        self->to_drop_.insert(c);
        uv_timer_start(&self->drop_, on_drop, 0, 0);
    }
}

void Server::on_drop(uv_timer_t* timer) {
    auto* self = static_cast<Server*>(timer->data);
    for (Client* c : std::unordered_set<Client*>(self->to_drop_)) self->close_client(c);
}

void Server::replace_watch(Client* client, uint64_t id) {
    end_watch(client);
    client->watch_id = id;
}

void Server::end_watch(Client* client) {
    if (client->watch_id == 0) return;
    const uint64_t id = client->watch_id;
    client->watch_id = 0;
    services_.unwatch(id);
}

void Server::on_written(uv_write_t* req, int status) {
    uv_stream_t* stream = req->handle;  // read before req is freed with its WriteRequest
    delete static_cast<WriteRequest*>(req->data);
    auto* client = static_cast<Client*>(stream->data);
    if (status != 0 || client->closing || !client->paused) return;
    if (uv_stream_get_write_queue_size(stream) > kPauseQueuedAnswerBytes / 2) return;
    // Drained: read again and answer what was already received.
    client->paused = false;
    client->partial_since = 0;
    uv_read_start(stream, on_alloc, on_read);
    client->server->handle_input(client, nullptr, 0);
}

void Server::close_client(Client* client) {
    if (client->closing && !clients_.count(client)) return;
    client->closing = true;
    end_watch(client);
    clients_.erase(client);
    to_drop_.erase(client);
    to_flush_.erase(client);
    auto* handle = reinterpret_cast<uv_handle_t*>(&client->pipe);
    if (!uv_is_closing(handle)) uv_close(handle, [](uv_handle_t* h) { delete static_cast<Client*>(h->data); });
}

void Server::close_after_writes(Client* client) {
    if (client->closing) return;
    client->closing = true;
    end_watch(client);  // a watcher that hung up: its events stop at once
    auto* stream = reinterpret_cast<uv_stream_t*>(&client->pipe);
    uv_read_stop(stream);
    auto* req = new uv_shutdown_t;
    req->data = client;
    if (uv_shutdown(req, stream, [](uv_shutdown_t* r, int) {
            auto* c = static_cast<Client*>(r->data);
            delete r;
            c->server->close_client(c);
        }) != 0) {
        delete req;
        close_client(client);
    }
}

void Server::on_sweep(uv_timer_t* timer) {
    auto* self = static_cast<Server*>(timer->data);
    const uint64_t now = uv_now(self->loop_);
    for (Client* c : std::unordered_set<Client*>(self->clients_)) {
        if (c->partial_since != 0 && now - c->partial_since > kPartialLineTimeoutMs) {
            log::info("control: closing a client that stalled (half a line, or answers it does not read)");
            self->close_client(c);
        }
    }
}

}  // namespace presenced::control
