// The notifier side of RFC 6665 as the load generator plays it: SUBSCRIBE
// handling (digest challenge, 200 with Expires, refresh, Expires: 0),
// OPTIONS, one NOTIFY outstanding per dialog with RFC 3261 Timer E
// retransmission over UDP and a 64*T1 give-up, and the load phase that
// sends stamped NOTIFYs round-robin or at random under a rate and a window.
//
// notifier.cpp holds the request side (dialogs), notify_sender.cpp the
// NOTIFY side (formatting, transactions, timers, load), list_notify.cpp the
// resource list (RFC 4662): members, per-dialog queues, multipart bodies.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "bodies.hpp"
#include "digest_check.hpp"
#include "options.hpp"
#include "sip_text.hpp"
#include "stats.hpp"
#include "transport.hpp"

namespace loadgen {

struct NotifyCounters {
    uint64_t sent = 0;              // first transmissions
    uint64_t answered = 0;          // 2xx
    uint64_t retransmissions = 0;   // Timer E
    uint64_t timeouts = 0;          // no final answer within --timeout
    uint64_t transport_errors = 0;  // the TCP connection of the dialog is gone
    std::map<int, uint64_t> other;  // non-2xx final answers by code
};

struct RequestCounters {
    uint64_t subscribes = 0;       // every SUBSCRIBE received, retransmissions included
    uint64_t new_dialogs = 0;      // first SUBSCRIBE of a Call-ID
    uint64_t retransmissions = 0;  // same branch as an earlier SUBSCRIBE
    uint64_t challenges = 0;       // 401 sent (retransmitted ones excluded)
    uint64_t auth_failures = 0;    // 403 sent
    uint64_t refreshes = 0;        // in-dialog SUBSCRIBE with Expires > 0
    uint64_t unsubscribes = 0;     // Expires: 0
    uint64_t no_dialog = 0;        // 481 sent
    uint64_t bad_event = 0;        // 489 sent
    uint64_t options = 0;
    uint64_t other_requests = 0;
    uint64_t malformed = 0;             // unparsable messages
    uint64_t stray_responses = 0;       // responses that match no outstanding NOTIFY
    uint64_t expired = 0;               // dialogs ended by the notifier at expiry
    uint64_t lost_with_connection = 0;  // dialogs whose TCP connection closed
};

// SIP messages in each direction (the summary's `messages`), retransmissions
// included, so list and individual subscriptions can be compared by count.
struct MessageCounters {
    uint64_t in_subscribe = 0;
    uint64_t in_options = 0;
    uint64_t in_other_requests = 0;
    uint64_t in_responses = 0;  // answers to our NOTIFYs (stray ones included)
    uint64_t out_notify = 0;    // first transmissions
    uint64_t out_notify_retransmissions = 0;
    uint64_t out_notify_bytes = 0;          // first transmissions
    std::map<int, uint64_t> out_responses;  // by code
    uint64_t out_responses_total = 0;
};

// The resource list's own counters (summary `list`).
struct ListCounters {
    uint64_t subscribes_421 = 0;  // list SUBSCRIBEs without eventlist
    uint64_t full_state_notifies = 0;
    uint64_t partial_notifies = 0;
    uint64_t states_sent = 0;       // member states (body parts) in list NOTIFYs
    uint64_t changes = 0;           // load state changes of members
    uint64_t changes_answered = 0;  // deliveries of those in a NOTIFY answered 2xx
    uint64_t coalesced = 0;         // a change superseded by a newer one before it was sent
    uint64_t dropped = 0;           // changes queued on a list dialog that ended
    uint64_t tcp_for_size = 0;      // list NOTIFYs of UDP dialogs sent over TCP (RFC 3261 §18.1.1)
    uint64_t max_body_bytes = 0;
    uint64_t max_states_per_notify = 0;
};

struct LoadPlan {
    uint64_t count = 0;
    double rate = 0;
    uint32_t window = 1;
    uint64_t duration_ns = 0;
    bool random = false;
};

class Notifier {
public:
    struct Hooks {
        std::function<void(uint64_t active)> active_changed;  // a dialog became active (initial NOTIFY answered)
        std::function<void()> load_done;
    };

    Notifier(const Options& options, Transport& transport, LatencyBook& latency, Hooks hooks);

    // Transport callbacks.
    void on_message(const Route& from, std::string_view data);
    void before_flush();
    void on_written(uint64_t tag);
    // A TCP connection closed: its dialogs are gone (the subscriber will subscribe again).
    void on_connection_closed(uint32_t conn);
    // Timers (Timer E, give-up, expiry, load pacing); call every millisecond or so.
    void tick();

    void start_load(const LoadPlan& plan);
    bool load_running() const { return load_running_; }

    uint64_t active() const { return active_count_; }
    // Presentities with a state delivered: individual dialogs active plus
    // list members whose state was in a NOTIFY answered 2xx.
    uint64_t covered() const { return active_count_ - list_active_ + members_known_; }
    uint64_t list_dialogs_active() const { return list_active_; }
    uint64_t members_known() const { return members_known_; }
    uint64_t list_queued() const;
    const MessageCounters& messages() const { return msg_; }
    const ListCounters& list_counters() const { return list_; }
    uint64_t dialogs() const { return by_call_id_.size(); }
    const RateWindow& subscribe_arrivals() const { return arrivals_; }
    const RequestCounters& requests() const { return req_; }
    const NotifyCounters& all_notifies() const { return all_; }
    const NotifyCounters& load_notifies() const { return load_; }
    uint64_t load_started_ns() const { return load_start_ns_; }
    uint64_t load_finished_ns() const { return load_end_ns_; }
    uint64_t outstanding() const { return outstanding_count_; }

private:
    // update: a partial list NOTIFY with member states owed by the initial
    // or refresh NOTIFY (RFC 4662 lets them follow in later NOTIFYs).
    enum class Kind : uint8_t { initial, load, refresh, terminate, update };

    // A list member's state (the same for every list dialog).
    struct Member {
        Shown shown = Shown::initial;
        bool known = false;    // its state was in a NOTIFY answered 2xx
        uint32_t version = 0;  // dialog-info version of its part
        uint64_t stamp = 0;
    };

    // Member states a list dialog still owes, in order; each member at most
    // once (a newer change replaces a queued one: its NOTIFY shows the latest).
    enum : uint8_t { kNotQueued = 0, kQueuedState = 1, kQueuedChange = 2 };
    struct ListQueue {
        std::deque<uint32_t> fifo;
        std::vector<uint8_t> queued;  // per member
        bool full_sent = false;       // the fullState="true" NOTIFY went out
        uint32_t version = 0;         // RLMI version of the next NOTIFY (RFC 4662 §5.2: from 0, +1 each)
        uint64_t changes = 0;         // kQueuedChange entries in fifo
    };

    struct Dialog {
        bool live = false;
        bool active = false;       // the initial NOTIFY was answered with a 2xx
        bool terminating = false;  // the terminated NOTIFY is queued or outstanding
        bool dialog_package = false;
        bool dialog_info_body = false;
        bool queued = false;  // a refresh NOTIFY waits for the outstanding one
        Shown shown = Shown::initial;
        Route route;
        uint32_t cseq = 0;
        uint32_t version = 0;  // dialog-info version (RFC 4235 §4.1)
        uint32_t granted = 0;
        int32_t pending = -1;  // slot of the outstanding NOTIFY
        uint64_t stamp = 0;    // stamp of the state shown
        uint64_t expires_at_ns = 0;
        std::string call_id;
        std::string remote;     // the SUBSCRIBE's From value (tag included): our To
        std::string local_uri;  // the SUBSCRIBE's To URI: our From, and the entity
        std::string local_tag;
        std::string target;               // the SUBSCRIBE's Contact URI: our Request-URI
        std::string last_branch;          // of the last SUBSCRIBE, to spot retransmissions
        std::unique_ptr<ListQueue> list;  // a resource list dialog
    };

    struct Outstanding {
        bool used = false;
        Kind kind = Kind::initial;
        uint32_t dialog = 0;
        uint32_t cseq = 0;
        uint32_t interval_ms = 0;
        uint64_t serial = 0;
        uint64_t first_ns = 0;
        uint32_t load_changes = 0;      // load states it carries (1 for a load NOTIFY of a presentity)
        std::vector<uint32_t> members;  // list members whose states it carries
        Route route;                    // where it went (TCP for a large list NOTIFY of a UDP dialog)
        std::string message;            // kept for retransmission over UDP
    };

    struct TimerEntry {
        uint32_t slot;
        uint64_t serial;
        uint64_t due_ns;
    };

    struct Challenge {
        std::string nonce;
        std::string branch;
    };

    // notifier.cpp
    void on_request(const Route& from, const sip::Message& m);
    void on_subscribe(const Route& from, const sip::Message& m);
    bool authorised(const Route& from, const sip::Message& m);
    uint32_t create_dialog(const Route& from, const sip::Message& m);
    void answer_subscribe(const Route& from, const sip::Message& m, Dialog& d);
    void respond(const Route& to, const sip::Message& m, int code, std::string_view reason, std::string_view to_tag,
                 std::string_view extra = {});
    void remove_dialog(uint32_t index);
    void free_slot(uint32_t slot, uint64_t now);
    void check_expiry(uint64_t now);
    bool is_list_request(const sip::Message& m) const;

    // list_notify.cpp
    void init_list();
    std::string member_uri(uint32_t member) const;
    void queue_all_members(Dialog& d);
    void queue_member(Dialog& d, uint32_t member, uint8_t what);
    // Sends the dialog's next list NOTIFY if it owes states and has none outstanding.
    void drain_list(uint32_t index);
    // Takes the next states off the queue into list_body_ (a multipart/related
    // document) and list_members_; returns the Kind of the NOTIFY.
    Kind build_list_body(Dialog& d);
    // A list NOTIFY got its final answer: its members are known when ok. True if any became known.
    bool list_resolved(const Outstanding& o, bool ok);
    bool list_load_step();  // one member state change; false when no list dialog can take it
    void drop_list_queue(Dialog& d);

    // notify_sender.cpp
    void send_notify(uint32_t index, Kind kind);
    void on_response(const sip::Message& m);
    void resolve(uint32_t slot, int code, uint64_t now);
    void run_timers(uint64_t now);
    void pump_load(uint64_t now);
    std::optional<uint32_t> pick_dialog();
    bool eligible(const Dialog& d) const;
    void maybe_finish_load(uint64_t now);
    void update_timestamp();

    const Options& options_;
    Transport& transport_;
    LatencyBook& latency_;
    Hooks hooks_;
    std::optional<DigestCheck> digest_;

    std::vector<Dialog> dialogs_;
    std::vector<uint32_t> free_dialogs_;
    std::unordered_map<std::string, uint32_t> by_call_id_;
    std::unordered_map<std::string, Challenge> challenges_;
    uint64_t active_count_ = 0;
    uint64_t busy_active_ = 0;  // active dialogs with a NOTIFY outstanding
    uint64_t tag_counter_ = 0;

    std::vector<Outstanding> slots_;
    std::vector<uint32_t> free_slots_;
    uint64_t outstanding_count_ = 0;
    uint64_t serial_ = 0;
    // One FIFO per Timer E interval (T1, 2T1, 4T1, T2): entries of one queue
    // fall due in the order they were added, so no heap is needed.
    std::deque<TimerEntry> retransmit_[4];
    uint64_t timeout_ns_ = 0;  // --timeout: 64*T1 by default
    uint64_t last_give_up_scan_ns_ = 0;
    uint64_t last_expiry_check_ns_ = 0;

    RateWindow arrivals_;
    RequestCounters req_;
    NotifyCounters all_;
    NotifyCounters load_;

    LoadPlan plan_;
    bool load_running_ = false;  // until every load NOTIFY is resolved
    bool load_sending_ = false;  // until the count or the duration is reached
    uint64_t load_sent_ = 0;
    uint64_t load_outstanding_ = 0;
    uint64_t load_start_ns_ = 0;
    uint64_t load_end_ns_ = 0;
    uint32_t rr_cursor_ = 0;
    std::mt19937_64 rng_{0x6c6f6164u};

    MessageCounters msg_;
    ListCounters list_;
    std::vector<Member> members_;
    std::vector<uint32_t> list_indices_;  // live list dialogs
    std::vector<uint8_t> chunk_mark_;     // per member: in the NOTIFY being built
    uint64_t full_rlmi_bytes_ = 0;        // RLMI of a full state without instances
    uint64_t members_known_ = 0;
    uint64_t list_active_ = 0;  // list dialogs whose first NOTIFY was answered
    uint32_t member_cursor_ = 0;
    std::string list_body_;               // the multipart body being built
    std::string list_content_type_;       // its Content-Type value
    std::string list_rlmi_;               // scratch: the RLMI root document
    std::vector<uint32_t> list_members_;  // members in list_body_
    uint32_t list_changes_ = 0;           // load changes among them
    std::vector<uint64_t> list_tags_;     // their stamps, for the latency book

    std::string scratch_;  // message being formatted
    std::string timestamp_;
    int64_t timestamp_second_ = -1;
    std::string via_host_;
    std::string contact_udp_;
    std::string contact_tcp_;
};

}  // namespace loadgen
