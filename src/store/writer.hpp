// Inside the store: what one flush writes (a Batch), and the Writer that
// writes it in one transaction on a connection it owns. The worker thread
// gets both moved in, so it shares nothing with the loop while it writes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/schema.hpp"
#include "store/store.hpp"

namespace presenced::store::detail {

// Notes are written by flushes and by Store::put_note_now with the same SQL.
inline constexpr const char* kSetNote = R"sql(
INSERT INTO notes (username, text, updated_at) VALUES (?1, ?2, ?3)
ON CONFLICT (username) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at)sql";
inline constexpr const char* kDeleteNote = "DELETE FROM notes WHERE username = ?1";

// Dirty presence rows by (username, kind, connector): the last value wins.
using PresenceMap = std::unordered_map<std::string, PresenceRow>;

std::string presence_key(const PresenceRow& row);

struct NoteChange {
    std::string text;  // "" deletes the note
    int64_t updated_at = 0;
};

struct Batch {
    std::vector<std::string> forgotten;                 // users whose cached rows are deleted first
    PresenceMap presence;                               // then these are upserted
    std::map<std::string, NoteChange> notes;            // by username
    std::map<std::string, std::vector<UserRow>> users;  // by source: its whole new set

    bool empty() const { return forgotten.empty() && presence.empty() && notes.empty() && users.empty(); }
};

class Writer {
public:
    explicit Writer(Db db) : db_(std::move(db)) {}
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    // All of batch in one transaction, rolled back whole on any error
    // ("write_failed" with SQLite's message).
    util::Status write(const Batch& batch);

private:
    util::Status prepare_all();
    util::Status write_rows(const Batch& batch);
    util::Status step(sqlite3_stmt* stmt, const char* what);

    Db db_;  // declared first: the statements below are finalized before it closes
    Stmt upsert_presence_, forget_user_, set_note_, delete_note_, delete_users_, insert_user_;
    bool prepared_ = false;
};

}  // namespace presenced::store::detail
