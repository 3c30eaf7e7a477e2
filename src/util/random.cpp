// Kernel CSPRNG helpers.
#include "util/random.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

namespace presenced::util {

namespace {
void fill(void* buf, size_t size) {
    auto* p = static_cast<unsigned char*>(buf);
    while (size > 0) {
        const ssize_t n = getrandom(p, size, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::abort();  // no entropy source: identifiers would be guessable
        }
        p += n;
        size -= static_cast<size_t>(n);
    }
}
}  // namespace

std::string random_hex(size_t bits) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::vector<unsigned char> bytes((bits + 7) / 8);
    fill(bytes.data(), bytes.size());
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) {
        out += kHex[b >> 4];
        out += kHex[b & 15];
    }
    return out;
}

uint64_t random_u64() {
    uint64_t v = 0;
    fill(&v, sizeof v);
    return v;
}

uint64_t random_below(uint64_t bound) {
    // Rejection sampling: no modulo bias.
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t v;
    do v = random_u64();
    while (v >= limit);
    return v % bound;
}

}  // namespace presenced::util
