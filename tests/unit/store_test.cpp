// The SQLite store (store/) on a real file in a temporary directory and a
// real libuv loop pumped by the test until a condition holds (bounded by a
// deadline, never a sleep): open, migrations, refusal of newer schemas,
// corrupt files set aside, coalescing, notes, users, bounds, close, and
// flush failures retried. A second raw SQLite connection checks the file.
#include <sqlite3.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>

#include "store/store.hpp"

using namespace presenced;
using namespace presenced::store;

namespace {

// store_tests does not link pd_test_support (tests/support/temp_dir.hpp),
// so the few lines it needs from there are here.
class TempDir {
public:
    TempDir() {
        std::string pattern = std::filesystem::temp_directory_path().string() + "/presenced-store-XXXXXX";
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    REQUIRE(out.good());
}

constexpr int kDeadlineMs = 10'000;
constexpr uint64_t kTickMs = 5;           // the longest one uv_run(ONCE) waits while pumping
constexpr uint64_t kNeverMs = 3'600'000;  // a flush interval no test reaches
constexpr uint64_t kShortMs = 20;         // a flush interval tests wait for
constexpr int kQuietMs = 150;             // how long "nothing happens" is watched

// A loop that must end with every handle closed (style.md: uv_loop_close() == 0).
struct Loop {
    uv_loop_t loop{};
    uv_timer_t tick{};  // wakes uv_run(ONCE) so deadlines hold while a long timer is armed
    Loop() {
        uv_loop_init(&loop);
        uv_timer_init(&loop, &tick);
    }
    ~Loop() {
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&tick))) finish();
    }
    uv_loop_t* get() { return &loop; }
    // Pumps until pred() or the deadline; true when pred() held.
    bool run_until(const std::function<bool()>& pred, int deadline_ms = kDeadlineMs) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms);
        uv_timer_start(
            &tick, [](uv_timer_t*) {}, kTickMs, kTickMs);
        bool held = pred();
        while (!held && std::chrono::steady_clock::now() < deadline) {
            uv_run(&loop, UV_RUN_ONCE);
            held = pred();
        }
        uv_timer_stop(&tick);
        return held;
    }
    int finish() {
        uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
        uv_run(&loop, UV_RUN_DEFAULT);  // close callbacks and abandoned work items
        return uv_loop_close(&loop);
    }
};

struct Ack {
    bool called = false;
    util::Status status = util::Ok{};
    Store::Done done() {
        return [this](util::Status s) {
            called = true;
            status = std::move(s);
        };
    }
};

PresenceRow row(std::string user, std::string state, std::string kind = "rich", std::string connector = "pbx") {
    PresenceRow r;
    r.username = std::move(user);
    r.kind = std::move(kind);
    r.connector = std::move(connector);
    r.state = std::move(state);
    r.received_at = 1'700'000'000;
    return r;
}

UserRow user(std::string name, std::string source) {
    return UserRow{name, "User " + name, "Sales", "100", "sip:" + name + "@x", "sip:" + name + "@pbx", source};
}

std::unique_ptr<Store> open_ok(Loop& loop, const std::string& path, Options options = {kNeverMs, 1000}) {
    auto store = Store::open(loop.get(), path, options);
    if (!store) FAIL("open: " << store.error().code << ": " << store.error().message);
    return std::move(*store);
}

// A second, independent connection, as an admin's sqlite3 shell would be.
struct Raw {
    sqlite3* db = nullptr;
    explicit Raw(const std::string& path) { REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK); }
    ~Raw() { sqlite3_close(db); }
    void exec(const std::string& sql) {
        char* err = nullptr;
        const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
        INFO(sql << ": " << (err ? err : ""));
        sqlite3_free(err);
        REQUIRE(rc == SQLITE_OK);
    }
    // First column of the first row as text; "<none>" without rows, "<error>" on failure.
    std::string text(const std::string& sql) {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return "<error>";
        const int rc = sqlite3_step(stmt);
        std::string out = rc == SQLITE_ROW    ? reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))
                          : rc == SQLITE_DONE ? "<none>"
                                              : "<error>";
        sqlite3_finalize(stmt);
        return out;
    }
};

std::vector<std::string> files_starting(const std::string& dir, const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(prefix, 0) == 0) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("open creates a WAL database at the current schema version and reopens it", "[store]") {
    TempDir dir;
    Loop loop;
    const std::string path = dir.file("state.db");
    {
        auto store = open_ok(loop, path);
        CHECK(store->path() == path);
        Raw raw(path);
        CHECK(raw.text("PRAGMA journal_mode") == "wal");
        CHECK(raw.text("PRAGMA user_version") == std::to_string(kSchemaVersion));
        CHECK(raw.text("SELECT count(*) FROM presence") == "0");
    }
    auto again = open_ok(loop, path);
    CHECK(again->load_presence()->empty());
    CHECK(again->load_users()->empty());
    CHECK(again->load_notes()->empty());
    again.reset();
    CHECK(loop.finish() == 0);
}

TEST_CASE("open fails with open_failed when the directory is missing", "[store]") {
    TempDir dir;
    Loop loop;
    const std::string path = dir.file("missing/state.db");
    auto store = Store::open(loop.get(), path);
    REQUIRE_FALSE(store);
    CHECK(store.error().code == "open_failed");
    CHECK_THAT(store.error().message, Catch::Contains(path) && Catch::Contains("unable to open"));
    CHECK(loop.finish() == 0);
}

TEST_CASE("a version 1 database is migrated to version 2 keeping its rows", "[store][migration]") {
    TempDir dir;
    Loop loop;
    const std::string path = dir.file("state.db");
    REQUIRE(create_at_version(path, 1));
    {
        Raw raw(path);
        CHECK(raw.text("PRAGMA user_version") == "1");
        CHECK(raw.text("SELECT last_code FROM presence") == "<error>");  // not there yet
        raw.exec(
            "INSERT INTO presence (username, kind, connector, state, message, detail, received_at) "
            "VALUES ('alice', 'rich', 'pbx', 'busy', 'in a call', '[]', 42)");
        raw.exec("INSERT INTO notes VALUES ('alice', 'back at 3', 7)");
        raw.exec("INSERT INTO users VALUES ('bob', 'Bob', 'Ops', '200', 'sip:bob@x', '', 'csv:/a.csv')");
    }
    auto store = open_ok(loop, path);
    Raw raw(path);
    CHECK(raw.text("PRAGMA user_version") == "2");
    auto rows = store->load_presence();
    REQUIRE(rows);
    REQUIRE(rows->size() == 1);
    PresenceRow expected = row("alice", "busy");
    expected.message = "in a call";
    expected.detail = "[]";
    expected.received_at = 42;
    CHECK(rows->front() == expected);  // last_code 0, last_reason "": the defaults
    CHECK(store->load_notes()->at("alice") == "back at 3");
    REQUIRE(store->load_users()->size() == 1);
    CHECK(store->load_users()->front().source == "csv:/a.csv");

    CHECK(create_at_version(dir.file("x.db"), 0).error().code == "invalid_argument");
    CHECK(create_at_version(dir.file("x.db"), kSchemaVersion + 1).error().code == "invalid_argument");
    store.reset();
    CHECK(loop.finish() == 0);
}

TEST_CASE("a database from a newer presenced is refused and left byte for byte", "[store][migration]") {
    TempDir dir;
    Loop loop;
    const std::string path = dir.file("state.db");
    REQUIRE(create_at_version(path, kSchemaVersion));
    { Raw(path).exec("PRAGMA user_version = 99"); }
    const std::string before = read_file(path);
    REQUIRE_FALSE(before.empty());

    auto store = Store::open(loop.get(), path);
    REQUIRE_FALSE(store);
    CHECK(store.error().code == "schema_too_new");
    CHECK_THAT(store.error().message, Catch::Contains(path) && Catch::Contains("99") &&
                                          Catch::Contains("(" + std::to_string(kSchemaVersion) + ")"));
    CHECK(read_file(path) == before);
    CHECK(files_starting(dir.path(), "state.db.corrupt").empty());
    CHECK(loop.finish() == 0);
}

TEST_CASE("a file that is not a database is moved aside with its -wal and a new one works", "[store][corrupt]") {
    TempDir dir;
    Loop loop;
    const std::string path = dir.file("state.db");
    const std::string garbage(4096, 'x');
    write_file(path, garbage);
    write_file(path + "-wal", "stale wal");
    const auto before = static_cast<long long>(std::time(nullptr));

    auto store = open_ok(loop, path);
    // Sorted: "<aside>", "<aside>-shm" (SQLite opened the -wal), "<aside>-wal".
    const auto moved = files_starting(dir.path(), "state.db.corrupt-");
    REQUIRE(moved.size() == 3);
    const std::string aside = moved[0];
    CHECK(moved[1] == aside + "-shm");
    CHECK(moved[2] == aside + "-wal");
    const long long stamp = std::stoll(aside.substr(std::string("state.db.corrupt-").size()));
    CHECK(stamp >= before);
    CHECK(stamp <= static_cast<long long>(std::time(nullptr)));
    CHECK(read_file(dir.file(aside)) == garbage);
    CHECK(read_file(dir.file(aside + "-wal")) == "stale wal");

    Ack ack;
    store->put_note("alice", "fresh", ack.done());
    REQUIRE(loop.run_until([&] { return ack.called; }));
    CHECK(ack.status);
    CHECK(store->load_notes()->at("alice") == "fresh");
    store.reset();
    CHECK(loop.finish() == 0);
}

TEST_CASE("a damaged real database is moved aside", "[store][corrupt]") {
    TempDir dir;
    Loop loop;
    const std::string path = dir.file("state.db");
    {
        auto store = open_ok(loop, path);
        for (int i = 0; i < 2000; ++i) {
            PresenceRow r = row("user" + std::to_string(i), "available");
            r.detail = std::string(300, 'd');
            store->put_presence(std::move(r));
        }
    }  // the destructor closes: a synchronous final flush, then the WAL is checkpointed
    const auto size = std::filesystem::file_size(path);
    REQUIRE(size > 100'000);
    SECTION("truncated") { std::filesystem::resize_file(path, size / 2); }
    SECTION("a page in the middle overwritten: the header reads, quick_check does not pass") {
        std::string bytes = read_file(path);
        constexpr size_t kPage = 4096;
        std::fill(bytes.begin() + 10 * kPage, bytes.begin() + 11 * kPage, '\xff');
        write_file(path, bytes);
        CHECK(Raw(path).text("PRAGMA user_version") == std::to_string(kSchemaVersion));
        CHECK(Raw(path).text("PRAGMA quick_check") != "ok");
    }
    SECTION("a wrong free-page count in the header: quick_check lists a problem") {
        std::string bytes = read_file(path);
        constexpr size_t kFreelistCountOffset = 36;  // sqlite file format 1.3, big-endian
        bytes[kFreelistCountOffset + 3] = '\x05';
        write_file(path, bytes);
        CHECK_THAT(Raw(path).text("PRAGMA quick_check"), Catch::Contains("freelist"));
    }
    const std::string damaged = read_file(path);

    auto store = open_ok(loop, path);
    const auto moved = files_starting(dir.path(), "state.db.corrupt-");
    REQUIRE_FALSE(moved.empty());  // with its (empty) -wal and -shm: it is a WAL database
    CHECK(read_file(dir.file(moved[0])) == damaged);
    for (size_t i = 1; i < moved.size(); ++i) CHECK(moved[i].rfind(moved[0] + "-", 0) == 0);
    CHECK(store->load_presence()->empty());
    store.reset();
    CHECK(loop.finish() == 0);
}

TEST_CASE("put_presence coalesces per key and one flush writes the last values", "[store][flush]") {
    TempDir dir;
    Loop loop;
    auto store = open_ok(loop, dir.file("state.db"));
    for (int i = 0; i < 100; ++i) store->put_presence(row("alice", "state" + std::to_string(i)));
    store->put_presence(row("bob", "away", "telephony"));
    CHECK(store->stats().put_calls == 101);
    CHECK(store->stats().pending == 2);

    Ack ack;
    store->flush(ack.done());
    REQUIRE(loop.run_until([&] { return ack.called; }));
    CHECK(ack.status);
    CHECK(store->stats().flushes == 1);
    CHECK(store->stats().rows_written == 2);
    CHECK(store->stats().pending == 0);
    auto rows = store->load_presence();
    REQUIRE(rows->size() == 2);
    CHECK(rows->at(0) == row("alice", "state99"));
    CHECK(rows->at(1) == row("bob", "away", "telephony"));

    Ack clean;
    store->flush(clean.done());  // nothing dirty: done at once, no transaction
    CHECK(clean.called);
    CHECK(store->stats().flushes == 1);
    store.reset();
    CHECK(loop.finish() == 0);
}

TEST_CASE("dirty rows wait for the interval, then the timer flushes them", "[store][flush]") {
    TempDir dir;
    Loop loop;
    SECTION("a long interval: nothing is written until close") {
        auto store = open_ok(loop, dir.file("state.db"), {kNeverMs, 1000});
        store->put_presence(row("alice", "busy"));
        CHECK_FALSE(loop.run_until([&] { return store->stats().flushes > 0; }, kQuietMs));
        CHECK(store->stats().pending == 1);
        CHECK(Raw(dir.file("state.db")).text("SELECT count(*) FROM presence") == "0");
        store->close();
        CHECK(store->stats().flushes == 1);
        CHECK(Raw(dir.file("state.db")).text("SELECT state FROM presence") == "busy");
    }
    SECTION("a short interval: the timer flushes without being asked") {
        auto store = open_ok(loop, dir.file("state.db"), {kShortMs, 1000});
        store->put_presence(row("alice", "busy"));
        CHECK(store->stats().flushes == 0);
        REQUIRE(loop.run_until([&] { return store->stats().flushes == 1; }));
        CHECK(store->stats().rows_written == 1);
        CHECK(Raw(dir.file("state.db")).text("SELECT state FROM presence") == "busy");
    }
    CHECK(loop.finish() == 0);
}

TEST_CASE("max_pending dirty rows start a flush before the interval", "[store][flush]") {
    TempDir dir;
    Loop loop;
    auto store = open_ok(loop, dir.file("state.db"), {kNeverMs, 10});
    for (int i = 0; i < 9; ++i) store->put_presence(row("user" + std::to_string(i), "busy"));
    CHECK_FALSE(loop.run_until([&] { return store->stats().flushes > 0; }, kQuietMs));
    store->put_presence(row("user9", "busy"));
    REQUIRE(loop.run_until([&] { return store->stats().flushes == 1; }));
    CHECK(store->stats().rows_written == 10);
    // While one flush is in flight, a full buffer starts the next right after it.
    for (int i = 0; i < 25; ++i) store->put_presence(row("next" + std::to_string(i), "away"));
    REQUIRE(loop.run_until([&] { return store->stats().rows_written == 35; }));
    CHECK(store->stats().pending == 0);
    store.reset();
    CHECK(loop.finish() == 0);
}

TEST_CASE("put_note is acknowledged only after its commit and survives a reopen", "[store][notes]") {
    TempDir dir;
    Loop loop;
    const std::string path = dir.file("state.db");
    {
        auto store = open_ok(loop, path);
        std::string seen_at_ack;
        Ack ack;
        store->put_note("alice", "back at 3", [&](util::Status s) {
            // Another connection sees it at this moment: it is committed.
            seen_at_ack = Raw(path).text("SELECT text FROM notes WHERE username = 'alice'");
            ack.done()(std::move(s));
        });
        CHECK_FALSE(ack.called);
        REQUIRE(loop.run_until([&] { return ack.called; }));
        CHECK(ack.status);
        CHECK(seen_at_ack == "back at 3");
        store->put_note("bob", "on leave", nullptr);
    }
    {
        auto store = open_ok(loop, path);
        CHECK(*store->load_notes() == std::map<std::string, std::string>{{"alice", "back at 3"}, {"bob", "on leave"}});
        Ack ack;
        store->put_note("alice", "", ack.done());  // "" deletes
        REQUIRE(loop.run_until([&] { return ack.called; }));
        CHECK(*store->load_notes() == std::map<std::string, std::string>{{"bob", "on leave"}});
    }
    CHECK(loop.finish() == 0);
}

TEST_CASE("put_note_now is committed when it returns, without running the loop", "[store][notes]") {
    TempDir dir;
    Loop loop;
    const std::string path = dir.file("state.db");
    auto store = open_ok(loop, path);
    REQUIRE(store->put_note_now("alice", "on leave"));
    // Another connection sees it at once: no flush, no loop turn.
    CHECK(Raw(path).text("SELECT text FROM notes WHERE username = 'alice'") == "on leave");
    REQUIRE(store->put_note_now("alice", "back"));
    CHECK(Raw(path).text("SELECT text FROM notes WHERE username = 'alice'") == "back");
    REQUIRE(store->put_note_now("alice", ""));
    CHECK(store->load_notes()->empty());
    store->close();
    CHECK_FALSE(store->put_note_now("alice", "x"));
}

TEST_CASE("replace_users replaces one source's set and leaves the others alone", "[store][users]") {
    TempDir dir;
    Loop loop;
    auto store = open_ok(loop, dir.file("state.db"));
    Ack first, second, third;
    store->replace_users("csv:a", {user("u1", "csv:a"), user("u2", "csv:a")}, first.done());
    store->replace_users("import:b.csv", {user("u3", "import:b.csv")}, second.done());
    REQUIRE(loop.run_until([&] { return first.called && second.called; }));
    CHECK(store->load_users()->size() == 3);

    store->replace_users("csv:a", {user("u4", "csv:a")}, third.done());
    REQUIRE(loop.run_until([&] { return third.called; }));
    CHECK(third.status);
    CHECK(*store->load_users() == std::vector<UserRow>{user("u3", "import:b.csv"), user("u4", "csv:a")});
    store.reset();
    CHECK(loop.finish() == 0);
}

TEST_CASE("forget_user deletes a user's cached rows and drops their dirty ones", "[store][flush]") {
    TempDir dir;
    Loop loop;
    auto store = open_ok(loop, dir.file("state.db"));
    store->put_presence(row("alice", "busy"));
    store->put_presence(row("alice", "ringing", "telephony"));
    store->put_presence(row("bob", "away"));
    Ack ack;
    store->flush(ack.done());
    REQUIRE(loop.run_until([&] { return ack.called; }));
    REQUIRE(store->load_presence()->size() == 3);

    store->put_presence(row("bob", "busy"));
    store->put_presence(row("carol", "busy"));
    store->forget_user("alice");
    store->forget_user("carol");  // dirty, never written
    CHECK(store->stats().pending == 1);
    Ack second;
    store->flush(second.done());
    REQUIRE(loop.run_until([&] { return second.called; }));
    CHECK(*store->load_presence() == std::vector<PresenceRow>{row("bob", "busy")});

    store->forget_user("bob");
    store->put_presence(row("bob", "available"));  // after the forget: kept
    Ack third;
    store->flush(third.done());
    REQUIRE(loop.run_until([&] { return third.called; }));
    CHECK(*store->load_presence() == std::vector<PresenceRow>{row("bob", "available")});
    store.reset();
    CHECK(loop.finish() == 0);
}

TEST_CASE("detail and message are bounded", "[store][bounds]") {
    TempDir dir;
    Loop loop;
    auto store = open_ok(loop, dir.file("state.db"));
    PresenceRow big = row("alice", "busy");
    big.detail = std::string(kMaxDetailBytes + 1, '{');
    big.message = std::string(kMaxMessageBytes - 1, 'a') + "\xC3\xA9tage";  // é straddles the limit
    PresenceRow fits = row("bob", "busy");
    fits.detail = std::string(kMaxDetailBytes, '[');
    fits.message = std::string(kMaxMessageBytes, 'b');
    store->put_presence(big);
    store->put_presence(fits);
    Ack ack;
    store->flush(ack.done());
    REQUIRE(loop.run_until([&] { return ack.called; }));
    auto rows = store->load_presence();
    REQUIRE(rows->size() == 2);
    CHECK(rows->at(0).detail.empty());
    CHECK(rows->at(0).message == std::string(kMaxMessageBytes - 1, 'a'));
    CHECK(rows->at(0).state == "busy");  // the rest of the row is kept
    CHECK(rows->at(1) == fits);
    store.reset();
    CHECK(loop.finish() == 0);
}

TEST_CASE("close writes what is dirty, is idempotent, and ignores later calls", "[store][close]") {
    TempDir dir;
    Loop loop;
    const std::string path = dir.file("state.db");
    Ack note;
    {
        auto store = open_ok(loop, path);
        store->put_presence(row("alice", "busy"));
        store->put_note("alice", "hi", note.done());
        store->close();  // the note's flush may be in flight: close waits for it
        CHECK(note.called);
        CHECK(note.status);
        CHECK(store->stats().pending == 0);
        store->close();
        store->put_presence(row("bob", "busy"));
        CHECK(store->stats().put_calls == 1);
        Ack late;
        store->put_note("bob", "x", late.done());
        REQUIRE(late.called);
        CHECK(late.status.error().code == "store_closed");
        CHECK(store->load_presence().error().code == "store_closed");
    }  // destroyed at once after close: libuv still holds the timer and maybe a work item
    auto store = open_ok(loop, path);
    CHECK(*store->load_presence() == std::vector<PresenceRow>{row("alice", "busy")});
    CHECK(store->load_notes()->at("alice") == "hi");
    store.reset();
    CHECK(loop.finish() == 0);
}

// Holds every thread of libuv's pool (UV_THREADPOOL_SIZE, default 4) so a
// flush queued after it cannot start until release().
struct PoolBlocker {
    std::mutex mutex;
    std::condition_variable changed;
    int started = 0;
    bool released = false;
    std::vector<std::unique_ptr<uv_work_t>> reqs;

    bool block(uv_loop_t* loop) {
        const char* env = std::getenv("UV_THREADPOOL_SIZE");
        const int threads = env ? std::max(1, std::atoi(env)) : 4;
        for (int i = 0; i < threads; ++i) {
            reqs.push_back(std::make_unique<uv_work_t>());
            reqs.back()->data = this;
            uv_queue_work(
                loop, reqs.back().get(),
                [](uv_work_t* req) {
                    auto* self = static_cast<PoolBlocker*>(req->data);
                    std::unique_lock lock(self->mutex);
                    ++self->started;
                    self->changed.notify_all();
                    self->changed.wait(lock, [self] { return self->released; });
                },
                [](uv_work_t*, int) {});
        }
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, std::chrono::milliseconds(kDeadlineMs), [&] { return started == threads; });
    }
    void release() {
        std::lock_guard lock(mutex);
        released = true;
        changed.notify_all();
    }
    ~PoolBlocker() { release(); }  // before the Loop drains, even when a REQUIRE failed
};

TEST_CASE("close takes over a flush in flight and loses nothing", "[store][close]") {
    TempDir dir;
    Loop loop;
    const std::string path = dir.file("state.db");
    constexpr int kRows = 3000;
    const auto fill = [&](size_t max_pending) {
        auto store = open_ok(loop, path, {kNeverMs, max_pending});
        for (int i = 0; i < kRows; ++i) store->put_presence(row("user" + std::to_string(i), "busy"));
        return store;
    };
    std::unique_ptr<Store> store;
    Ack ack;
    PoolBlocker blocker;
    int expected = kRows;
    SECTION("still queued: close writes its rows itself") {
        REQUIRE(blocker.block(loop.get()));
        store = fill(kRows + 1);
        store->flush(ack.done());
        store->put_presence(row("late", "away"));
        expected = kRows + 1;
        store->close();
    }
    SECTION("committed, its after-work not run yet: close only accounts for it") {
        store = fill(kRows + 1);
        store->flush(ack.done());
        Raw raw(path);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDeadlineMs);
        bool committed = false;  // polled without running the loop, so after-work cannot run
        while (!committed && std::chrono::steady_clock::now() < deadline)
            committed = raw.text("SELECT count(*) FROM presence") == std::to_string(kRows);
        REQUIRE(committed);
        store->close();
        CHECK(store->stats().flushes == 1);
    }
    SECTION("more rows than max_pending: the worker may be writing when close comes") {
        store = fill(1000);
        store->close();  // no flush() asked: the ones max_pending started, or none yet
        ack.called = true;
    }
    CHECK(ack.called);
    CHECK(ack.status);
    CHECK(store->stats().rows_written == static_cast<uint64_t>(expected));
    CHECK(store->stats().pending == 0);
    store.reset();  // at once: libuv still holds the timer and maybe a work item
    blocker.release();
    CHECK(Raw(path).text("SELECT count(*) FROM presence") == std::to_string(expected));
    CHECK(loop.finish() == 0);
}

TEST_CASE("a failed flush is counted, reported, and its rows written once the cause is gone", "[store][errors]") {
    TempDir dir;
    Loop loop;
    const std::string path = dir.file("state.db");
    auto store = open_ok(loop, path, {kShortMs, 1000});
    Raw admin(path);
    admin.exec("CREATE TRIGGER block BEFORE INSERT ON presence BEGIN SELECT RAISE(ABORT, 'blocked by test'); END");

    store->put_presence(row("alice", "v1"));
    Ack ack;
    store->flush(ack.done());
    store->put_presence(row("alice", "v2"));  // newer than the row in flight: must win over its re-queue
    store->put_presence(row("bob", "v1"));
    REQUIRE(loop.run_until([&] { return ack.called; }));
    REQUIRE_FALSE(ack.status);
    CHECK(ack.status.error().code == "write_failed");
    CHECK_THAT(store->stats().last_error, Catch::Contains("blocked by test"));
    CHECK(store->stats().errors == 1);
    CHECK(store->stats().flushes == 0);
    CHECK(store->stats().pending == 2);

    // Retried each interval, not in a loop.
    REQUIRE(loop.run_until([&] { return store->stats().errors >= 2; }));
    CHECK(store->stats().errors <= 3);
    CHECK(store->stats().pending == 2);

    admin.exec("DROP TRIGGER block");
    REQUIRE(loop.run_until([&] { return store->stats().pending == 0 && store->stats().flushes == 1; }));
    CHECK(store->stats().rows_written == 2);
    CHECK(*store->load_presence() == std::vector<PresenceRow>{row("alice", "v2"), row("bob", "v1")});
    CHECK_THAT(store->stats().last_error, Catch::Contains("blocked by test"));  // kept for status
    store.reset();
    CHECK(loop.finish() == 0);
}

TEST_CASE("flush timing for 10,000 dirty rows", "[.bench]") {
    TempDir dir;
    Loop loop;
    constexpr int kRows = 10'000;
    auto store = open_ok(loop, dir.file("state.db"), {kNeverMs, kRows + 1});
    for (const char* round : {"new rows", "updates"}) {
        for (int i = 0; i < kRows; ++i) {
            PresenceRow r = row("user" + std::to_string(i), round);
            r.detail = R"([{"id":"t1","basic":"open","activities":["on-the-phone"],"note":"In a meeting"}])";
            store->put_presence(std::move(r));
        }
        Ack ack;
        const auto start = std::chrono::steady_clock::now();
        store->flush(ack.done());
        REQUIRE(loop.run_until([&] { return ack.called; }));
        const auto us =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
        std::cout << "store: flush of " << kRows << " dirty rows (" << round
                  << "): " << static_cast<double>(us) / 1000.0 << " ms\n";
        CHECK(ack.status);
    }
    store.reset();
    CHECK(loop.finish() == 0);
}
