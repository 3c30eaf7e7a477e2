// One flush as one transaction: forgotten users, coalesced presence upserts,
// notes and imported user sets, with statements prepared once per
// connection (perf-limits 4: batching in one transaction is what makes the
// write-behind cache cheap).
#include "store/writer.hpp"

#include "util/text.hpp"

namespace presenced::store::detail {

using util::cat;

namespace {

constexpr const char* kUpsertPresence = R"sql(
INSERT INTO presence (username, kind, connector, state, message, detail, received_at, last_code, last_reason)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (username, kind, connector) DO UPDATE SET
    state = excluded.state, message = excluded.message, detail = excluded.detail,
    received_at = excluded.received_at, last_code = excluded.last_code, last_reason = excluded.last_reason)sql";
constexpr const char* kForgetUser = "DELETE FROM presence WHERE username = ?1";
constexpr const char* kDeleteUsers = "DELETE FROM users WHERE source = ?1";
// A username imported from two sources: the later import owns the row.
constexpr const char* kInsertUser = R"sql(
INSERT INTO users (username, display_name, department, extension, rich_uri, telephony_uri, source)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT (username) DO UPDATE SET
    display_name = excluded.display_name, department = excluded.department, extension = excluded.extension,
    rich_uri = excluded.rich_uri, telephony_uri = excluded.telephony_uri, source = excluded.source)sql";

}  // namespace

std::string presence_key(const PresenceRow& row) {
    // NUL cannot occur in a username, kind or connector name from the
    // config or a SIP URI, so the joined key is unambiguous.
    std::string key;
    key.reserve(row.username.size() + row.kind.size() + row.connector.size() + 2);
    key.append(row.username).push_back('\0');
    key.append(row.kind).push_back('\0');
    key.append(row.connector);
    return key;
}

util::Status Writer::prepare_all() {
    struct Wanted {
        Stmt* stmt;
        const char* sql;
    };
    const Wanted wanted[] = {
        {&upsert_presence_, kUpsertPresence}, {&forget_user_, kForgetUser},   {&set_note_, kSetNote},
        {&delete_note_, kDeleteNote},         {&delete_users_, kDeleteUsers}, {&insert_user_, kInsertUser}};
    for (const Wanted& w : wanted) {
        auto stmt = prepare(db_.get(), w.sql);
        if (!stmt) return util::make_error("write_failed", stmt.error().message);
        *w.stmt = std::move(*stmt);
    }
    prepared_ = true;
    return util::Ok{};
}

util::Status Writer::step(sqlite3_stmt* stmt, const char* what) {
    const int rc = sqlite3_step(stmt);
    // The message is read before the reset, which may replace it.
    util::Status result = util::Ok{};
    if (rc != SQLITE_DONE) result = util::make_error("write_failed", describe(db_.get(), rc, what));
    sqlite3_reset(stmt);
    return result;
}

util::Status Writer::write(const Batch& batch) {
    if (!prepared_) {
        if (auto st = prepare_all(); !st) return st;
    }
    // IMMEDIATE takes the write lock now, so a busy database fails (after
    // the busy timeout) before any row is bound, never half-way.
    if (auto st = exec(db_.get(), "BEGIN IMMEDIATE"); !st)
        return util::make_error("write_failed", cat("begin: ", st.error().message));
    util::Status st = write_rows(batch);
    if (st) {
        if (auto commit = exec(db_.get(), "COMMIT"); !commit)
            st = util::make_error("write_failed", cat("commit: ", commit.error().message));
    }
    // A failed statement leaves the transaction open (an I/O error may
    // already have rolled it back): nothing of the batch is kept.
    if (!st && !sqlite3_get_autocommit(db_.get())) exec(db_.get(), "ROLLBACK");
    return st;
}

util::Status Writer::write_rows(const Batch& batch) {
    sqlite3_stmt* s = forget_user_.get();
    for (const std::string& username : batch.forgotten) {
        bind_text(s, 1, username);
        if (auto st = step(s, "forget user"); !st) return st;
    }
    s = upsert_presence_.get();
    for (const auto& [key, row] : batch.presence) {
        bind_text(s, 1, row.username);
        bind_text(s, 2, row.kind);
        bind_text(s, 3, row.connector);
        bind_text(s, 4, row.state);
        bind_text(s, 5, row.message);
        bind_text(s, 6, row.detail);
        sqlite3_bind_int64(s, 7, row.received_at);
        sqlite3_bind_int(s, 8, row.last_code);
        bind_text(s, 9, row.last_reason);
        if (auto st = step(s, "upsert presence"); !st) return st;
    }
    for (const auto& [username, change] : batch.notes) {
        s = change.text.empty() ? delete_note_.get() : set_note_.get();
        bind_text(s, 1, username);
        if (!change.text.empty()) {
            bind_text(s, 2, change.text);
            sqlite3_bind_int64(s, 3, change.updated_at);
        }
        if (auto st = step(s, "write note"); !st) return st;
    }
    for (const auto& [source, rows] : batch.users) {
        bind_text(delete_users_.get(), 1, source);
        if (auto st = step(delete_users_.get(), "replace users"); !st) return st;
        s = insert_user_.get();
        for (const UserRow& user : rows) {
            bind_text(s, 1, user.username);
            bind_text(s, 2, user.display_name);
            bind_text(s, 3, user.department);
            bind_text(s, 4, user.extension);
            bind_text(s, 5, user.rich_uri);
            bind_text(s, 6, user.telephony_uri);
            bind_text(s, 7, source);  // the set's source, whatever the row says
            if (auto st = step(s, "insert user"); !st) return st;
        }
    }
    return util::Ok{};
}

}  // namespace presenced::store::detail
