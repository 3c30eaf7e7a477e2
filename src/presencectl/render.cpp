// One renderer per command. Values the daemon did not send print as "-",
// so an older or newer daemon never makes presencectl fail.
#include "presencectl/render.hpp"

#include "presencectl/table.hpp"
#include "util/text.hpp"

namespace presenced::ctl {

using util::cat;

namespace {

std::string str(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_boolean()) return it->get<bool>() ? "yes" : "no";
    return it->dump();
}

long long num(const json& obj, const char* key, long long fallback = 0) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_number_integer() ? it->get<long long>() : fallback;
}

std::string ago(const json& obj, const char* key, std::time_t now) {
    const long long at = num(obj, key, 0);
    if (at <= 0) return {};
    return util::format_duration(now - at);
}

std::string utc(long long epoch) {
    const std::time_t t = static_cast<std::time_t>(epoch);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string state_of(const json& user, const char* kind) {
    auto it = user.find(kind);
    if (it == user.end() || !it->is_object()) return {};
    return str(*it, "state");
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
    Table t({"NAME", "ENABLED", "SERVER", "TRANSPORT", "STATUS", "SINCE", "CAUSE", "PREFERRED"});
    if (auto it = r.find("connectors"); it != r.end() && it->is_array())
        for (const auto& k : *it)
            t.add({str(k, "name"), str(k, "enabled"), str(k, "server"), str(k, "transport"), str(k, "status"),
                   ago(k, "since", now), str(k, "cause"), k.value("preferred", false) ? "yes" : ""});
    return t.render();
}

std::string render_users(const json& r) {
    Table t({"USERNAME", "DISPLAY NAME", "DEPARTMENT", "EXTENSION", "RICH", "TELEPHONY"});
    if (auto it = r.find("users"); it != r.end() && it->is_array())
        for (const auto& u : *it)
            t.add({str(u, "username"), str(u, "display_name"), str(u, "department"), str(u, "extension"),
                   state_of(u, "rich"), state_of(u, "telephony")});
    return t.render();
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

std::string render_text(const std::string& command, const json& result, std::time_t now) {
    if (command == "version") return render_version(result);
    if (command == "status") return render_status(result, now);
    if (command == "connectors") return render_connectors(result, now);
    if (command == "users") return render_users(result);
    if (command == "reload") return render_reload(result);
    return result.dump(2) + "\n";
}

}  // namespace presenced::ctl
