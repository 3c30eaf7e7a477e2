// The state cache and users directory in SQLite (presenced(8) STORE): one
// database file, WAL, synchronous=NORMAL, schema versioned with PRAGMA
// user_version and migrated forward at open. Presence rows are coalesced in
// memory per (user, kind, connector) and written in one transaction at most
// every flush_interval_ms (or sooner when max_pending rows are dirty) on
// libuv's thread pool, on the store's own connection, so the loop never
// waits for the disk. What an admin enters (notes, imported users) is
// flushed at once; put_note_now commits before it returns.
#pragma once

#include <uv.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "util/error.hpp"

namespace presenced::store {

// Schema versions: 1 = users, notes, presence; 2 = presence gains the
// subscription outcome (last_code, last_reason). Migrations run in order.
inline constexpr int kSchemaVersion = 2;
// Bounded size: a cached detail document (entries/dialogs as JSON) longer
// than this is stored truncated to "" (the state and message are kept).
inline constexpr size_t kMaxDetailBytes = size_t{16} * 1024;
inline constexpr size_t kMaxMessageBytes = 1024;

struct Options {
    uint64_t flush_interval_ms = 500;  // daemon.flush_interval_ms
    // Dirty rows that trigger a flush before the interval. Large: a flush has
    // a fixed cost on the loop thread, so fewer, bigger transactions keep a
    // NOTIFY flood fast (store_bench: +37% loop CPU at 1,000, +13% at 10,000).
    size_t max_pending = 10'000;
};

// One cached (user, kind, connector) source.
struct PresenceRow {
    std::string username, kind, connector;  // kind: "rich" | "telephony"
    std::string state;                      // its own state name
    std::string message;
    std::string detail;       // JSON: entries (rich) or dialogs (telephony); "" when none or too large
    int64_t received_at = 0;  // epoch seconds of the body it came from
    int last_code = 0;        // last final response to a SUBSCRIBE
    std::string last_reason;
    bool operator==(const PresenceRow&) const = default;
};

// A user imported from CSV (config users are not stored).
struct UserRow {
    std::string username, display_name, department, extension, rich_uri, telephony_uri;
    std::string source;  // where it came from: "import:<file name>" or "csv:<path>"
    bool operator==(const UserRow&) const = default;
};

struct Stats {
    uint64_t flushes = 0;       // transactions committed
    uint64_t rows_written = 0;  // presence rows upserted in them
    uint64_t put_calls = 0;     // put_presence() calls (rows_written is smaller when coalescing works)
    uint64_t errors = 0;        // failed flushes (retried later)
    std::string last_error;
    size_t pending = 0;  // dirty rows not yet flushed
};

class Store {
public:
    using Done = std::function<void(util::Status)>;

    // Opens or creates path and migrates it to kSchemaVersion. Errors
    // (util::Error codes): "schema_too_new" (written by a newer presenced:
    // refused, never touched), "open_failed" (cannot create/open, e.g. the
    // directory is missing or not writable). A file that is not a SQLite
    // database or fails PRAGMA quick_check is moved aside to
    // "<path>.corrupt-<epoch seconds>" (and its -wal/-shm), logged at error
    // level with both paths and what is lost, and a new database is created.
    static util::Result<std::unique_ptr<Store>> open(uv_loop_t* loop, const std::string& path, Options options = {});
    ~Store();  // close() if not done
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Reads, on the calling thread; meant for start-up before the loop serves.
    // Errors: "read_failed", "store_closed".
    // with_detail false: detail is "" in every row (a warm start needs only the states).
    util::Result<std::vector<PresenceRow>> load_presence(bool with_detail = true) const;
    util::Result<std::vector<UserRow>> load_users() const;
    util::Result<std::map<std::string, std::string>> load_notes() const;

    // Presence: last value per (username, kind, connector) wins; written at
    // the next flush. Never blocks.
    void put_presence(PresenceRow row);
    // Removes every cached row of a user (a user removed from the directory).
    void forget_user(const std::string& username);

    // Admin data: written in a flush started at once; done(ok) only after
    // the commit. text "" deletes the note. A failed commit calls done with
    // "write_failed" and the write is retried every flush_interval_ms (so
    // the file catches up with the model); after close(), "store_closed".
    void put_note(const std::string& username, const std::string& text, Done done);
    // The same, committed before it returns, on the calling (loop) thread:
    // for the note command, whose answer must mean "on disk". It may wait
    // for a flush in flight (one transaction, tens of milliseconds for
    // 10,000 rows; at most kBusyTimeoutMs). A later put_note of the same
    // user in the queue is not affected (last write wins).
    util::Status put_note_now(const std::string& username, const std::string& text);
    // Replaces the set of imported users from one source with rows (in one
    // transaction), leaving other sources' rows alone. Each row is stored
    // with this source; a username already imported from another source
    // moves to this one (username is the key).
    void replace_users(const std::string& source, std::vector<UserRow> rows, Done done);

    // Flushes what is dirty now; done after the commit (or at once when clean).
    void flush(Done done = {});
    // Final synchronous flush on the calling thread, then closes the
    // database. Waits for a flush in flight first. Idempotent. Done
    // callbacks still waiting are called from inside close() with the
    // result of the final write.
    void close();

    const Stats& stats() const { return stats_; }
    const std::string& path() const { return path_; }

private:
    struct Impl;
    explicit Store(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    std::string path_;
    Stats stats_;
};

// For tests of migrations: creates path at schema version `version`
// (1..kSchemaVersion) by running only the migrations up to it.
util::Status create_at_version(const std::string& path, int version);

}  // namespace presenced::store
