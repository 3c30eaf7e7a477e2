// NOTIFY side of the notifier: formatting, one transaction per dialog at a
// time (RFC 6665 §4.2.2), Timer E retransmission and the 64*T1 give-up over
// UDP (RFC 3261 §17.1.2.2), and the paced load phase.
#include <charconv>
#include <ctime>

#include "notifier.hpp"

namespace loadgen {
namespace {

constexpr uint64_t kNsPerMs = 1'000'000;
constexpr uint64_t kNsPerSecond = 1'000'000'000;
// RFC 3261 §17.1.2.2 Timer E: T1, then doubling up to T2.
constexpr uint32_t kT1Ms = 500;
constexpr uint32_t kT2Ms = 4000;
constexpr size_t kLevels = 4;  // T1, 2*T1, 4*T1, T2
constexpr uint32_t kLevelMs[kLevels] = {kT1Ms, 2 * kT1Ms, 4 * kT1Ms, kT2Ms};
constexpr std::string_view kBranchPrefix = "z9hG4bKlg";  // RFC 3261 §8.1.1.7 magic cookie + ours
constexpr int kTimeoutCode = 0;                          // resolve() with no final answer
constexpr int kTransportErrorCode = -1;                  // resolve(): the TCP connection it went on closed
constexpr int kNoDialog = 481;
// Random order: tries at random before falling back to a scan.
constexpr int kRandomTries = 32;
constexpr size_t kTimestampBytes = 32;
constexpr uint64_t kGiveUpScanNs = 50 * kNsPerMs;  // how late a give-up may be
// RFC 3261 §18.1.1: a request within 200 bytes of the path MTU (loopback:
// 65,536) goes over TCP. The headers of a list NOTIFY stay below the allowance.
constexpr size_t kLoopbackMtu = 65536;
constexpr size_t kMtuMargin = 200;
constexpr size_t kHeaderAllowance = 1024;

void append_u64(std::string& out, uint64_t n) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, static_cast<size_t>(r.ptr - buf));
}

bool parse_u64(std::string_view s, uint64_t& out) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

}  // namespace

void Notifier::update_timestamp() {
    const std::time_t t = std::time(nullptr);
    if (t == timestamp_second_) return;
    timestamp_second_ = t;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[kTimestampBytes];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    timestamp_ = buf;
}

void Notifier::send_notify(uint32_t index, Kind kind) {
    Dialog& d = dialogs_[index];
    if (!d.live) return;
    const uint64_t now = now_ns();
    if (d.route.conn && !transport_.connection_open(d.route.conn)) {
        // The TCP connection the SUBSCRIBE came on is gone: so is the dialog.
        ++all_.transport_errors;
        if (kind == Kind::load) ++load_.transport_errors;
        if (d.list && kind != Kind::terminate) {
            // The states taken off the queue for this NOTIFY are lost with it.
            list_.dropped += list_changes_;
            load_outstanding_ -= list_changes_;
        }
        remove_dialog(index);
        return;
    }
    uint64_t tag = 0;
    if (kind == Kind::load && !d.list) {
        // Every load NOTIFY changes what the watcher shows (bodies.hpp).
        d.shown = d.shown == Shown::away ? Shown::back : Shown::away;
        d.stamp = ++load_sent_;
        if (carries_stamp(d.dialog_info_body, d.shown)) tag = d.stamp;
        ++load_.sent;
        ++load_outstanding_;
    } else if (kind == Kind::load) {
        ++load_.sent;  // a list NOTIFY with member changes; they were counted as outstanding when made
    }
    if (kind != Kind::initial && !d.list) ++d.version;  // RFC 4235 §4.1: +1 per NOTIFY of the dialog
    ++all_.sent;
    const bool list_body = d.list && kind != Kind::terminate;

    uint32_t slot;
    if (!free_slots_.empty()) {
        slot = free_slots_.back();
        free_slots_.pop_back();
    } else {
        slot = static_cast<uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    Outstanding& o = slots_[slot];
    o.used = true;
    o.kind = kind;
    o.dialog = index;
    o.cseq = ++d.cseq;
    o.serial = ++serial_;
    o.first_ns = now;
    o.load_changes = list_body ? list_changes_ : (kind == Kind::load ? 1 : 0);
    o.members.clear();
    if (list_body) o.members.swap(list_members_);
    d.pending = static_cast<int32_t>(slot);
    ++outstanding_count_;
    if (d.active) ++busy_active_;

    bool tcp = d.route.conn != 0;
    o.route = d.route;
    if (!tcp && list_body && list_body_.size() + kHeaderAllowance > kLoopbackMtu - kMtuMargin) {
        o.route = transport_.tcp_route_to(d.route.addr);
        tcp = true;
        ++list_.tcp_for_size;
    }
    std::string& out = scratch_;
    out.clear();
    out.append("NOTIFY ").append(d.target).append(" SIP/2.0\r\nVia: SIP/2.0/").append(tcp ? "TCP " : "UDP ");
    out.append(via_host_).append(";branch=").append(kBranchPrefix);
    append_u64(out, slot);
    out.push_back('.');
    append_u64(out, o.serial);
    out.append("\r\nMax-Forwards: 70\r\nFrom: <").append(d.local_uri).append(">;tag=").append(d.local_tag);
    out.append("\r\nTo: ").append(d.remote).append("\r\nCall-ID: ").append(d.call_id).append("\r\nCSeq: ");
    append_u64(out, o.cseq);
    out.append(" NOTIFY\r\n").append(d.route.conn ? contact_tcp_ : contact_udp_);
    out.append(d.dialog_package ? "Event: dialog\r\n" : "Event: presence\r\n");
    if (kind == Kind::terminate) {
        out.append("Subscription-State: terminated;reason=timeout\r\n");
    } else {
        // RFC 6665 §4.2.2: expires is what is left of the duration granted.
        const uint64_t left_ns = d.expires_at_ns > now ? d.expires_at_ns - now : 0;
        out.append("Subscription-State: active;expires=");
        append_u64(out, std::max<uint64_t>(1, (left_ns + kNsPerSecond - 1) / kNsPerSecond));
        out.append("\r\n");
    }
    out.append("User-Agent: presence_loadgen\r\nAllow: SUBSCRIBE, NOTIFY, OPTIONS\r\n");
    if (kind == Kind::terminate) {
        out.append("Content-Length: 0\r\n\r\n");
    } else if (list_body) {
        // RFC 4662 §4.1 (rfc-checklist 14.2): list NOTIFYs require eventlist.
        out.append("Require: eventlist\r\nContent-Type: ").append(list_content_type_);
        out.append("\r\nContent-Length: ");
        append_u64(out, list_body_.size());
        out.append("\r\n\r\n").append(list_body_);
    } else {
        out.append("Content-Type: ").append(d.dialog_info_body ? kDialogInfoType : kPidfType);
        out.append("\r\nContent-Length: ");
        const size_t length_at = out.size();
        out.append("00000\r\n\r\n");  // patched below: a fixed-width length keeps one pass
        const size_t body_at = out.size();
        if (d.dialog_info_body)
            append_dialog_info(out, d.local_uri, d.shown, d.version, d.stamp);
        else
            append_pidf(out, d.local_uri, d.shown, d.stamp, timestamp_);
        const std::string length = std::to_string(out.size() - body_at);
        out.replace(length_at, 5, length);  // RFC 3261 §20.14: leading zeros are not needed, nor harmful to drop
    }
    if (!tcp) {
        o.message = out;
        o.interval_ms = kLevelMs[0];
        retransmit_[0].push_back({slot, o.serial, now + uint64_t{kLevelMs[0]} * kNsPerMs});
    }
    ++msg_.out_notify;
    msg_.out_notify_bytes += out.size();
    if (list_body)
        transport_.send(o.route, out, list_tags_);
    else
        transport_.send(o.route, out, tag);
}

void Notifier::on_response(const sip::Message& m) {
    uint64_t slot = 0, serial = 0;
    const std::string_view b = m.branch;
    const size_t dot = b.find('.');
    if (m.cseq_method != "NOTIFY" || b.substr(0, kBranchPrefix.size()) != kBranchPrefix || dot == b.npos ||
        !parse_u64(b.substr(kBranchPrefix.size(), dot - kBranchPrefix.size()), slot) ||
        !parse_u64(b.substr(dot + 1), serial) || slot >= slots_.size() || !slots_[slot].used ||
        slots_[slot].serial != serial || slots_[slot].cseq != m.cseq) {
        ++req_.stray_responses;  // late answers to resolved NOTIFYs land here too
        return;
    }
    if (m.status < 200) return;  // provisional: Timer E goes on (RFC 3261 §17.1.2.2, Proceeding state)
    resolve(static_cast<uint32_t>(slot), m.status, now_ns());
}

void Notifier::resolve(uint32_t slot, int code, uint64_t now) {
    Outstanding& o = slots_[slot];
    const Kind kind = o.kind;
    const uint32_t index = o.dialog;
    NotifyCounters* counters[2] = {&all_, kind == Kind::load ? &load_ : nullptr};
    for (NotifyCounters* c : counters) {
        if (!c) continue;
        if (code == kTimeoutCode)
            ++c->timeouts;
        else if (code == kTransportErrorCode)
            ++c->transport_errors;
        else if (code >= 200 && code < 300)
            ++c->answered;
        else
            ++c->other[code];
    }
    const bool ok = code >= 200 && code < 300;
    bool became_active = dialogs_[index].list && list_resolved(o, ok);
    free_slot(slot, now);
    Dialog& d = dialogs_[index];
    if (d.active) --busy_active_;
    d.pending = -1;
    if (kind == Kind::initial && ok) {
        d.active = true;
        ++active_count_;
        if (d.list) ++list_active_;
        became_active = true;
    }
    if (kind == Kind::terminate || code == kNoDialog) {
        // RFC 6665 §4.2.2: a 481 means the subscriber has no such subscription.
        remove_dialog(index);
    } else if (d.terminating) {
        send_notify(index, Kind::terminate);
    } else if (d.list) {
        drain_list(index);
    } else if (d.queued) {
        d.queued = false;
        send_notify(index, Kind::refresh);
    }
    if (became_active && hooks_.active_changed) hooks_.active_changed(covered());
    if (load_running_) maybe_finish_load(now);
}

// An outstanding NOTIFY is over (answered, or its connection lost): its slot is free again.
void Notifier::free_slot(uint32_t slot, uint64_t now) {
    Outstanding& o = slots_[slot];
    if (o.load_changes) {
        load_outstanding_ -= o.load_changes;
        load_end_ns_ = now;
    }
    o.used = false;
    o.message.clear();
    o.members.clear();
    free_slots_.push_back(slot);
    --outstanding_count_;
}

void Notifier::on_connection_closed(uint32_t conn) {
    const uint64_t now = now_ns();
    for (uint32_t i = 0; i < dialogs_.size(); ++i) {
        Dialog& d = dialogs_[i];
        if (!d.live || d.route.conn != conn) continue;
        ++req_.lost_with_connection;
        if (d.pending >= 0) {
            // Not a timeout: the transport failed (RFC 3261 §8.1.3.1); count it as such.
            Outstanding& o = slots_[static_cast<uint32_t>(d.pending)];
            ++all_.transport_errors;
            if (o.kind == Kind::load) ++load_.transport_errors;
            free_slot(static_cast<uint32_t>(d.pending), now);
            if (d.active) --busy_active_;
            d.pending = -1;
        }
        remove_dialog(i);
    }
    // NOTIFYs of UDP dialogs that went over a connection we opened (large list NOTIFYs).
    for (uint32_t slot = 0; slot < slots_.size(); ++slot)
        if (slots_[slot].used && slots_[slot].route.conn == conn) resolve(slot, kTransportErrorCode, now);
    if (load_running_) maybe_finish_load(now);
}

void Notifier::run_timers(uint64_t now) {
    for (size_t level = 0; level < kLevels; ++level) {
        auto& q = retransmit_[level];
        while (!q.empty() && q.front().due_ns <= now) {
            const TimerEntry e = q.front();
            q.pop_front();
            Outstanding& o = slots_[e.slot];
            if (!o.used || o.serial != e.serial) continue;  // answered meanwhile
            if (now - o.first_ns >= timeout_ns_) continue;  // the sweep below gives it up
            ++all_.retransmissions;
            ++msg_.out_notify_retransmissions;
            if (o.kind == Kind::load) ++load_.retransmissions;
            transport_.send(o.route, o.message);
            const size_t next = std::min(level + 1, kLevels - 1);
            retransmit_[next].push_back({e.slot, e.serial, now + uint64_t{kLevelMs[next]} * kNsPerMs});
        }
    }
    // The give-up (64*T1) is found by a sweep of the slots in use rather than
    // a queue entry per NOTIFY: at 50,000 NOTIFY/s a 32 s queue would hold
    // 1.6 M entries, while the slots are bounded by the window (and, while
    // subscribing, by the dialogs waiting for their initial NOTIFY).
    if (now - last_give_up_scan_ns_ < kGiveUpScanNs) return;
    last_give_up_scan_ns_ = now;
    for (uint32_t slot = 0; slot < slots_.size(); ++slot)
        if (slots_[slot].used && now - slots_[slot].first_ns >= timeout_ns_) resolve(slot, kTimeoutCode, now);
}

void Notifier::tick() {
    const uint64_t now = now_ns();
    update_timestamp();
    run_timers(now);
    check_expiry(now);
    if (load_sending_) pump_load(now);
}

void Notifier::before_flush() {
    if (load_sending_) pump_load(now_ns());
}

void Notifier::on_written(uint64_t tag) { latency_.sent(tag, now_ns()); }

void Notifier::start_load(const LoadPlan& plan) {
    plan_ = plan;
    plan_.window = std::max<uint32_t>(1, plan_.window);
    load_ = NotifyCounters{};
    load_sent_ = load_outstanding_ = 0;
    load_start_ns_ = load_end_ns_ = now_ns();
    load_running_ = load_sending_ = true;
    pump_load(load_start_ns_);
}

bool Notifier::eligible(const Dialog& d) const {
    return d.live && d.active && !d.terminating && d.pending < 0 && !d.queued && !d.list;
}

std::optional<uint32_t> Notifier::pick_dialog() {
    if (dialogs_.empty() || active_count_ <= busy_active_) return std::nullopt;
    const auto size = static_cast<uint32_t>(dialogs_.size());
    if (plan_.random) {
        std::uniform_int_distribution<uint32_t> pick(0, size - 1);
        for (int i = 0; i < kRandomTries; ++i) {
            const uint32_t index = pick(rng_);
            if (eligible(dialogs_[index])) return index;
        }
    }
    for (uint32_t n = 0; n < size; ++n) {
        const uint32_t index = rr_cursor_++ % size;
        if (rr_cursor_ >= size) rr_cursor_ = 0;
        if (eligible(dialogs_[index])) return index;
    }
    return std::nullopt;
}

void Notifier::pump_load(uint64_t now) {
    if (now - load_start_ns_ >= plan_.duration_ns || load_sent_ >= plan_.count) {
        load_sending_ = false;
        maybe_finish_load(now);
        return;
    }
    uint64_t allowed = plan_.count;
    if (plan_.rate > 0) {
        const double elapsed_s = static_cast<double>(now - load_start_ns_) / 1e9;
        allowed = std::min<uint64_t>(plan_.count, static_cast<uint64_t>(plan_.rate * elapsed_s) + 1);
    }
    // A list serves the load as member state changes while one of its dialogs is active.
    const bool list_load = list_active_ > 0;
    while (load_outstanding_ < plan_.window && load_sent_ < allowed) {
        if (list_load) {
            if (!list_load_step()) break;
            continue;
        }
        const auto index = pick_dialog();
        if (!index) break;
        send_notify(*index, Kind::load);
    }
    if (load_sent_ >= plan_.count) {
        load_sending_ = false;
        maybe_finish_load(now);
    }
}

void Notifier::maybe_finish_load(uint64_t now) {
    if (!load_running_ || load_sending_ || load_outstanding_ != 0) return;
    load_running_ = false;
    if (load_end_ns_ < load_start_ns_) load_end_ns_ = now;
    if (hooks_.load_done) hooks_.load_done();
}

}  // namespace loadgen
