// The resource list side of the notifier (RFC 4662): the members and their
// states, a queue of owed states per list dialog, and the multipart/related
// bodies (RFC 2387) with an RLMI root (RFC 4662 §5) and one PIDF or
// dialog-info part per member state.
//
// How states travel (bench/loadgen/README.md, "Resource list"):
//   - the first NOTIFY of a list dialog is fullState="true": it lists every
//     member as a <resource>; the first states of the queue (at most
//     --list-chunk, and about --list-max-body bytes) carry an <instance> and a
//     part, the others are listed without instance, as Kamailio's RLS does;
//   - the remaining states follow in partial NOTIFYs (fullState="false") of
//     the same bound, one outstanding at a time per dialog (RFC 6665 §4.2.2);
//   - a refresh queues every member again (partial NOTIFYs, as Kamailio);
//   - in the load phase a state change of member X queues X on every list
//     dialog; changes made while a NOTIFY is outstanding go together in the
//     next one (batching), and a second change of X before X was sent
//     replaces the first (coalesced: the NOTIFY shows the latest state).
#include <charconv>

#include "notifier.hpp"

namespace loadgen {
namespace {

// RLMI bytes of one <resource uri="..."/> line besides the URI, and of an
// <instance .../> element besides the ids: for the --list-max-body budget.
constexpr size_t kResourceOverhead = 24;
constexpr size_t kInstanceOverhead = 96;
constexpr std::string_view kIdRight = "@loadgen";  // Content-ID right-hand side (RFC 2392)

void append_u64(std::string& out, uint64_t n) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, static_cast<size_t>(r.ptr - buf));
}

// Content-ID value without the angle brackets: p<member>.v<version>@loadgen,
// unique within a dialog's NOTIFYs (RFC 2392: globally unique enough here).
void append_cid(std::string& out, uint32_t member, uint32_t version) {
    out.push_back('p');
    append_u64(out, member);
    out.append(".v");
    append_u64(out, version);
    out.append(kIdRight);
}

void append_root_cid(std::string& out, uint32_t version) {
    out.append("rlmi.v");
    append_u64(out, version);
    out.append(kIdRight);
}

// The boundary must not occur in any part (RFC 2046 §5.1.1): no PIDF or
// dialog-info document of ours contains "=_lg".
void append_boundary(std::string& out, uint32_t version) {
    out.append("=_lg_boundary_");
    append_u64(out, version);
}

}  // namespace

void Notifier::init_list() {
    if (options_.list_uri.empty()) return;
    const uint64_t n = options_.list_members;  // bounded by parse_options
    members_.assign(n, Member{});
    chunk_mark_.assign(n, 0);
    full_rlmi_bytes_ = 0;
    for (uint32_t k = 0; k < n; ++k) full_rlmi_bytes_ += member_uri(k).size() + kResourceOverhead;
}

std::string Notifier::member_uri(uint32_t member) const {
    std::string uri = "sip:";
    uri.append(options_.list_prefix);
    append_u64(uri, member);
    uri.push_back('@');
    uri.append(options_.list_domain);
    return uri;
}

uint64_t Notifier::list_queued() const {
    uint64_t n = 0;
    for (uint32_t i : list_indices_) n += dialogs_[i].list->fifo.size();
    return n;
}

void Notifier::queue_all_members(Dialog& d) {
    for (uint32_t k = 0; k < members_.size(); ++k) queue_member(d, k, kQueuedState);
}

void Notifier::queue_member(Dialog& d, uint32_t member, uint8_t what) {
    ListQueue& q = *d.list;
    uint8_t& slot = q.queued[member];
    if (slot == kNotQueued) {
        q.fifo.push_back(member);
        slot = what;
        if (what == kQueuedChange) ++q.changes;
        return;
    }
    if (what != kQueuedChange) return;  // already owed: the NOTIFY shows the latest state anyway
    if (slot == kQueuedChange) {
        // The earlier change is superseded before it was sent.
        ++list_.coalesced;
        --load_outstanding_;
        return;
    }
    slot = kQueuedChange;
    ++q.changes;
}

void Notifier::drop_list_queue(Dialog& d) {
    ListQueue& q = *d.list;
    if (q.changes) {
        list_.dropped += q.changes;
        load_outstanding_ -= q.changes;
        q.changes = 0;
    }
    q.fifo.clear();
    std::fill(q.queued.begin(), q.queued.end(), kNotQueued);
    if (load_running_) maybe_finish_load(now_ns());
}

void Notifier::drain_list(uint32_t index) {
    Dialog& d = dialogs_[index];
    if (!d.live || !d.list || d.terminating || d.pending >= 0) return;
    if (d.list->fifo.empty() && d.list->full_sent) return;
    const Kind kind = build_list_body(d);
    send_notify(index, kind);
}

Notifier::Kind Notifier::build_list_body(Dialog& d) {
    ListQueue& q = *d.list;
    const uint32_t version = q.version++;
    const bool full = !q.full_sent;
    q.full_sent = true;
    list_members_.clear();
    list_tags_.clear();
    list_changes_ = 0;

    std::string boundary;
    append_boundary(boundary, version);
    // The member parts first (list_body_), while the budget allows; the root
    // RLMI part, which names them, is put in front afterwards.
    std::string& parts = list_body_;
    parts.clear();
    const uint64_t base = full ? full_rlmi_bytes_ : 0;
    while (!q.fifo.empty() && list_members_.size() < options_.list_chunk) {
        const uint32_t k = q.fifo.front();
        const Member& m = members_[k];
        const std::string uri = member_uri(k);
        const size_t mark = parts.size();
        parts.append("--").append(boundary).append("\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <");
        append_cid(parts, k, version);
        parts.append(">\r\nContent-Type: ").append(d.dialog_info_body ? kDialogInfoType : kPidfType).append("\r\n\r\n");
        if (d.dialog_info_body)
            append_dialog_info(parts, uri, m.shown, m.version, m.stamp);
        else
            append_pidf(parts, uri, m.shown, m.stamp, timestamp_);
        parts.append("\r\n");
        const uint64_t estimate = base + parts.size() + (list_members_.size() + 1) * (kInstanceOverhead + uri.size());
        if (!list_members_.empty() && estimate > options_.list_max_body) {
            parts.resize(mark);  // the next NOTIFY takes it
            break;
        }
        q.fifo.pop_front();
        if (q.queued[k] == kQueuedChange) {
            ++list_changes_;
            --q.changes;
            if (m.stamp && carries_stamp(d.dialog_info_body, m.shown)) list_tags_.push_back(m.stamp);
        }
        q.queued[k] = kNotQueued;
        list_members_.push_back(k);
    }

    // RFC 4662 §5.2-§5.5: <list uri version fullState>, one <resource> per
    // member shown, an <instance> (state active, cid of its part) for each
    // member whose state is in this NOTIFY.
    std::string& rlmi = list_rlmi_;
    rlmi.assign("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"");
    rlmi.append(options_.list_uri).append("\" version=\"");
    append_u64(rlmi, version);
    rlmi.append(full ? "\" fullState=\"true\">\r\n" : "\" fullState=\"false\">\r\n");
    const auto append_resource = [&](uint32_t k, bool with_instance) {
        rlmi.append("<resource uri=\"").append(member_uri(k));
        if (!with_instance) {
            rlmi.append("\"/>\r\n");
            return;
        }
        rlmi.append("\"><instance id=\"i");
        append_u64(rlmi, k);
        rlmi.append("\" state=\"active\" cid=\"");
        append_cid(rlmi, k, version);
        rlmi.append("\"/></resource>\r\n");
    };
    if (full) {
        for (uint32_t k : list_members_) chunk_mark_[k] = 1;
        for (uint32_t k = 0; k < members_.size(); ++k) append_resource(k, chunk_mark_[k] != 0);
        for (uint32_t k : list_members_) chunk_mark_[k] = 0;
    } else {
        for (uint32_t k : list_members_) append_resource(k, true);
    }
    rlmi.append("</list>\r\n");

    // RFC 2387: the root (start) part is the RLMI document, put first.
    std::string head = "--" + boundary + "\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <";
    append_root_cid(head, version);
    head.append(">\r\nContent-Type: application/rlmi+xml;charset=\"UTF-8\"\r\n\r\n").append(rlmi).append("\r\n");
    parts.insert(0, head);
    parts.append("--").append(boundary).append("--\r\n");

    list_content_type_.assign("multipart/related;type=\"application/rlmi+xml\";start=\"<");
    append_root_cid(list_content_type_, version);
    list_content_type_.append(">\";boundary=\"").append(boundary).append("\"");

    ++(full ? list_.full_state_notifies : list_.partial_notifies);
    list_.states_sent += list_members_.size();
    list_.max_body_bytes = std::max<uint64_t>(list_.max_body_bytes, list_body_.size());
    list_.max_states_per_notify = std::max<uint64_t>(list_.max_states_per_notify, list_members_.size());
    if (full) return Kind::initial;
    return list_changes_ ? Kind::load : Kind::update;
}

bool Notifier::list_resolved(const Outstanding& o, bool ok) {
    if (!ok) return false;
    bool newly_known = false;
    for (uint32_t k : o.members) {
        if (members_[k].known) continue;
        members_[k].known = true;
        ++members_known_;
        newly_known = true;
    }
    list_.changes_answered += o.load_changes;
    return newly_known;
}

bool Notifier::list_load_step() {
    bool any = false;
    for (uint32_t i : list_indices_) any = any || (dialogs_[i].active && !dialogs_[i].terminating);
    if (!any || members_.empty()) return false;
    const auto size = static_cast<uint32_t>(members_.size());
    uint32_t k;
    if (plan_.random) {
        k = std::uniform_int_distribution<uint32_t>(0, size - 1)(rng_);
    } else {
        k = member_cursor_++;
        if (member_cursor_ >= size) member_cursor_ = 0;
    }
    // Every change alters what the watcher shows (bodies.hpp), as for a presentity.
    Member& m = members_[k];
    m.shown = m.shown == Shown::away ? Shown::back : Shown::away;
    m.stamp = ++load_sent_;
    ++m.version;  // RFC 4235 §4.1: the part's own dialog-info version
    ++list_.changes;
    for (uint32_t i : list_indices_) {
        Dialog& d = dialogs_[i];
        if (!d.active || d.terminating) continue;
        ++load_outstanding_;
        queue_member(d, k, kQueuedChange);
    }
    // Copy: a NOTIFY answered at once over a dead connection may remove a dialog.
    const std::vector<uint32_t> indices = list_indices_;
    for (uint32_t i : indices) drain_list(i);
    return true;
}

}  // namespace loadgen
