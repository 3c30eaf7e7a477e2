// Framing-free half of the control protocol: one request line in, one
// answer line out (without the trailing newline).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "control/wire.hpp"
#include "util/error.hpp"

namespace presenced::control {

using json = nlohmann::json;

struct Request {
    json id;  // echoed verbatim: a number or a string
    std::string cmd;
    json args = json::object();
};

// Parses and checks the envelope {"v":1,"id":N,"cmd":"...","args":{...}}.
// On failure the error's code is an Errc name, and id is filled in when the
// line got far enough to have one (else null).
util::Result<Request> parse_request(std::string_view line, json& id_out);

std::string ok_answer(const json& id, json result);
std::string error_answer(const json& id, Errc code, std::string_view message, json details = nullptr);
std::string error_answer(const json& id, const util::Error& error, json details = nullptr);

util::Error make_error(Errc code, std::string message);

// Checks a command's args: every key must be known, each of the right JSON
// type (wrong type -> bad_request, unknown key or missing required key ->
// invalid_argument).
class Args {
public:
    explicit Args(const json& args) : args_(args) {}
    // Returns an error for the first unknown key, if any.
    util::Status only(std::initializer_list<std::string_view> known) const;
    bool has(std::string_view key) const { return args_.contains(key); }
    util::Result<std::string> string(std::string_view key, std::string fallback = {}) const;
    // A string argument that must be present and not empty.
    util::Result<std::string> required_string(std::string_view key) const;
    // An integer; one beyond the range of long long is clamped to it, so the
    // caller's range check refuses it (never a silent wrap-around).
    util::Result<long long> integer(std::string_view key, long long fallback) const;
    // true or false; absent -> fallback.
    util::Result<bool> boolean(std::string_view key, bool fallback) const;
    // An array of strings; absent -> empty.
    util::Result<std::vector<std::string>> strings(std::string_view key) const;

private:
    const json& args_;
};

}  // namespace presenced::control
