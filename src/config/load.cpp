// Reads presenced.toml from disk or memory, parses it with toml++ and hands
// the tree to the schema. Also the small Config accessors.
#include <sys/stat.h>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/schema.hpp"
#include "util/text.hpp"

namespace presenced::config {

namespace {
// A config is text written by people; anything larger is a mistake.
constexpr off_t kMaxConfigBytes = off_t{16} * 1024 * 1024;
}  // namespace

std::string_view transport_name(Transport t) { return t == Transport::udp ? "udp" : "tcp"; }
std::string_view policy_name(SubscribePolicy p) { return p == SubscribePolicy::all ? "all" : "on_demand"; }
std::string_view telephony_event_name(TelephonyEvent e) { return e == TelephonyEvent::dialog ? "dialog" : "presence"; }

std::string Diagnostic::str() const {
    if (line <= 0) return util::cat(file, ": ", message);
    return util::cat(file, ":", line, ":", column, ": ", message);
}

const Connector* Config::find_connector(std::string_view name) const {
    for (const auto& k : connectors)
        if (k.name == name) return &k;
    return nullptr;
}

const Connector* Config::preferred() const {
    if (!presence.preferred_connector.empty()) return find_connector(presence.preferred_connector);
    const Connector* only = nullptr;
    for (const auto& k : connectors) {
        if (!k.enabled) continue;
        if (only) return nullptr;
        only = &k;
    }
    return only;
}

std::string Config::resolved_telephony_uri(const User& user) const {
    if (!user.telephony_uri.empty()) return user.telephony_uri;
    if (user.extension.empty()) return {};
    const Connector* k = preferred();
    if (!k || k->domain.empty()) {
        k = nullptr;
        for (const auto& c : connectors)
            if (c.enabled && !c.domain.empty()) {
                k = &c;
                break;
            }
    }
    if (!k) return {};
    return util::cat("sip:", user.extension, "@", k->domain);
}

LoadOutcome load_string(std::string_view text, const std::string& source_name) {
    try {
        const toml::table root = toml::parse(text, source_name);
        return detail::build_config(root, source_name);
    } catch (const toml::parse_error& e) {
        LoadOutcome out;
        const auto& where = e.source().begin;
        out.errors.push_back(
            {source_name, static_cast<int>(where.line), static_cast<int>(where.column), std::string(e.description())});
        return out;
    }
}

LoadOutcome load_file(const std::string& path) {
    LoadOutcome out;
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
        out.errors.push_back({path, 0, 0, util::cat("cannot read: ", std::strerror(errno))});
        return out;
    }
    if (!S_ISREG(st.st_mode)) {
        out.errors.push_back({path, 0, 0, "cannot read: not a regular file"});
        return out;
    }
    if (st.st_size > kMaxConfigBytes) {
        out.errors.push_back({path, 0, 0, util::cat("cannot read: larger than ", kMaxConfigBytes, " bytes")});
        return out;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        out.errors.push_back({path, 0, 0, util::cat("cannot read: ", std::strerror(errno))});
        return out;
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return load_string(buffer.str(), path);
}

}  // namespace presenced::config
