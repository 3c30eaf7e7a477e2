// Request envelope checks and answer serialisation for the control socket.
#include "control/protocol.hpp"

#include <limits>

#include "util/text.hpp"

namespace presenced::control {

using util::cat;

util::Error make_error(Errc code, std::string message) {
    return util::Error{std::string(errc_name(code)), std::move(message)};
}

util::Result<Request> parse_request(std::string_view line, json& id_out) {
    id_out = nullptr;
    json doc = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return make_error(Errc::bad_request, "request is not valid JSON");
    if (!doc.is_object()) return make_error(Errc::bad_request, "request must be a JSON object");

    // The id comes first so that every later error can be matched to its request.
    if (auto it = doc.find("id"); it != doc.end()) {
        if (!(it->is_number_integer() || it->is_string()))
            return make_error(Errc::bad_request, "\"id\" must be an integer or a string");
        id_out = *it;
    } else {
        return make_error(Errc::bad_request, "request has no \"id\"");
    }
    auto v = doc.find("v");
    if (v == doc.end()) return make_error(Errc::bad_request, "request has no \"v\" (protocol version)");
    if (!v->is_number_integer()) return make_error(Errc::bad_request, "\"v\" must be an integer");
    if (v->get<long long>() != kProtocolVersion)
        return make_error(
            Errc::version_mismatch,
            cat("protocol version ", v->dump(), " is not supported; this daemon speaks version ", kProtocolVersion));
    auto cmd = doc.find("cmd");
    if (cmd == doc.end()) return make_error(Errc::bad_request, "request has no \"cmd\"");
    if (!cmd->is_string()) return make_error(Errc::bad_request, "\"cmd\" must be a string");

    Request req;
    req.id = id_out;
    req.cmd = cmd->get<std::string>();
    if (auto args = doc.find("args"); args != doc.end()) {
        if (!args->is_object()) return make_error(Errc::bad_request, "\"args\" must be an object");
        req.args = std::move(*args);
    }
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        const std::string& k = it.key();
        if (k != "v" && k != "id" && k != "cmd" && k != "args")
            return make_error(Errc::bad_request, cat("unknown request field \"", util::escape_control(k), "\""));
    }
    return req;
}

namespace {
// Invalid UTF-8 must never make dump() throw inside a libuv callback.
std::string dump(const json& doc) { return doc.dump(-1, ' ', false, json::error_handler_t::replace); }
}  // namespace

std::string ok_answer(const json& id, json result) {
    json answer = {{"v", kProtocolVersion}, {"id", id}, {"ok", true}, {"result", std::move(result)}};
    return dump(answer);
}

std::string error_answer(const json& id, Errc code, std::string_view message, json details) {
    return error_answer(id, make_error(code, std::string(message)), std::move(details));
}

std::string error_answer(const json& id, const util::Error& error, json details) {
    json err = {{"code", error.code}, {"message", error.message}};
    if (!details.is_null()) err["details"] = std::move(details);
    json answer = {{"v", kProtocolVersion}, {"id", id}, {"ok", false}, {"error", std::move(err)}};
    return dump(answer);
}

util::Status Args::only(std::initializer_list<std::string_view> known) const {
    for (auto it = args_.begin(); it != args_.end(); ++it) {
        bool found = false;
        for (auto k : known) found = found || k == it.key();
        if (!found)
            return make_error(Errc::invalid_argument, cat("unknown argument \"", util::escape_control(it.key()), "\""));
    }
    return util::Ok{};
}

util::Result<std::string> Args::string(std::string_view key, std::string fallback) const {
    auto it = args_.find(key);
    if (it == args_.end()) return fallback;
    if (!it->is_string()) return make_error(Errc::bad_request, cat("argument \"", key, "\" must be a string"));
    return it->get<std::string>();
}

util::Result<std::string> Args::required_string(std::string_view key) const {
    if (!has(key)) return make_error(Errc::invalid_argument, cat("argument \"", key, "\" is required"));
    auto value = string(key);
    if (value && value->empty())
        return make_error(Errc::invalid_argument, cat("argument \"", key, "\" must not be empty"));
    return value;
}

util::Result<long long> Args::integer(std::string_view key, long long fallback) const {
    auto it = args_.find(key);
    if (it == args_.end()) return fallback;
    if (!it->is_number_integer())
        return make_error(Errc::bad_request, cat("argument \"", key, "\" must be an integer"));
    // nlohmann keeps integers above INT64_MAX unsigned; get<long long>() would wrap them.
    if (it->is_number_unsigned() && it->get<unsigned long long>() > std::numeric_limits<long long>::max())
        return std::numeric_limits<long long>::max();
    return it->get<long long>();
}

util::Result<bool> Args::boolean(std::string_view key, bool fallback) const {
    auto it = args_.find(key);
    if (it == args_.end()) return fallback;
    if (!it->is_boolean()) return make_error(Errc::bad_request, cat("argument \"", key, "\" must be true or false"));
    return it->get<bool>();
}

util::Result<std::vector<std::string>> Args::strings(std::string_view key) const {
    std::vector<std::string> out;
    auto it = args_.find(key);
    if (it == args_.end()) return out;
    if (!it->is_array())
        return make_error(Errc::bad_request, cat("argument \"", key, "\" must be an array of strings"));
    for (const auto& e : *it) {
        if (!e.is_string())
            return make_error(Errc::bad_request, cat("argument \"", key, "\" must be an array of strings"));
        out.push_back(e.get<std::string>());
    }
    return out;
}

}  // namespace presenced::control
