// Errors as values: a small Result<T> (std::expected is C++23 and not in
// GCC 12) carrying an Error with a stable code name and a human message.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace presenced::util {

struct Error {
    std::string code;     // stable snake_case name, part of the interface
    std::string message;  // for people; may change between versions
};

template <class T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<T>(v_); }
    const T& value() const { return std::get<T>(v_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<Error>(v_); }

private:
    std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline Error make_error(std::string code, std::string message) { return Error{std::move(code), std::move(message)}; }

// The strerror-style symbolic name of an errno value ("ECONNREFUSED"), so
// logs and status causes carry a stable token, not a localised sentence.
std::string errno_name(int err);

}  // namespace presenced::util
