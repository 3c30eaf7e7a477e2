// The write-behind cache: dirty rows coalesced on the loop, one flush at a
// time on libuv's thread pool with everything it needs moved into the work
// item, retries after failures, and a synchronous final flush at close.
#include "store/store.hpp"

#include <chrono>
#include <ctime>
#include <mutex>
#include <unordered_set>
#include <utility>

#include "store/schema.hpp"
#include "store/writer.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace presenced::store {

using detail::Batch;
using util::cat;

namespace {

// Cuts text to at most max bytes without splitting a UTF-8 sequence: the
// cut moves back over continuation bytes (10xxxxxx) to a character start.
void cap_utf8(std::string& text, size_t max) {
    if (text.size() <= max) return;
    size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
}

util::Error closed_error(const std::string& path) {
    return util::make_error("store_closed", cat("the store ", path, " is closed"));
}

}  // namespace

struct Store::Impl {
    struct Work;

    uv_loop_t* loop = nullptr;
    std::string path;
    Options options;
    Stats* stats = nullptr;  // the Store's, updated on the loop thread only
    detail::Db read_db;
    std::unique_ptr<detail::Writer> writer;  // the worker's connection; inside the Work while one is in flight
    // On the heap: its close callback frees it, and may run after ~Store.
    uv_timer_t* timer = nullptr;
    bool timer_armed = false;
    bool retry_wait = false;       // a flush failed: nothing starts before the timer fires (never spin)
    bool flush_requested = false;  // flush() without a callback
    bool closed = false;
    Work* in_flight = nullptr;

    detail::PresenceMap dirty;
    std::unordered_set<std::string> forgotten;
    std::map<std::string, detail::NoteChange> notes;
    std::map<std::string, std::vector<UserRow>> users;
    std::vector<Done> waiters;  // for the next flush
    std::string last_logged_error;

    bool has_data() const { return !dirty.empty() || !forgotten.empty() || !notes.empty() || !users.empty(); }
    // What an admin entered, or a full buffer, does not wait for the timer.
    bool urgent() const {
        return flush_requested || !notes.empty() || !users.empty() || !waiters.empty() ||
               dirty.size() >= options.max_pending;
    }
    void update_pending();

    void schedule();
    void arm_timer();
    void stop_timer();
    void start_flush();
    Batch take_batch();
    void requeue(Batch batch);
    std::vector<Done> complete(Work& work);
    void close();

    static void on_timer(uv_timer_t* timer);
    static void run_work(uv_work_t* req);
    static void after_work(uv_work_t* req, int status);
};

// One flush on its way through the thread pool. Only the worker touches
// writer and batch until it has run; the loop reads them again in the
// after-work callback, or in close() once it holds the mutex.
struct Store::Impl::Work {
    uv_work_t req{};
    std::mutex mutex;       // held by the worker for its whole transaction
    Impl* owner = nullptr;  // null once close() took over: after-work only frees this
    std::unique_ptr<detail::Writer> writer;
    Batch batch;
    std::vector<Store::Done> dones;  // called on the loop after the commit
    util::Status result = util::Ok{};
    std::chrono::microseconds elapsed{};
    bool ran = false;
    bool cancelled = false;  // close() wrote the batch itself: do nothing
};

void Store::Impl::update_pending() {
    stats->pending = dirty.size() + (in_flight ? in_flight->batch.presence.size() : 0);
}

// Starts a flush when one is due, else makes sure the timer runs. May call
// Done callbacks (an empty flush): callers touch nothing after it.
void Store::Impl::schedule() {
    if (closed || in_flight) return;  // after-work schedules again
    if (retry_wait) {
        if (has_data() || !waiters.empty() || flush_requested) arm_timer();
        return;
    }
    if (urgent()) {
        start_flush();
    } else if (has_data()) {
        arm_timer();
    }
}

void Store::Impl::arm_timer() {
    if (timer_armed) return;  // the first dirty row sets the deadline; later ones do not push it back
    timer_armed = true;
    uv_timer_start(timer, on_timer, options.flush_interval_ms, 0);
}

void Store::Impl::stop_timer() {
    if (!timer_armed) return;
    timer_armed = false;
    uv_timer_stop(timer);
}

void Store::Impl::on_timer(uv_timer_t* timer) {
    auto* self = static_cast<Impl*>(timer->data);
    self->timer_armed = false;
    self->retry_wait = false;
    if (!self->in_flight) self->start_flush();
}

Batch Store::Impl::take_batch() {
    Batch batch;
    batch.forgotten.assign(forgotten.begin(), forgotten.end());
    forgotten.clear();
    batch.presence.swap(dirty);
    batch.notes.swap(notes);
    batch.users.swap(users);
    return batch;
}

// Puts back what a failed (or abandoned) flush did not write, unless
// something newer for the same key arrived meanwhile.
void Store::Impl::requeue(Batch batch) {
    // Rows first, against the users forgotten since: this batch's own
    // forgets came before its rows (forget_user drops the dirty rows).
    for (auto& [key, row] : batch.presence) {
        if (forgotten.count(row.username) == 0) dirty.try_emplace(key, std::move(row));
    }
    forgotten.insert(batch.forgotten.begin(), batch.forgotten.end());
    for (auto& [username, change] : batch.notes) notes.try_emplace(username, std::move(change));
    for (auto& [source, rows] : batch.users) users.try_emplace(source, std::move(rows));
}

void Store::Impl::start_flush() {
    stop_timer();
    flush_requested = false;
    Batch batch = take_batch();
    std::vector<Done> dones = std::move(waiters);
    waiters.clear();
    if (batch.empty()) {
        for (auto& done : dones)
            if (done) done(util::Ok{});
        return;
    }
    auto work = std::make_unique<Work>();
    work->req.data = work.get();
    work->owner = this;
    work->writer = std::move(writer);
    work->batch = std::move(batch);
    work->dones = std::move(dones);
    const int rc = uv_queue_work(loop, &work->req, run_work, after_work);
    if (rc != 0) {
        // Not expected (only an invalid loop fails); keep everything for the
        // next interval rather than losing it.
        log::error("store: cannot queue a flush: ", uv_strerror(rc));
        writer = std::move(work->writer);
        requeue(std::move(work->batch));
        waiters = std::move(work->dones);
        retry_wait = true;
        arm_timer();
        return;
    }
    in_flight = work.release();
    update_pending();
}

void Store::Impl::run_work(uv_work_t* req) {
    auto* work = static_cast<Work*>(req->data);
    std::lock_guard lock(work->mutex);
    if (work->cancelled) return;
    const auto start = std::chrono::steady_clock::now();
    work->result = work->writer->write(work->batch);
    work->elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
    work->ran = true;
}

// Accounts for a flush that ran: stats, the error log (once per distinct
// error), the retry. Returns the callbacks to call with its result.
std::vector<Store::Done> Store::Impl::complete(Work& work) {
    if (work.result) {
        ++stats->flushes;
        stats->rows_written += work.batch.presence.size();
        log::debug("store: flushed ", work.batch.presence.size(), " presence rows in ", work.elapsed.count(), " us");
        if (!last_logged_error.empty()) log::info("store: writes to ", path, " succeed again");
        last_logged_error.clear();
    } else {
        ++stats->errors;
        stats->last_error = work.result.error().message;
        if (stats->last_error != last_logged_error)
            log::error("store: flush to ", path, " failed, retrying every ", options.flush_interval_ms,
                       " ms: ", stats->last_error);
        last_logged_error = stats->last_error;
        requeue(std::move(work.batch));
        retry_wait = true;
    }
    return std::move(work.dones);
}

void Store::Impl::after_work(uv_work_t* req, int status) {
    std::unique_ptr<Work> work(static_cast<Work*>(req->data));
    Impl* self = work->owner;
    if (!self) return;  // close() already took care of it
    // Only uv_cancel() skips the worker, and nothing here calls it; should
    // it happen, the batch is retried like any failed flush.
    if (!work->ran) work->result = util::make_error("write_failed", cat("flush not run: ", uv_strerror(status)));
    self->in_flight = nullptr;
    self->writer = std::move(work->writer);
    std::vector<Done> dones = self->complete(*work);
    self->update_pending();
    self->schedule();
    // Last: a callback may close or even destroy the Store.
    for (auto& done : dones)
        if (done) done(work->result);
}

void Store::Impl::close() {
    if (closed) return;
    closed = true;
    timer_armed = false;
    uv_timer_stop(timer);
    uv_close(reinterpret_cast<uv_handle_t*>(timer), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer = nullptr;

    std::vector<Done> dones, committed;  // committed: of a flush in flight that succeeded
    if (in_flight) {
        Work* work = std::exchange(in_flight, nullptr);
        // Waits for the worker's transaction; the Work itself stays alive
        // until its after-work callback, which now only frees it.
        std::lock_guard lock(work->mutex);
        work->owner = nullptr;
        writer = std::move(work->writer);
        if (work->ran) {
            // A failure re-queued its rows: their callbacks wait for the final write.
            (work->result ? committed : dones) = complete(*work);
        } else {
            work->cancelled = true;  // its rows go into the final write below
            requeue(std::move(work->batch));
            dones = std::move(work->dones);
        }
    }
    writer.reset();  // closes the worker's connection

    Batch batch = take_batch();
    for (auto& done : waiters) dones.push_back(std::move(done));
    waiters.clear();
    util::Status result = util::Ok{};
    if (!batch.empty()) {
        detail::Writer final_writer(std::move(read_db));
        result = final_writer.write(batch);
        if (result) {
            ++stats->flushes;
            stats->rows_written += batch.presence.size();
        } else {
            ++stats->errors;
            stats->last_error = result.error().message;
            log::error("store: final flush to ", path, " failed; lost ", batch.presence.size(), " presence rows, ",
                       batch.notes.size(), " notes, ", batch.users.size(), " imported user sets: ", stats->last_error);
        }
    }  // the final writer closes the read connection; the last close checkpoints the WAL
    read_db.reset();
    stats->pending = 0;
    for (auto& done : committed)
        if (done) done(util::Ok{});
    for (auto& done : dones)
        if (done) done(result);
}

// ---- Store ----

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)), path_(impl_->path) { impl_->stats = &stats_; }

Store::~Store() { close(); }

util::Result<std::unique_ptr<Store>> Store::open(uv_loop_t* loop, const std::string& path, Options options) {
    auto read_db = detail::open_database(path);
    if (!read_db) return read_db.error();
    auto write_db = detail::open_connection(path);
    if (!write_db) return write_db.error();
    auto impl = std::make_unique<Impl>();
    impl->loop = loop;
    impl->path = path;
    impl->options = options;
    if (impl->options.max_pending == 0) impl->options.max_pending = 1;
    impl->read_db = std::move(*read_db);
    impl->writer = std::make_unique<detail::Writer>(std::move(*write_db));
    impl->timer = new uv_timer_t;
    uv_timer_init(loop, impl->timer);
    impl->timer->data = impl.get();
    return std::unique_ptr<Store>(new Store(std::move(impl)));
}

void Store::close() { impl_->close(); }

void Store::put_presence(PresenceRow row) {
    Impl& s = *impl_;
    if (s.closed) return;
    ++stats_.put_calls;
    if (row.detail.size() > kMaxDetailBytes) row.detail.clear();  // a cache, not an archive
    cap_utf8(row.message, kMaxMessageBytes);
    cap_utf8(row.last_reason, kMaxMessageBytes);
    std::string key = detail::presence_key(row);
    s.dirty.insert_or_assign(std::move(key), std::move(row));
    s.update_pending();
    s.schedule();
}

void Store::forget_user(const std::string& username) {
    Impl& s = *impl_;
    if (s.closed) return;
    std::erase_if(s.dirty, [&](const auto& entry) { return entry.second.username == username; });
    s.forgotten.insert(username);
    s.update_pending();
    s.schedule();
}

void Store::put_note(const std::string& username, const std::string& text, Done done) {
    Impl& s = *impl_;
    if (s.closed) {
        if (done) done(closed_error(path_));
        return;
    }
    s.notes.insert_or_assign(username, detail::NoteChange{text, static_cast<int64_t>(std::time(nullptr))});
    if (done) s.waiters.push_back(std::move(done));
    s.schedule();
}

void Store::replace_users(const std::string& source, std::vector<UserRow> rows, Done done) {
    Impl& s = *impl_;
    if (s.closed) {
        if (done) done(closed_error(path_));
        return;
    }
    s.users.insert_or_assign(source, std::move(rows));
    if (done) s.waiters.push_back(std::move(done));
    s.schedule();
}

void Store::flush(Done done) {
    Impl& s = *impl_;
    if (s.closed) {
        if (done) done(closed_error(path_));
        return;
    }
    if (done) {
        s.waiters.push_back(std::move(done));
    } else {
        s.flush_requested = true;
    }
    s.schedule();
}

// ---- reads, on the loop thread's connection ----

namespace {

template <class Row>
util::Result<std::vector<Row>> query(sqlite3* db, const std::string& path, const char* sql,
                                     Row (*read)(sqlite3_stmt*)) {
    if (!db) return closed_error(path);
    auto stmt = detail::prepare(db, sql);
    if (!stmt) return util::make_error("read_failed", cat(path, ": ", stmt.error().message));
    std::vector<Row> rows;
    int rc;
    while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) rows.push_back(read(stmt->get()));
    if (rc != SQLITE_DONE) return util::make_error("read_failed", detail::describe(db, rc, cat("reading ", path)));
    return rows;
}

PresenceRow read_presence(sqlite3_stmt* s) {
    PresenceRow row;
    row.username = detail::column_text(s, 0);
    row.kind = detail::column_text(s, 1);
    row.connector = detail::column_text(s, 2);
    row.state = detail::column_text(s, 3);
    row.message = detail::column_text(s, 4);
    row.detail = detail::column_text(s, 5);
    row.received_at = sqlite3_column_int64(s, 6);
    row.last_code = sqlite3_column_int(s, 7);
    row.last_reason = detail::column_text(s, 8);
    return row;
}

UserRow read_user(sqlite3_stmt* s) {
    UserRow row;
    row.username = detail::column_text(s, 0);
    row.display_name = detail::column_text(s, 1);
    row.department = detail::column_text(s, 2);
    row.extension = detail::column_text(s, 3);
    row.rich_uri = detail::column_text(s, 4);
    row.telephony_uri = detail::column_text(s, 5);
    row.source = detail::column_text(s, 6);
    return row;
}

std::pair<std::string, std::string> read_note(sqlite3_stmt* s) {
    return {detail::column_text(s, 0), detail::column_text(s, 1)};
}

}  // namespace

util::Result<std::vector<PresenceRow>> Store::load_presence(bool with_detail) const {
    // Without the documents a warm start of 100,000 sources reads a tenth of
    // the bytes (store_bench).
    return query(impl_->read_db.get(), path_,
                 with_detail ? "SELECT username, kind, connector, state, message, detail, received_at, last_code, "
                               "last_reason FROM presence ORDER BY username, kind, connector"
                             : "SELECT username, kind, connector, state, message, '', received_at, last_code, "
                               "last_reason FROM presence ORDER BY username, kind, connector",
                 read_presence);
}

util::Result<std::vector<UserRow>> Store::load_users() const {
    return query(impl_->read_db.get(), path_,
                 "SELECT username, display_name, department, extension, rich_uri, telephony_uri, source "
                 "FROM users ORDER BY username",
                 read_user);
}

util::Result<std::map<std::string, std::string>> Store::load_notes() const {
    auto rows = query(impl_->read_db.get(), path_, "SELECT username, text FROM notes", read_note);
    if (!rows) return rows.error();
    return std::map<std::string, std::string>(rows->begin(), rows->end());
}

}  // namespace presenced::store

namespace presenced::store {

util::Status Store::put_note_now(const std::string& username, const std::string& text) {
    if (impl_->closed) return closed_error(path_);
    sqlite3* db = impl_->read_db.get();
    const char* sql = text.empty() ? detail::kDeleteNote : detail::kSetNote;
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
    detail::Stmt stmt(raw);
    if (rc != SQLITE_OK) return util::Error{"write_failed", detail::describe(db, rc, "note")};
    detail::bind_text(stmt.get(), 1, username);
    if (!text.empty()) {
        detail::bind_text(stmt.get(), 2, text);
        sqlite3_bind_int64(stmt.get(), 3, static_cast<sqlite3_int64>(std::time(nullptr)));
    }
    rc = sqlite3_step(stmt.get());  // autocommit: durable in the WAL once it returns
    if (rc != SQLITE_DONE) return util::Error{"write_failed", detail::describe(db, rc, "note")};
    // A queued write of this user's note must not undo this one.
    impl_->notes.erase(username);
    return util::Ok{};
}

}  // namespace presenced::store
