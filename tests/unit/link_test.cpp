// Connector probe back-off (connector/link): bounds, doubling, caps.
#include <catch2/catch.hpp>

#include <limits>

#include "connector/link.hpp"

using namespace presenced::connector;

TEST_CASE("a healthy connector probes every interval", "[link]") {
    const ProbeSettings s{30'000, 5'000, "", 0};
    CHECK(probe_delay(Status::connected, 0, s, 12345) == 30'000);
    CHECK(probe_delay(Status::credentials_not_found, 3, s, 12345) == 30'000);
}

TEST_CASE("failures back off from the retry interval, doubling, up to the interval", "[link]") {
    const ProbeSettings s{30'000, 5'000, "", 0};
    const uint64_t max = std::numeric_limits<uint64_t>::max();
    // failures counts the negative probes in a row, this one included.
    CHECK(probe_delay(Status::connection_error, 1, s, 0) == 5'000);
    CHECK(probe_delay(Status::connection_error, 1, s, max) == 5'000);
    CHECK(probe_delay(Status::connection_error, 2, s, 0) == 5'000);
    for (uint64_t r : {uint64_t{0}, uint64_t{7}, uint64_t{999'999}, max}) {
        CHECK(probe_delay(Status::connection_error, 2, s, r) <= 10'000);
        CHECK(probe_delay(Status::connection_error, 3, s, r) <= 20'000);
        CHECK(probe_delay(Status::connection_error, 50, s, r) <= 30'000);
        CHECK(probe_delay(Status::connection_error, 50, s, r) >= 5'000);
    }
    CHECK(probe_delay(Status::connection_error, 3, s, 15'000) == 20'000);  // the ceiling is reachable
}

TEST_CASE("a rejected password never probes faster than the interval, up to ten of them", "[link]") {
    const ProbeSettings s{5'000, 1'000, "", 0};
    for (int failures : {1, 2, 5, 100})
        for (uint64_t r : {uint64_t{0}, uint64_t{123'456'789}, std::numeric_limits<uint64_t>::max()}) {
            const uint64_t d = probe_delay(Status::forbidden, failures, s, r);
            CHECK(d >= 5'000);
            CHECK(d <= 50'000);
        }
    CHECK(probe_delay(Status::forbidden, 1, s, 999) == 5'000);
}

TEST_CASE("a retry interval above the probe interval cannot wrap around", "[link]") {
    // Validation refuses it; the arithmetic must still be safe.
    const ProbeSettings s{5'000, 600'000, "", 0};
    for (uint64_t r : {uint64_t{0}, std::numeric_limits<uint64_t>::max()})
        CHECK(probe_delay(Status::connection_error, 4, s, r) == 5'000);
}
