// Rate window, latency book and JSON lines; see stats.hpp.
#include "stats.hpp"

#include <uv.h>

#include <algorithm>
#include <cstdio>

namespace loadgen {
namespace {

constexpr uint64_t kSecondNs = 1'000'000'000;
constexpr uint64_t kNsPerUs = 1000;
constexpr double kP50 = 0.50;
constexpr double kP99 = 0.99;

uint32_t percentile(const std::vector<uint32_t>& sorted, double q) {
    if (sorted.empty()) return 0;
    // Nearest rank: the smallest sample with at least q of the samples at or below it.
    const auto rank = static_cast<size_t>(q * static_cast<double>(sorted.size()) + 0.999999);
    return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

void emit(const nlohmann::json& line) {
    const std::string text = line.dump();
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

uint64_t now_ns() { return uv_hrtime(); }

void RateWindow::add(uint64_t ns) {
    if (total_ == 0) first_ = ns;
    last_ = ns;
    ++total_;
    window_.push_back(ns);
    while (!window_.empty() && window_.front() + kSecondNs <= ns) window_.pop_front();
    max_ = std::max<uint64_t>(max_, window_.size());
    const uint64_t second = (ns - first_) / kSecondNs;
    if (second >= seconds_.size()) seconds_.resize(second + 1, 0);
    ++seconds_[second];
}

uint64_t RateWindow::median_per_second() const {
    if (seconds_.empty()) return 0;
    std::vector<uint64_t> whole(seconds_.begin(), seconds_.size() > 1 ? seconds_.end() - 1 : seconds_.end());
    std::nth_element(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(whole.size() / 2), whole.end());
    return whole[whole.size() / 2];
}

void LatencyBook::reset(uint64_t max_seq) {
    sent_ns_.assign(max_seq + 1, 0);
    samples_.clear();
    samples_.reserve(max_seq);
    stamped_sent_ = duplicates_ = unknown_ = unstamped_ = 0;
}

void LatencyBook::sent(uint64_t seq, uint64_t ns) {
    if (seq >= sent_ns_.size()) return;
    sent_ns_[seq] = ns;
    ++stamped_sent_;
}

void LatencyBook::event(uint64_t seq, uint64_t ns) {
    if (seq >= sent_ns_.size()) {
        ++unknown_;
        return;
    }
    const uint64_t sent = sent_ns_[seq];
    if (sent == 0) {
        ++duplicates_;
        return;
    }
    sent_ns_[seq] = 0;
    samples_.push_back(static_cast<uint32_t>(std::min<uint64_t>((ns - sent) / kNsPerUs, UINT32_MAX)));
}

nlohmann::json LatencyBook::summary() {
    std::vector<uint32_t> sorted = samples_;
    std::sort(sorted.begin(), sorted.end());
    return {{"event", "latency"},
            {"count", sorted.size()},
            {"p50_us", percentile(sorted, kP50)},
            {"p99_us", percentile(sorted, kP99)},
            {"max_us", sorted.empty() ? 0 : sorted.back()},
            {"stamped_sent", stamped_sent_},
            {"duplicates", duplicates_},
            {"unknown_stamps", unknown_},
            {"unstamped_events", unstamped_}};
}

}  // namespace loadgen
