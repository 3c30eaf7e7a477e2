// Inside the store: RAII for SQLite handles, small statement helpers, and
// opening a database file the way presenced(8) STORE describes (version
// check, corruption set aside, forward migrations, connection pragmas).
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>

#include "util/error.hpp"

namespace presenced::store::detail {

// A writer waits this long for another connection's lock (an admin's
// sqlite3 shell, a checkpoint) before the statement fails with SQLITE_BUSY.
inline constexpr int kBusyTimeoutMs = 5000;

struct DbCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// "what: sqlite's message (result code name)" for an error on db.
std::string describe(sqlite3* db, int rc, const std::string& what);

// Runs sql (one or more statements without results).
util::Status exec(sqlite3* db, const char* sql);

// A statement kept for the connection's lifetime (SQLITE_PREPARE_PERSISTENT).
util::Result<Stmt> prepare(sqlite3* db, const char* sql);

inline int bind_text(sqlite3_stmt* stmt, int index, const std::string& text) {
    return sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}
inline std::string column_text(sqlite3_stmt* stmt, int index) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, index));
    return text ? std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt, index))) : std::string();
}

// Opens path (creating it) at kSchemaVersion, ready for reads and writes:
// refuses a newer schema ("schema_too_new"), moves a corrupt file aside and
// starts afresh, migrates forward, sets WAL and the connection pragmas.
util::Result<Db> open_database(const std::string& path);

// A second connection on a database open_database() has prepared: only the
// per-connection pragmas (journal_mode is persistent in the file).
util::Result<Db> open_connection(const std::string& path);

}  // namespace presenced::store::detail
