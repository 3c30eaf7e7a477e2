// The daemon and its state database: opening it at start (warm start),
// users imported from CSV (the config's users_csv and `users import`),
// operator notes, and the connector restart command.
#include <fstream>
#include <sstream>

#include "presence/csv_import.hpp"
#include "presenced/daemon.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace presenced::daemon {

using util::cat;

namespace {

constexpr std::string_view kCsvSourcePrefix = "csv:";        // presence.users_csv
constexpr std::string_view kImportSourcePrefix = "import:";  // presencectl users import

config::User user_of(const store::UserRow& r) {
    config::User u;
    u.username = r.username;
    u.display_name = r.display_name;
    u.department = r.department;
    u.extension = r.extension;
    u.rich_uri = r.rich_uri;
    u.telephony_uri = r.telephony_uri;
    return u;
}

store::UserRow row_of(const config::User& u, const std::string& source) {
    return {u.username, u.display_name, u.department, u.extension, u.rich_uri, u.telephony_uri, source};
}

util::Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return util::Error{"not_found", cat("cannot read ", path, ": ", std::strerror(errno))};
    in.seekg(0, std::ios::end);
    const auto size = in.tellg();
    if (size < 0 || static_cast<size_t>(size) > presence::kMaxCsvBytes)
        return util::Error{"invalid_argument", cat(path, " is larger than ", presence::kMaxCsvBytes, " bytes")};
    in.seekg(0);
    std::string text(static_cast<size_t>(size), '\0');
    in.read(text.data(), size);
    return text;
}

std::vector<std::string> config_usernames(const config::Config& c) {
    std::vector<std::string> names;
    names.reserve(c.users.size());
    for (const auto& u : c.users) names.push_back(u.username);
    return names;
}

}  // namespace

util::Status Daemon::open_store() {
    const auto& d = config_->daemon;
    users_loaded_ = true;
    if (d.state_db.empty()) {
        log::info("state_db is empty: no state is kept; presence, notes and imports last until the daemon stops");
        read_users_csv();
        build_directory();
        return util::Ok{};
    }
    store::Options options;
    options.flush_interval_ms = static_cast<uint64_t>(d.flush_interval_ms);
    auto opened = store::Store::open(&loop_, d.state_db, options);
    if (!opened) return util::Error{opened.error().code, cat("state database: ", opened.error().message)};
    store_ = std::move(*opened);
    // Warm start (presenced(8) STORE): everything is read now, before the
    // SIP engine starts; presence is restored once the users exist.
    auto users = store_->load_users();
    auto notes = store_->load_notes();
    auto rows = store_->load_presence(false);
    if (!users || !notes || !rows) {
        const util::Error& e = !users ? users.error() : !notes ? notes.error() : rows.error();
        return util::Error{e.code, cat("state database ", d.state_db, ": ", e.message)};
    }
    for (auto& u : *users) imported_[u.source].push_back(std::move(u));
    cached_.reserve(rows->size());
    for (auto& r : *rows)
        cached_.push_back({std::move(r.username), std::move(r.kind), std::move(r.connector), std::move(r.state),
                           std::move(r.message), std::move(r.detail), static_cast<std::time_t>(r.received_at),
                           r.last_code, std::move(r.last_reason)});
    std::unordered_map<std::string, std::string> note_map(notes->begin(), notes->end());
    pending_notes_ = std::move(note_map);
    log::info("state database ", d.state_db, ": ", users->size(), " imported users, ", pending_notes_.size(),
              " notes, ", cached_.size(), " cached sources");
    read_users_csv();
    build_directory();
    return util::Ok{};
}

void Daemon::read_users_csv() {
    const std::string& path = config_->presence.users_csv;
    // A users_csv no longer configured: its users go.
    for (auto it = imported_.begin(); it != imported_.end();) {
        const bool csv = it->first.rfind(kCsvSourcePrefix, 0) == 0;
        if (csv && it->first != cat(kCsvSourcePrefix, path)) {
            if (store_) store_->replace_users(it->first, {}, {});
            it = imported_.erase(it);
        } else {
            ++it;
        }
    }
    if (path.empty()) return;
    const std::string source = cat(kCsvSourcePrefix, path);
    auto text = read_file(path);
    if (!text) {
        log::error("users_csv: ", text.error().message, "; keeping the ", imported_[source].size(),
                   " users of its last good reading");
        return;
    }
    const auto parsed = presence::parse_users_csv(*text, config_usernames(*config_));
    if (!parsed.errors.empty()) {
        log::error("users_csv ", path, ": ", parsed.errors.size(), " bad rows; the file is refused, keeping the ",
                   imported_[source].size(), " users of its last good reading:");
        for (const auto& e : parsed.errors) log::error("  ", path, ":", e.message);
        return;
    }
    std::vector<store::UserRow> rows;
    for (const auto& u : parsed.users) rows.push_back(row_of(u, source));
    imported_[source] = rows;
    if (store_)
        store_->replace_users(source, std::move(rows), [path](const util::Status& st) {
            if (!st) log::error("users_csv ", path, ": not saved: ", st.error().message);
        });
    log::info("users_csv ", path, ": ", parsed.users.size(), " users");
}

std::vector<config::User> Daemon::imported_users() const {
    std::vector<config::User> out;
    for (const auto& [source, rows] : imported_)
        for (const auto& r : rows) out.push_back(user_of(r));
    return out;
}

void Daemon::build_directory() { directory_ = presence::Directory::from_config(*config_, imported_users()); }

util::Status Daemon::set_note(const std::string& username, const std::string& text) {
    if (!presence_) return util::Error{"internal", "the SIP engine is not running"};
    if (!presence_->has_user(username))
        return util::Error{"not_found", cat("no user \"", util::escape_control(username), "\"")};
    // Committed before the answer: "ok" means the note survives a crash.
    if (auto st = store_ ? store_->put_note_now(username, text) : util::Status{util::Ok{}}; !st)
        return util::Error{"internal", cat("note not saved: ", st.error().message)};
    return presence_->set_note(username, text);
}

util::Result<presence::ImportReport> Daemon::import_users(const std::string& path, bool partial) {
    presence::ImportReport report;
    report.path = path;
    auto text = read_file(path);
    if (!text) return text.error();
    // Users of other imports and of users_csv count as existing too: one username, one definition.
    std::vector<std::string> existing = config_usernames(*config_);
    const std::string source = cat(kImportSourcePrefix, path);
    for (const auto& [src, rows] : imported_)
        if (src != source)
            for (const auto& r : rows) existing.push_back(r.username);
    const auto parsed = presence::parse_users_csv(*text, existing);
    report.rows = parsed.rows;
    for (const auto& e : parsed.errors) report.errors.push_back({e.line, e.code, e.message});
    if (!parsed.errors.empty() && !partial) return report;  // nothing changes
    std::vector<store::UserRow> rows;
    for (const auto& u : parsed.users) rows.push_back(row_of(u, source));
    report.imported = rows.size();
    report.applied = true;
    imported_[source] = rows;
    if (store_)
        store_->replace_users(source, std::move(rows), [path](const util::Status& st) {
            if (!st) log::error("import ", path, ": not saved: ", st.error().message);
        });
    log::info("import ", path, ": ", report.imported, " users, ", report.errors.size(), " bad rows");
    build_directory();
    if (presence_) presence_->apply(config_, directory_);  // added users subscribed (paced), removed ones not
    return report;
}

util::Status Daemon::restart_connector(const std::string& name) {
    const config::Connector* c = config_->find_connector(name);
    if (!c) return util::Error{"not_found", cat("no connector \"", util::escape_control(name), "\"")};
    if (!c->enabled || !c->server_address)
        return util::Error{"invalid_argument", cat("connector \"", name, "\" is disabled or has no server")};
    for (auto& link : links_) {
        if (link->config().name != name) continue;
        log::info("connector ", name, ": restart asked");
        link->stop();
        link->start();
    }
    if (presence_) presence_->restart_connector(name);
    return util::Ok{};
}

}  // namespace presenced::daemon
