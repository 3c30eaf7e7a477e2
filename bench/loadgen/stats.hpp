// Measurements of the load generator: the SUBSCRIBE arrival rate (maximum in
// any one-second window), NOTIFY -> watch event latency matched by stamp,
// and the one-JSON-object-per-line output the harness parses.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace loadgen {

// Writes one JSON object as a line on stdout and flushes it at once.
void emit(const nlohmann::json& line);

// Steady-clock nanoseconds (uv_hrtime), the one clock of all measurements.
uint64_t now_ns();

// The largest number of events in any window of one second, and the median
// count per whole second since the first event: a token-bucket pacer shows
// its burst in the first and its configured rate in the median.
class RateWindow {
public:
    void add(uint64_t ns);
    uint64_t max_per_second() const { return max_; }
    // Median over the whole seconds elapsed (the last, partial one left out
    // unless it is the only one).
    uint64_t median_per_second() const;
    uint64_t total() const { return total_; }
    uint64_t first_ns() const { return first_; }
    uint64_t last_ns() const { return last_; }

private:
    std::deque<uint64_t> window_;
    std::vector<uint64_t> seconds_;  // events per second since the first
    uint64_t max_ = 0;
    uint64_t total_ = 0;
    uint64_t first_ = 0;
    uint64_t last_ = 0;
};

// Send times of stamped NOTIFYs by load sequence number, and the latency of
// the watch event that shows each stamp (first event per stamp only).
class LatencyBook {
public:
    void reset(uint64_t max_seq);
    void sent(uint64_t seq, uint64_t ns);
    void event(uint64_t seq, uint64_t ns);
    // A presence event without a stamp of this run (initial or refresh state).
    void unstamped_event() { ++unstamped_; }

    uint64_t stamped_sent() const { return stamped_sent_; }
    uint64_t matched() const { return samples_.size(); }
    nlohmann::json summary();

private:
    std::vector<uint64_t> sent_ns_;  // 0 = not sent or already matched
    std::vector<uint32_t> samples_;  // microseconds
    uint64_t stamped_sent_ = 0;
    uint64_t duplicates_ = 0;  // a second event for a stamp already matched
    uint64_t unknown_ = 0;     // a stamp never sent (or out of range)
    uint64_t unstamped_ = 0;
};

}  // namespace loadgen
