// reload: re-read the config file; a broken one is refused and the old one
// stays in force (the same path as SIGHUP).
#include "control/commands.hpp"
#include "util/text.hpp"

namespace presenced::control {

util::Result<json> cmd_reload(Services& s, const Args& args) {
    if (auto st = args.only({}); !st) return st.error();
    ReloadReport report = s.reload();
    if (!report.ok) {
        return make_error(Errc::config_error, util::cat("configuration not reloaded, the old one stays in force:\n",
                                                        util::join(report.errors, "\n")));
    }
    return json{
        {"config_file", s.config().path},
        {"connectors", s.config().connectors.size()},
        {"users", s.directory().users().size()},
        {"restart_required", report.restart_required},
    };
}

}  // namespace presenced::control
