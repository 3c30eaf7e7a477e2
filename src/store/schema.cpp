// The schema and its forward migrations, and opening a database file as
// presenced(8) STORE promises: a newer schema is refused untouched, a
// corrupt file is set aside (never deleted: it may hold an admin's notes),
// and a good one is migrated forward one transaction per version.
#include "store/schema.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iterator>

#include "store/store.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace presenced::store {

using util::cat;

namespace {

// Migration i (0-based) takes the schema from version i to i + 1. Append
// only: a released migration never changes, a new version adds one.
constexpr const char* kMigrations[] = {
    // 1: the imported users directory, admin notes, and the presence cache.
    R"sql(
CREATE TABLE users (
    username      TEXT PRIMARY KEY NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    department    TEXT NOT NULL DEFAULT '',
    extension     TEXT NOT NULL DEFAULT '',
    rich_uri      TEXT NOT NULL DEFAULT '',
    telephony_uri TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL
);
CREATE INDEX users_by_source ON users (source);
CREATE TABLE notes (
    username   TEXT PRIMARY KEY NOT NULL,
    text       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE presence (
    username    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    connector   TEXT NOT NULL,
    state       TEXT NOT NULL,
    message     TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    received_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (username, kind, connector)
);
)sql",
    // 2: the outcome of the last SUBSCRIBE, kept with each cached source.
    R"sql(
ALTER TABLE presence ADD COLUMN last_code INTEGER NOT NULL DEFAULT 0;
ALTER TABLE presence ADD COLUMN last_reason TEXT NOT NULL DEFAULT '';
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion, "one migration per schema version");

// quick_check lists up to this many problems in the log line.
constexpr int kMaxReportedProblems = 3;
// Names tried for the set-aside copy before giving up (".corrupt-<t>.<n>").
constexpr int kMaxAsideNames = 100;
// Files SQLite keeps next to the database, moved along with it.
constexpr const char* kSideFiles[] = {"-wal", "-shm", "-journal"};

bool is_corruption(int rc) {
    const int primary = rc & 0xff;
    return primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT;
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

util::Result<detail::Db> raw_open(const std::string& path, int flags) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    detail::Db db(raw);
    if (rc != SQLITE_OK)
        return util::make_error(
            "open_failed", cat("cannot open database ", path, ": ", raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, detail::kBusyTimeoutMs);
    return db;
}

// Steps a one-column query; value gets the first row's integer. Returns the
// SQLite result code (SQLITE_OK when it ran to the end).
int query_int(sqlite3* db, const char* sql, int& value) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
    detail::Stmt stmt(raw);
    if (rc != SQLITE_OK) return rc;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) value = sqlite3_column_int(raw, 0);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

// PRAGMA quick_check: problems gets what it found besides "ok".
int quick_check(sqlite3* db, std::string& problems) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &raw, nullptr);
    detail::Stmt stmt(raw);
    if (rc != SQLITE_OK) return rc;
    int reported = 0;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
        const std::string line = detail::column_text(raw, 0);
        if (line == "ok" || reported++ >= kMaxReportedProblems) continue;
        problems += problems.empty() ? line : "; " + line;
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

enum class Health { good, corrupt, too_new };
struct Probe {
    Health health = Health::good;
    int version = 0;
    std::string problem;  // why it is corrupt
};

// Looks at the file before anything writes to it (journal_mode=WAL would
// rewrite the header of a database we must leave alone).
util::Result<Probe> probe(sqlite3* db, const std::string& path) {
    Probe result;
    int rc = query_int(db, "PRAGMA user_version", result.version);
    if (is_corruption(rc)) return Probe{Health::corrupt, 0, detail::describe(db, rc, "reading the header")};
    if (rc != SQLITE_OK) return util::make_error("open_failed", detail::describe(db, rc, cat("cannot read ", path)));
    if (result.version > kSchemaVersion) return Probe{Health::too_new, result.version, ""};
    std::string problems;
    rc = quick_check(db, problems);
    if (is_corruption(rc)) return Probe{Health::corrupt, result.version, detail::describe(db, rc, "quick_check")};
    if (rc != SQLITE_OK) return util::make_error("open_failed", detail::describe(db, rc, cat("cannot check ", path)));
    if (!problems.empty()) return Probe{Health::corrupt, result.version, "quick_check: " + problems};
    return result;
}

// Renames path (and its side files) to "<path>.corrupt-<epoch seconds>",
// never over an earlier copy. Returns the new name.
util::Result<std::string> move_aside(const std::string& path) {
    const std::string base = cat(path, ".corrupt-", static_cast<long long>(std::time(nullptr)));
    std::string aside = base;
    for (int n = 1; exists(aside) && n < kMaxAsideNames; ++n) aside = cat(base, ".", n);
    if (exists(aside))
        return util::make_error("open_failed", cat("corrupt database ", path, ": no free name to move it aside"));
    if (std::rename(path.c_str(), aside.c_str()) != 0)
        return util::make_error("open_failed",
                                cat("cannot move corrupt database ", path, " to ", aside, ": ", std::strerror(errno)));
    for (const char* suffix : kSideFiles) {
        const std::string side = path + suffix;
        // A stale -wal left behind would be replayed into the new database.
        if (exists(side) && std::rename(side.c_str(), (aside + suffix).c_str()) != 0)
            return util::make_error("open_failed",
                                    cat("cannot move ", side, " to ", aside, suffix, ": ", std::strerror(errno)));
    }
    return aside;
}

util::Status set_wal(sqlite3* db, const std::string& path) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &raw, nullptr);
    detail::Stmt stmt(raw);
    std::string mode;
    if (rc == SQLITE_OK && (rc = sqlite3_step(raw)) == SQLITE_ROW) mode = detail::column_text(raw, 0);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE && rc != SQLITE_OK)
        return util::make_error("open_failed", detail::describe(db, rc, cat("cannot set WAL mode on ", path)));
    // Some file systems cannot share memory for the WAL index; the store
    // still works in the old journal mode, only slower.
    if (util::to_lower(mode) != "wal") log::warn("store: ", path, " stays in journal mode ", mode, ", not WAL");
    return util::Ok{};
}

util::Status configure(sqlite3* db, const std::string& path) {
    // NORMAL in WAL mode: a power cut may lose the last transactions but
    // never corrupts the file; the cache is rebuilt by the next NOTIFYs.
    if (auto st = detail::exec(db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;"); !st)
        return util::make_error("open_failed", cat(path, ": ", st.error().message));
    return util::Ok{};
}

// Runs the migrations from the file's version up to target, each in its own
// transaction with the version bump, so a failure leaves a whole version.
// The version is read inside the transaction: another process migrating
// the same file at the same moment is not migrated twice.
util::Status migrate(sqlite3* db, const std::string& path, int target) {
    for (;;) {
        if (auto st = detail::exec(db, "BEGIN IMMEDIATE"); !st)
            return util::make_error("open_failed", cat("migrating ", path, ": ", st.error().message));
        int version = 0;
        const int rc = query_int(db, "PRAGMA user_version", version);
        util::Status st = util::Ok{};
        if (rc != SQLITE_OK) {
            st = util::make_error("sqlite_error", detail::describe(db, rc, "reading user_version"));
        } else if (version >= target) {
            return detail::exec(db, "COMMIT");
        } else {
            st = detail::exec(db, cat(kMigrations[version], "PRAGMA user_version = ", version + 1, ";").c_str());
            if (st) st = detail::exec(db, "COMMIT");
        }
        if (!st) {
            if (!sqlite3_get_autocommit(db)) detail::exec(db, "ROLLBACK");
            return util::make_error("open_failed", cat("migrating ", path, " from schema version ", version, " to ",
                                                       version + 1, ": ", st.error().message));
        }
        if (version > 0) log::info("store: ", path, " migrated to schema version ", version + 1);
    }
}

}  // namespace

namespace detail {

std::string describe(sqlite3* db, int rc, const std::string& what) {
    const std::string message = sqlite3_errmsg(db), generic = sqlite3_errstr(rc);
    return message == generic ? cat(what, ": ", message) : cat(what, ": ", message, " (", generic, ")");
}

util::Status exec(sqlite3* db, const char* sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return util::Ok{};
    std::string text = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return util::make_error("sqlite_error", cat(text, " (", sqlite3_errstr(rc), ")"));
}

util::Result<Stmt> prepare(sqlite3* db, const char* sql) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    Stmt stmt(raw);
    if (rc != SQLITE_OK) return util::make_error("sqlite_error", describe(db, rc, cat("preparing ", sql)));
    return stmt;
}

util::Result<Db> open_database(const std::string& path) {
    // Two rounds at most: the second one creates a fresh file after the
    // first moved a corrupt one aside.
    for (int round = 0; round < 2; ++round) {
        auto db = raw_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        if (!db) return db.error();
        // Until the file is known good, closing must not checkpoint a -wal
        // into it (nor delete that -wal): a refused or corrupt file is left
        // exactly as found.
        sqlite3_db_config(db->get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
        auto found = probe(db->get(), path);
        if (!found) return found.error();
        if (found->health == Health::too_new)
            return util::make_error(
                "schema_too_new",
                cat("database ", path, " has schema version ", found->version, ", newer than this presenced knows (",
                    kSchemaVersion, "): it was written by a newer release; refusing to touch it"));
        if (found->health == Health::corrupt) {
            if (round > 0) return util::make_error("open_failed", cat("new database ", path, " is unusable"));
            db->reset();  // close before the rename: nothing may write to the old inode
            auto aside = move_aside(path);
            if (!aside) return aside.error();
            log::error("store: database ", path, " is corrupt (", found->problem, "); moved it (and any -wal/-shm) to ",
                       *aside, " and started a new empty database. Notes and imported users in it are NOT loaded; ",
                       "recover them with sqlite3 ", *aside, " .recover");
            continue;
        }
        sqlite3_db_config(db->get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, nullptr);
        if (auto st = set_wal(db->get(), path); !st) return st.error();
        if (auto st = configure(db->get(), path); !st) return st.error();
        if (auto st = migrate(db->get(), path, kSchemaVersion); !st) return st.error();
        if (found->version == 0) log::info("store: created ", path, " at schema version ", kSchemaVersion);
        return db;
    }
    return util::make_error("open_failed", cat("cannot open database ", path));
}

util::Result<Db> open_connection(const std::string& path) {
    auto db = raw_open(path, SQLITE_OPEN_READWRITE);
    if (!db) return db.error();
    if (auto st = configure(db->get(), path); !st) return st.error();
    return db;
}

}  // namespace detail

util::Status create_at_version(const std::string& path, int version) {
    if (version < 1 || version > kSchemaVersion)
        return util::make_error("invalid_argument",
                                cat("schema version ", version, " is not between 1 and ", kSchemaVersion));
    auto db = raw_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (!db) return db.error();
    int current = 0;
    if (const int rc = query_int(db->get(), "PRAGMA user_version", current); rc != SQLITE_OK)
        return util::make_error("open_failed", detail::describe(db->get(), rc, cat("cannot read ", path)));
    if (current > version)
        return util::make_error("schema_too_new", cat(path, " is already at schema version ", current));
    if (auto st = set_wal(db->get(), path); !st) return st;
    return migrate(db->get(), path, version);
}

}  // namespace presenced::store
