// version and status: what runs, since when, from which config.
#include <unistd.h>

#include "build_info.hpp"
#include "control/commands.hpp"

namespace presenced::control {

util::Result<json> cmd_version(Services&, const Args& args) {
    if (auto s = args.only({}); !s) return s.error();
    json commands = json::array();
    for (const auto& c : command_table()) commands.push_back(c.name);
    return json{{"version", build::version}, {"protocol", kProtocolVersion}, {"commands", commands}};
}

namespace {
json reload_json(const ReloadReport& r) {
    if (r.at == 0) return nullptr;
    json out = {{"at", r.at}, {"ok", r.ok}};
    if (!r.ok) out["errors"] = r.errors;
    if (!r.restart_required.empty()) out["restart_required"] = r.restart_required;
    return out;
}

json sip_json(const sip::Endpoint::Counters& c) {
    return json{{"requests_received", c.requests_received},
                {"request_retransmissions", c.request_retransmissions},
                {"unparsable", c.unparsable},
                {"untrusted_dropped", c.untrusted_dropped},
                {"requests_sent", c.requests_sent},
                {"retransmissions", c.retransmissions},
                {"responses_received", c.responses_received},
                {"stray_responses", c.stray_responses}};
}

}  // namespace

util::Result<json> cmd_status(Services& s, const Args& args) {
    if (auto st = args.only({}); !st) return st.error();
    const auto& config = s.config();
    size_t enabled = 0;
    const auto connectors = s.connectors();
    for (const auto& k : connectors) enabled += k.config.enabled ? 1 : 0;
    return json{
        {"version", build::version},
        {"protocol", kProtocolVersion},
        {"pid", static_cast<long long>(getpid())},
        {"started_at", s.started_at()},
        {"uptime_s", s.now() - s.started_at()},
        {"config_file", config.path},
        {"control_socket", s.control_socket()},
        {"log_level", log::level_name(log::level())},
        {"sip_listen", s.sip_listen()},
        {"sip", sip_json(s.sip_counters())},
        {"connectors", connectors.size()},
        {"connectors_enabled", enabled},
        {"users", s.directory().users().size()},
        {"last_reload", reload_json(s.last_reload())},
    };
}

}  // namespace presenced::control
