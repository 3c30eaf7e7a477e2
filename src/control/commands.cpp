// Dispatch: envelope checks, then the command table. Handlers never throw
// out of here: an exception inside one becomes an `internal` error answer,
// because this runs inside a libuv read callback.
#include "control/commands.hpp"

#include <algorithm>

#include "util/log.hpp"
#include "util/text.hpp"

namespace presenced::control {

const std::vector<Command>& command_table() {
    // New commands go at the end: `version` lists them in this order.
    static const std::vector<Command> table = {
        {"version", cmd_version, nullptr},
        {"status", cmd_status, nullptr},
        {"connectors", cmd_connectors, nullptr},
        {"users", cmd_users, nullptr},
        {"reload", cmd_reload, nullptr},
        {"user", cmd_user, nullptr},
        {"subscribe", cmd_subscribe, nullptr},
        {"watch", nullptr, cmd_watch},
        {"note", cmd_note, nullptr},
        {"import_users", cmd_import_users, nullptr},
        {"connector_restart", cmd_connector_restart, nullptr},
    };
    return table;
}

util::Error pass_through(const util::Error& error) {
    const auto& names = error_code_names();
    if (std::find(names.begin(), names.end(), error.code) != names.end()) return error;
    return make_error(Errc::internal, error.message);
}

std::string dispatch(Services& services, std::string_view line, Session* session) {
    json id;
    auto request = parse_request(line, id);
    if (!request) return error_answer(id, request.error());
    for (const auto& command : command_table()) {
        if (command.name != request->cmd) continue;
        try {
            const Args args(request->args);
            if (command.session_handler != nullptr && session == nullptr)
                return error_answer(id, Errc::internal, util::cat("\"", command.name, "\" needs a connection"));
            auto result = command.session_handler != nullptr ? command.session_handler(services, args, *session)
                                                             : command.handler(services, args);
            if (!result) return error_answer(id, result.error());
            return ok_answer(id, std::move(*result));
        } catch (const std::exception& e) {
            log::error("control: command ", request->cmd, " failed: ", e.what());
            return error_answer(id, Errc::internal, "internal error; see the daemon log");
        }
    }
    return error_answer(
        id, Errc::unknown_command,
        util::cat("unknown command \"", util::escape_control(request->cmd), "\"; \"version\" lists the commands"));
}

}  // namespace presenced::control
