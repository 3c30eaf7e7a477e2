// Unguessable identifiers from the kernel CSPRNG (getrandom): Call-IDs,
// tags, branches and cnonces double as anti-spoofing secrets
// (rfc-checklist 16.2), so they never come from a seeded PRNG.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace presenced::util {

// bits/4 lowercase hex characters (bits rounded up to a multiple of 8).
std::string random_hex(size_t bits);
uint64_t random_u64();
// Uniform in [0, bound) (bound > 0), for jitter.
uint64_t random_below(uint64_t bound);

}  // namespace presenced::util
