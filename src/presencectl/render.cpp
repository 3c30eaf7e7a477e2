// One renderer per command. Values the daemon did not send print as "-",
// so an older or newer daemon never makes presencectl fail.
#include "presencectl/render.hpp"

#include <algorithm>

#include "presencectl/fields.hpp"
#include "presencectl/table.hpp"
#include "subscription/status.hpp"
#include "util/text.hpp"

namespace presenced::ctl {

using util::cat;

namespace {

// The marker of a stale shown state in tables: the last state known from a
// source whose subscription is not active now (presencectl(8)).
constexpr const char* kStaleMark = "?";

std::string shown_state(const json& user, const char* kind) {
    const json& k = member(user, kind);
    std::string state = str(k, "state");
    if (!state.empty() && flag(k, "stale", false) && !str(k, "source").empty()) state += kStaleMark;
    return state;
}

// The connector(s) of the shown states: one name when both kinds come from
// the same one (or only one is known), "rich/telephony" when they differ.
std::string shown_source(const json& user) {
    const std::string rich = str(member(user, "rich"), "source"), telephony = str(member(user, "telephony"), "source");
    if (rich.empty() || telephony.empty() || rich == telephony) return rich.empty() ? telephony : rich;
    return rich + "/" + telephony;
}

// "active 9, retrying 1": the non-zero counts, in the order of the status
// names; "" (printed "-") when all are zero.
std::string subscription_counts(const json& connector) {
    const json& counts = member(connector, "subscriptions");
    std::vector<std::string> parts;
    auto add = [&](const std::string& name) {
        if (const long long n = num(counts, name.c_str(), 0); n > 0) parts.push_back(cat(name, " ", n));
    };
    for (auto name : subscription::status_names()) add(std::string(name));
    // Names a newer daemon counts that this presencectl does not know.
    for (auto it = counts.begin(); it != counts.end(); ++it) {
        const auto& names = subscription::status_names();
        if (std::find(names.begin(), names.end(), it.key()) == names.end()) add(it.key());
    }
    return util::join(parts, ", ");
}

std::string render_version(const json& r) {
    std::string commands;
    if (auto it = r.find("commands"); it != r.end() && it->is_array())
        for (const auto& c : *it)
            commands += (commands.empty() ? "" : " ") + (c.is_string() ? c.get<std::string>() : c.dump());
    return cat("presenced ", str(r, "version"), ", protocol ", str(r, "protocol"), "\ncommands: ", commands, "\n");
}

std::string render_status(const json& r, std::time_t now) {
    std::string reload = "never";
    if (auto it = r.find("last_reload"); it != r.end() && it->is_object()) {
        const json& lr = *it;
        reload = cat(util::format_duration(now - num(lr, "at")), " ago, ");
        if (lr.value("ok", false)) {
            reload += "ok";
        } else {
            std::string first;
            if (auto e = lr.find("errors"); e != lr.end() && e->is_array() && !e->empty() && (*e)[0].is_string())
                first = (*e)[0].get<std::string>();
            reload += "failed: " + util::escape_control(first);
        }
    }
    std::string out;
    auto row = [&](const char* key, const std::string& value) {
        out += cat(key, std::string(17 - std::string_view(key).size(), ' '),
                   value.empty() ? "-" : util::escape_control(value), "\n");
    };
    row("version:", cat(str(r, "version"), " (protocol ", str(r, "protocol"), ")"));
    row("pid:", str(r, "pid"));
    row("uptime:", cat(util::format_duration(num(r, "uptime_s")), " (since ", utc(num(r, "started_at")), ")"));
    row("config file:", str(r, "config_file"));
    row("control socket:", str(r, "control_socket"));
    row("log level:", str(r, "log_level"));
    row("connectors:", cat(str(r, "connectors"), " (", str(r, "connectors_enabled"), " enabled)"));
    row("users:", str(r, "users"));
    if (auto it = r.find("sip"); it != r.end() && it->is_object()) {
        const json& sip = *it;
        row("sip:",
            cat(str(r, "sip_listen"), ", ", num(sip, "requests_received"), " requests in (", num(sip, "unparsable"),
                " unparsable, ", num(sip, "untrusted_dropped"), " from untrusted sources dropped), ",
                num(sip, "requests_sent"), " sent (", num(sip, "retransmissions"), " retransmissions)"));
    }
    row("last reload:", reload);
    return out;
}

std::string render_connectors(const json& r, std::time_t now) {
    Table t({"NAME", "ENABLED", "SERVER", "TRANSPORT", "STATUS", "SINCE", "CAUSE", "PREFERRED", "SUBSCRIPTIONS"});
    for (const auto& k : list(r, "connectors"))
        t.add({str(k, "name"), str(k, "enabled"), str(k, "server"), str(k, "transport"), str(k, "status"),
               ago(k, "since", now), str(k, "cause"), flag(k, "preferred") ? "yes" : "", subscription_counts(k)});
    std::string out = t.render();
    // Resource lists (RFC 4662): one line each under the table.
    for (const auto& k : list(r, "connectors"))
        for (const auto& l : list(k, "lists"))
            out += cat("list ", str(k, "name"), " ", str(l, "kind"), " ", str(l, "uri"), ": ", str(l, "mode"),
                       ", subscription ", str(l, "subscription"), ", ", str(l, "members"), " members, ",
                       str(l, "served"), " users served, ", str(l, "outside"), " outside, ", str(l, "not_users"),
                       " not users", str(l, "cause").empty() ? "" : cat(", cause: ", str(l, "cause")), "\n");
    return out;
}

std::string render_users(const json& r) {
    Table t({"USER", "NAME", "DEPARTMENT", "RICH", "TELEPHONY", "SOURCE"});
    for (const auto& u : list(r, "users"))
        t.add({str(u, "username"), str(u, "display_name"), str(u, "department"), shown_state(u, "rich"),
               shown_state(u, "telephony"), shown_source(u)});
    return t.render();
}

std::string render_subscribe(const json& r) {
    std::string out = cat("forced subscription of ", str(r, "username"), " for ", str(r, "seconds"), "s\n");
    Table t({"KIND", "CONNECTOR", "ACTION", "SUBSCRIPTION"});
    for (const auto& row : list(r, "results"))
        t.add({str(row, "kind"), str(row, "connector"), str(row, "action"), str(row, "subscription")});
    return out + t.render();
}

std::string render_watch(const json& r) {
    auto it = r.find("watching");
    if (it != r.end() && it->is_array()) {
        std::vector<std::string> names;
        for (const auto& n : *it) names.push_back(n.is_string() ? n.get<std::string>() : n.dump());
        return cat("watching ", util::escape_control(util::join(names, ", ")), "\n");
    }
    return "watching all users\n";
}

std::string render_reload(const json& r) {
    std::string out = cat("reloaded ", str(r, "config_file"), ": ", str(r, "connectors"), " connectors, ",
                          str(r, "users"), " users\n");
    if (auto it = r.find("restart_required"); it != r.end() && it->is_array())
        for (const auto& k : *it)
            out += cat("changed, applies at the next restart: ", k.is_string() ? k.get<std::string>() : k.dump(), "\n");
    return out;
}

}  // namespace

namespace {

std::string render_note(const json& r) {
    const std::string note = r.value("note", "");
    return note.empty() ? util::cat("note of ", r.value("username", ""), " removed\n")
                        : util::cat("note of ", r.value("username", ""), ": ", note, "\n");
}

std::string render_import(const json& r) {
    std::string out;
    for (const auto& e : r.value("errors", json::array()))
        out += util::cat(r.value("path", ""), ": ", e.value("message", ""), "\n");
    if (r.value("applied", false))
        out += util::cat(r.value("imported", 0), " users imported from ", r.value("path", ""), " (", r.value("rows", 0),
                         " rows, ", r.value("errors", json::array()).size(), " bad)\n");
    else
        out += util::cat("nothing imported: ", r.value("errors", json::array()).size(),
                         " bad rows (--partial imports the good ones)\n");
    return out;
}

}  // namespace

std::string render_text(const std::string& command, const json& result, std::time_t now) {
    if (command == "note") return render_note(result);
    if (command == "import_users") return render_import(result);
    if (command == "connector_restart") return util::cat("connector ", result.value("name", ""), " restarted\n");
    if (command == "version") return render_version(result);
    if (command == "status") return render_status(result, now);
    if (command == "connectors") return render_connectors(result, now);
    if (command == "users") return render_users(result);
    if (command == "reload") return render_reload(result);
    if (command == "user") return render_user(result, now);
    if (command == "subscribe") return render_subscribe(result);
    if (command == "watch") return render_watch(result);
    return result.dump(2) + "\n";
}

}  // namespace presenced::ctl
