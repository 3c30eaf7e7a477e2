// What an admin changes: operator notes, users imported from CSV, and a
// connector restart (the seed's "restart the connector").
#include "control/commands.hpp"
#include "util/text.hpp"

namespace presenced::control {

namespace {

// A note is one line of text an operator reads next to the user.
constexpr size_t kMaxNoteBytes = 1024;

util::Result<std::string> required(const Args& args, std::string_view key) {
    auto v = args.string(key);
    if (!v) return v.error();
    if (v->empty()) return make_error(Errc::invalid_argument, util::cat("argument \"", key, "\" is required"));
    return *v;
}

}  // namespace

util::Result<json> cmd_note(Services& s, const Args& args) {
    if (auto st = args.only({"username", "text"}); !st) return st.error();
    auto username = required(args, "username");
    if (!username) return username.error();
    auto text = args.string("text");  // "" or absent: remove the note
    if (!text) return text.error();
    if (text->size() > kMaxNoteBytes)
        return make_error(Errc::invalid_argument, util::cat("a note is at most ", kMaxNoteBytes, " bytes"));
    for (char c : *text)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return make_error(Errc::invalid_argument, "a note is one line without control characters");
    if (auto st = s.set_note(*username, *text); !st) return pass_through(st.error());
    return json{{"username", *username}, {"note", *text}};
}

util::Result<json> cmd_import_users(Services& s, const Args& args) {
    if (auto st = args.only({"path", "partial"}); !st) return st.error();
    auto path = required(args, "path");
    if (!path) return path.error();
    if (path->front() != '/') return make_error(Errc::invalid_argument, "path must be absolute");
    auto partial = args.boolean("partial", false);
    if (!partial) return partial.error();
    auto report = s.import_users(*path, *partial);
    if (!report) return pass_through(report.error());
    json errors = json::array();
    for (const auto& e : report->errors)
        errors.push_back(json{{"line", e.line}, {"code", e.code}, {"message", e.message}});
    json result{{"path", report->path},
                {"rows", report->rows},
                {"imported", report->imported},
                {"applied", report->applied},
                {"errors", std::move(errors)}};
    // applied false (bad rows, no --partial) is still an answer: it lists every
    // bad row; presencectl exits 1 on it.
    return result;
}

util::Result<json> cmd_connector_restart(Services& s, const Args& args) {
    if (auto st = args.only({"name"}); !st) return st.error();
    auto name = required(args, "name");
    if (!name) return name.error();
    if (auto st = s.restart_connector(*name); !st) return pass_through(st.error());
    return json{{"name", *name}, {"restarted", true}};
}

}  // namespace presenced::control
