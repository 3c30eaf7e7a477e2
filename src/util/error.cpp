// Symbolic errno names for causes shown to admins and scripts.
#include "util/error.hpp"

#include <cerrno>
#include <cstring>

namespace presenced::util {

std::string errno_name(int err) {
    // strerrorname_np exists in glibc >= 2.32 (Debian 12 has 2.36).
    if (const char* name = strerrorname_np(err)) return name;
    return "E" + std::to_string(err);
}

}  // namespace presenced::util
