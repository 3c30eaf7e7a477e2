// Dispatch: envelope checks, then the command table. Handlers never throw
// out of here: an exception inside one becomes an `internal` error answer,
// because this runs inside a libuv read callback.
#include "control/commands.hpp"

#include "util/log.hpp"

namespace presenced::control {

const std::vector<Command>& command_table() {
    static const std::vector<Command> table = {
        {"version", cmd_version}, {"status", cmd_status}, {"connectors", cmd_connectors},
        {"users", cmd_users},     {"reload", cmd_reload},
    };
    return table;
}

std::string dispatch(Services& services, std::string_view line) {
    json id;
    auto request = parse_request(line, id);
    if (!request) return error_answer(id, request.error());
    for (const auto& command : command_table()) {
        if (command.name != request->cmd) continue;
        try {
            const Args args(request->args);
            auto result = command.handler(services, args);
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
