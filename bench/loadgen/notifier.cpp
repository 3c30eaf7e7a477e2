// Request side of the notifier: SUBSCRIBE (RFC 6665 §4.2.1), digest
// (RFC 3261 §22.4), OPTIONS (RFC 3261 §11) and the dialog table.
#include "notifier.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace loadgen {
namespace {

constexpr std::string_view kRealm = "loadgen";
constexpr std::string_view kAllow = "Allow: SUBSCRIBE, NOTIFY, OPTIONS\r\n";
constexpr uint64_t kNsPerSecond = 1'000'000'000;
// A dialog not refreshed this long after its expiry is ended by us
// (RFC 6665 §4.2.2: the notifier terminates an expired subscription).
constexpr uint64_t kExpiryGraceNs = 5 * kNsPerSecond;
constexpr uint64_t kExpiryScanNs = kNsPerSecond;

bool is_package(std::string_view event, std::string_view package) {
    const std::string_view name = event.substr(0, event.find(';'));
    return sip::iequals(name, package);
}

std::string reason_of(int code) {
    switch (code) {
        case 200:
            return "OK";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 421:
            return "Extension Required";
        case 405:
            return "Method Not Allowed";
        case 481:
            return "Subscription Does Not Exist";
        case 489:
            return "Bad Event";
        default:
            return "Error";
    }
}

}  // namespace

Notifier::Notifier(const Options& options, Transport& transport, LatencyBook& latency, Hooks hooks)
    : options_(options), transport_(transport), latency_(latency), hooks_(std::move(hooks)) {
    timeout_ns_ = static_cast<uint64_t>(options_.timeout_s * 1e9);
    if (options_.digest) digest_.emplace(options_.auth_user, options_.auth_password, std::string(kRealm));
    const std::string host = options_.listen_ip + ":" + std::to_string(transport_.port());
    via_host_ = host;
    contact_udp_ = "Contact: <sip:loadgen@" + host + ">\r\n";
    contact_tcp_ = "Contact: <sip:loadgen@" + host + ";transport=tcp>\r\n";
    update_timestamp();
    init_list();
}

bool Notifier::is_list_request(const sip::Message& m) const {
    if (options_.list_uri.empty()) return false;
    return sip::same_user_host(sip::uri_of(m.to), options_.list_uri) || sip::same_user_host(m.uri, options_.list_uri);
}

void Notifier::on_message(const Route& from, std::string_view data) {
    sip::Message m;
    if (!sip::parse(data, m)) {
        ++req_.malformed;
        return;
    }
    if (m.request) {
        uint64_t& counter = m.method == "SUBSCRIBE" ? msg_.in_subscribe
                            : m.method == "OPTIONS" ? msg_.in_options
                                                    : msg_.in_other_requests;
        ++counter;
        on_request(from, m);
    } else {
        ++msg_.in_responses;
        on_response(m);
    }
}

void Notifier::on_request(const Route& from, const sip::Message& m) {
    if (m.method == "SUBSCRIBE") return on_subscribe(from, m);
    if (m.method == "ACK") return;
    const std::string tag = m.to_tag.empty() ? "lgo" + std::to_string(++tag_counter_) : std::string{};
    if (m.method == "OPTIONS") {
        ++req_.options;
        return respond(from, m, 200, "OK", tag, kAllow);
    }
    ++req_.other_requests;
    respond(from, m, 405, reason_of(405), tag, kAllow);
}

void Notifier::respond(const Route& to, const sip::Message& m, int code, std::string_view reason,
                       std::string_view to_tag, std::string_view extra) {
    // RFC 3261 §8.2.6.2: Via (all, in order), From, Call-ID and CSeq copied; To gets our tag.
    std::string& out = scratch_;
    out.clear();
    out.append("SIP/2.0 ").append(std::to_string(code)).append(" ").append(reason).append("\r\n");
    for (size_t i = 0; i < m.via_count; ++i) out.append("Via: ").append(m.via[i]).append("\r\n");
    out.append("From: ").append(m.from).append("\r\n");
    out.append("To: ").append(m.to);
    if (m.to_tag.empty() && !to_tag.empty()) out.append(";tag=").append(to_tag);
    out.append("\r\nCall-ID: ").append(m.call_id).append("\r\nCSeq: ").append(m.cseq_value).append("\r\n");
    out.append(extra);
    out.append("Content-Length: 0\r\n\r\n");
    ++msg_.out_responses[code];
    ++msg_.out_responses_total;
    transport_.send(to, out);
}

void Notifier::on_subscribe(const Route& from, const sip::Message& m) {
    ++req_.subscribes;
    const uint64_t now = now_ns();
    const std::string call_id(m.call_id);
    auto it = by_call_id_.find(call_id);
    if (it != by_call_id_.end()) {
        Dialog& d = dialogs_[it->second];
        if (d.last_branch == m.branch) {
            // RFC 3261 §17.2.3: a retransmission gets the same answer, no new NOTIFY.
            ++req_.retransmissions;
            answer_subscribe(from, m, d);
            return;
        }
        if (d.terminating) {
            ++req_.no_dialog;
            return respond(from, m, 481, reason_of(481), d.local_tag);
        }
        d.last_branch.assign(m.branch);
        const uint32_t asked = m.expires.value_or(options_.expires);
        if (asked == 0) {
            // RFC 6665 §4.2.1.4: accept, then a terminated NOTIFY ends the dialog.
            ++req_.unsubscribes;
            d.granted = 0;
            answer_subscribe(from, m, d);
            d.terminating = true;
            if (d.list) drop_list_queue(d);
            if (d.pending < 0) send_notify(it->second, Kind::terminate);
            return;
        }
        ++req_.refreshes;
        d.granted = std::min(asked, options_.expires);
        d.expires_at_ns = now + uint64_t{d.granted} * kNsPerSecond;
        answer_subscribe(from, m, d);
        if (d.list) {
            // RFC 6665 §4.2.1.2 for a list: every member's state again, in
            // partial NOTIFYs (as Kamailio's RLS does), queued behind any outstanding one.
            queue_all_members(d);
            return drain_list(it->second);
        }
        // RFC 6665 §4.2.1.2: a NOTIFY follows every accepted SUBSCRIBE; at most one outstanding (§4.2.2).
        if (d.pending < 0)
            send_notify(it->second, Kind::refresh);
        else
            d.queued = true;
        return;
    }
    if (!m.to_tag.empty()) {
        ++req_.no_dialog;
        return respond(from, m, 481, reason_of(481), {});
    }
    const bool presence = is_package(m.event, "presence");
    if (!presence && !is_package(m.event, "dialog")) {
        ++req_.bad_event;
        return respond(from, m, 489, reason_of(489), "lgx", "Allow-Events: presence, dialog\r\n");
    }
    const bool list = is_list_request(m);
    if (list && !m.eventlist) {
        // RFC 4662 §4.1: a subscriber that does not announce eventlist must
        // not get a list; we ask for it, as an RLS that serves only lists.
        ++list_.subscribes_421;
        return respond(from, m, 421, reason_of(421), "lgl", "Require: eventlist\r\n");
    }
    if (!challenges_.count(call_id)) arrivals_.add(now);
    if (digest_ && !authorised(from, m)) return;
    const uint32_t index = create_dialog(from, m);
    Dialog& d = dialogs_[index];
    if (list) {
        d.list = std::make_unique<ListQueue>();
        d.list->queued.assign(members_.size(), kNotQueued);
        list_indices_.push_back(index);
    }
    const uint32_t asked = m.expires.value_or(options_.expires);
    d.granted = std::min(asked, options_.expires);
    d.expires_at_ns = now + uint64_t{d.granted} * kNsPerSecond;
    answer_subscribe(from, m, d);
    if (options_.verbose)
        std::cerr << "loadgen: SUBSCRIBE " << m.uri << " (" << m.event << ") accepted, " << d.granted << " s\n";
    if (d.granted == 0) {
        // A fetch (RFC 6665 §4.4.3): one terminated NOTIFY, no dialog kept.
        ++req_.unsubscribes;
        d.terminating = true;
        send_notify(index, Kind::terminate);
        return;
    }
    if (d.list) {
        queue_all_members(d);
        return drain_list(index);
    }
    send_notify(index, Kind::initial);
}

bool Notifier::authorised(const Route& from, const sip::Message& m) {
    const std::string call_id(m.call_id);
    auto it = challenges_.find(call_id);
    if (it != challenges_.end() && it->second.branch == m.branch) {
        ++req_.retransmissions;  // the challenged request again: same 401
        respond(from, m, 401, reason_of(401), "lgc", digest_->challenge_header(it->second.nonce));
        return false;
    }
    if (it != challenges_.end() && !m.authorization.empty()) {
        const auto verdict = digest_->verify(m.authorization, m.method, it->second.nonce);
        if (verdict == DigestCheck::Verdict::ok) {
            challenges_.erase(it);
            return true;
        }
        if (verdict == DigestCheck::Verdict::bad) {
            ++req_.auth_failures;
            challenges_.erase(it);
            respond(from, m, 403, reason_of(403), "lgc");
            return false;
        }
    }
    // RFC 3261 §22.1: no (usable) credentials, so challenge with a fresh nonce.
    Challenge& c = challenges_[call_id];
    c.nonce = digest_->make_nonce();
    c.branch.assign(m.branch);
    ++req_.challenges;
    respond(from, m, 401, reason_of(401), "lgc", digest_->challenge_header(c.nonce));
    return false;
}

uint32_t Notifier::create_dialog(const Route& from, const sip::Message& m) {
    uint32_t index;
    if (!free_dialogs_.empty()) {
        index = free_dialogs_.back();
        free_dialogs_.pop_back();
        dialogs_[index] = Dialog{};
    } else {
        index = static_cast<uint32_t>(dialogs_.size());
        dialogs_.emplace_back();
    }
    Dialog& d = dialogs_[index];
    d.live = true;
    d.route = from;
    d.call_id.assign(m.call_id);
    d.remote.assign(m.from);
    d.local_uri.assign(sip::uri_of(m.to));
    d.local_tag = "lg" + std::to_string(index) + "x" + std::to_string(++tag_counter_);
    d.target.assign(m.contact.empty() ? sip::uri_of(m.from) : sip::uri_of(m.contact));
    d.last_branch.assign(m.branch);
    d.dialog_package = is_package(m.event, "dialog");
    d.dialog_info_body = options_.body == BodyMode::dialog || (options_.body == BodyMode::mix && d.dialog_package);
    // RFC 3261 §12.1.1: UDP requests go to the remote target (the Contact).
    std::string host;
    uint16_t port = 0;
    if (from.conn == 0 && sip::host_port(d.target, host, port)) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) == 1) d.route.addr = a;
    }
    by_call_id_.emplace(d.call_id, index);
    ++req_.new_dialogs;
    return index;
}

void Notifier::answer_subscribe(const Route& from, const sip::Message& m, Dialog& d) {
    // RFC 6665 §4.2.1.1: the 200 carries the duration granted.
    std::string extra = "Expires: " + std::to_string(d.granted) + "\r\n";
    extra.append(from.conn ? contact_tcp_ : contact_udp_);
    // RFC 4662 §4.1 (rfc-checklist 14.2): the RLS's 2xx requires eventlist.
    if (d.list) extra.append("Require: eventlist\r\n");
    respond(from, m, 200, "OK", d.local_tag, extra);
}

void Notifier::remove_dialog(uint32_t index) {
    Dialog& d = dialogs_[index];
    if (!d.live) return;
    if (d.active) --active_count_;
    if (d.list) {
        if (d.active) --list_active_;
        drop_list_queue(d);
        list_indices_.erase(std::find(list_indices_.begin(), list_indices_.end(), index));
    }
    by_call_id_.erase(d.call_id);
    d = Dialog{};
    free_dialogs_.push_back(index);
}

void Notifier::check_expiry(uint64_t now) {
    if (now - last_expiry_check_ns_ < kExpiryScanNs) return;
    last_expiry_check_ns_ = now;
    for (uint32_t i = 0; i < dialogs_.size(); ++i) {
        Dialog& d = dialogs_[i];
        if (!d.live || d.terminating || now < d.expires_at_ns + kExpiryGraceNs) continue;
        ++req_.expired;
        d.terminating = true;
        if (d.list) drop_list_queue(d);
        if (d.pending < 0) send_notify(i, Kind::terminate);
    }
}

}  // namespace loadgen
