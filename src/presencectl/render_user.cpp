// `user NAME` as "key: value" lines, and watch events as one line each.
// Every value comes from the answer as sent; what is absent is left out
// (or printed "-"), so an older or newer daemon never breaks the output.
#include <vector>

#include "presencectl/fields.hpp"
#include "presencectl/render.hpp"
#include "presencectl/table.hpp"

namespace presenced::ctl {

using util::cat;

namespace {

// Values start in this column, as in `status`.
constexpr size_t kValueColumn = 17;
// Marks a stale shown state, in words here (the tables use "?").
constexpr const char* kStaleWords = " (stale)";

class Lines {
public:
    void row(const std::string& key, const std::string& value) {
        const std::string label = key + ":";
        const size_t width = display_width(label);
        out_ += label + std::string(width < kValueColumn ? kValueColumn - width : 1, ' ') +
                (value.empty() ? "-" : util::escape_control(value)) + "\n";
    }
    void blank() { out_ += "\n"; }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

// "in 40s" for a relative time in seconds; "" when -1 (none).
std::string in(long long seconds) { return seconds < 0 ? std::string() : "in " + util::format_duration(seconds); }

// The parts that are not empty, joined by separator.
std::string join_parts(const std::vector<std::string>& parts, std::string_view separator = "; ") {
    std::vector<std::string> kept;
    for (const auto& p : parts)
        if (!p.empty()) kept.push_back(p);
    return util::join(kept, separator);
}

std::string kind_summary(const json& k) {
    std::string out = str(k, "state");
    if (flag(k, "stale") && !str(k, "source").empty()) out += kStaleWords;
    if (const std::string source = str(k, "source"); !source.empty()) out += ", from " + source;
    if (const long long age = num(k, "age_s", -1); age >= 0) out += ", " + util::format_duration(age) + " ago";
    return out;
}

std::string entry_line(const json& e) {
    std::string head = cat(str(e, "kind"), " ", str(e, "id"), ":");
    std::vector<std::string> activities;
    for (const auto& a : list(e, "activities"))
        if (a.is_string()) activities.push_back(a.get<std::string>());
    const std::string note = str(e, "note");
    return head + " " +
           join_parts({str(e, "basic"), util::join(activities, ", "), note.empty() ? "" : "note \"" + note + "\"",
                       str(e, "contact").empty() ? "" : "contact " + str(e, "contact"),
                       str(e, "device_id").empty() ? "" : "device " + str(e, "device_id"),
                       flag(e, "idle") ? "idle" : "", str(e, "timestamp").empty() ? "" : "at " + str(e, "timestamp")});
}

std::string party(const json& d, const char* side) {
    const std::string display = str(d, (std::string(side) + "_display").c_str()),
                      identity = str(d, (std::string(side) + "_identity").c_str());
    if (display.empty() && identity.empty()) return {};
    std::string out = cat(side, " ", display);
    if (!identity.empty()) out += (display.empty() ? "" : " ") + ("<" + identity + ">");
    return out;
}

std::string dialog_line(const json& d) {
    return cat(str(d, "id"), ": ",
               join_parts({join_parts({str(d, "direction"), str(d, "state"), str(d, "code")}, " "), party(d, "remote"),
                           party(d, "local"), str(d, "event").empty() ? "" : "event " + str(d, "event")}));
}

std::string source_line(const json& s) {
    const bool known = flag(s, "known");
    const long long code = num(s, "last_code", 0), retries = num(s, "retries", 0);
    const std::string retry_in = in(num(s, "next_retry_in_s", -1));
    std::string retry;
    if (!retry_in.empty()) retry = cat("retry ", retries + 1, " ", retry_in);
    const std::string via =
        str(s, "list").empty() ? "" : cat("via list ", str(s, "list"), " instance ", str(s, "list_instance"));
    return join_parts({
        str(s, "subscription"),
        via,
        known ? "state " + str(s, "state") : "nothing received",
        str(s, "body") == "bad_body" ? "bad body: " + str(s, "body_error") : "",
        num(s, "age_s", -1) >= 0 ? "received " + util::format_duration(num(s, "age_s")) + " ago" : "",
        str(s, "message").empty() ? "" : "message \"" + str(s, "message") + "\"",
        cat(num(s, "notifies", 0), " NOTIFYs"),
        code > 0 ? cat("last response ", code, " ", str(s, "last_reason")) : "",
        str(s, "last_state_reason").empty() ? "" : "reason " + str(s, "last_state_reason"),
        in(num(s, "expires_in_s", -1)).empty() ? "" : "expires " + in(num(s, "expires_in_s", -1)),
        in(num(s, "next_refresh_in_s", -1)).empty() ? "" : "refresh " + in(num(s, "next_refresh_in_s", -1)),
        retry,
        str(s, "why"),
    });
}

void kind_block(Lines& out, const json& user, const char* kind) {
    const json& k = member(user, kind);
    out.blank();
    out.row(kind, kind_summary(k));
    if (!str(k, "message").empty()) out.row("  message", str(k, "message"));
    for (const auto& e : list(k, "entries")) out.row("  entry", entry_line(e));
    for (const auto& d : list(k, "dialogs")) out.row("  dialog", dialog_line(d));
    for (const auto& s : list(k, "sources")) out.row("  source " + str(s, "connector"), source_line(s));
}

}  // namespace

std::string render_user(const json& r, std::time_t) {
    Lines out;
    out.row("username", str(r, "username"));
    out.row("display name", str(r, "display_name"));
    out.row("department", str(r, "department"));
    out.row("extension", str(r, "extension"));
    out.row("rich uri", str(r, "rich_uri"));
    out.row("telephony uri", str(r, "telephony_uri"));
    out.row("note", str(r, "note"));
    out.row("forced",
            flag(r, "forced") ? cat("yes, ", util::format_duration(num(r, "forced_remaining_s")), " left") : "no");
    out.row("watchers", str(r, "watchers"));
    kind_block(out, r, "rich");
    kind_block(out, r, "telephony");
    return out.take();
}

std::string render_event(const json& e) {
    const std::string type = str(e, "event"), at = utc(num(e, "at", 0));
    auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
    std::string line;
    if (type == "presence") {
        line = cat(at, " ", str(e, "username"), " ", str(e, "kind"), " ", or_dash(str(e, "previous")), " -> ",
                   or_dash(str(e, "state")));
        if (const std::string source = str(e, "source"); !source.empty()) {
            line += " from " + source;
            if (flag(e, "stale", false)) line += ", stale";
        }
        if (!str(e, "message").empty()) line += ": " + str(e, "message");
    } else if (type == "connector") {
        line = cat(at, " connector ", str(e, "connector"), " ", or_dash(str(e, "previous")), " -> ",
                   or_dash(str(e, "status")));
        if (!str(e, "cause").empty()) line += ": " + str(e, "cause");
    } else {
        return {};
    }
    return util::escape_control(line) + "\n";
}

}  // namespace presenced::ctl
