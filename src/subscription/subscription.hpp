// One RFC 6665 subscription (user x kind x connector): the explicit state
// machine of §4.1.2 with Timer N, expiry from the 2xx and from
// Subscription-State (whichever came last), refresh with jitter, digest on
// every SUBSCRIBE, and the reason and response tables of policy.hpp. It
// talks to the network only through Context::send, so scenario tests script
// the server on a virtual clock.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ev/clock.hpp"
#include "sip/digest.hpp"
#include "sip/endpoint.hpp"
#include "sip/message.hpp"
#include "subscription/pacer.hpp"
#include "subscription/policy.hpp"
#include "subscription/status.hpp"

namespace presenced::subscription {

// What the subscriptions of one connector share.
struct Context {
    std::string connector;  // its name
    std::string from_uri;   // the service account URI: From of every SUBSCRIBE
    sip::digest::Credentials credentials;
    std::string contact;  // our Contact value, "<sip:presenced@host:port;transport=tcp>"
    // Sends one request in a new client transaction toward the server; done
    // runs exactly once, never inside send.
    std::function<void(sip::RequestSpec, sip::Endpoint::Done)> send;
    Pacer* pacer = nullptr;
    Backoff backoff;
    uint64_t timer_n_ms = 32'000;  // 64*T1 (RFC 6665 §4.1.2.4)
    uint32_t expires = 3600;       // asked for in each SUBSCRIBE; raised by what a 423 taught
    std::function<std::time_t()> wall_now = [] { return std::time(nullptr); };
};

// Subscription-State (RFC 6665 §4.1.3, §8.2.3).
struct SubscriptionState {
    std::string state;  // "active", "pending", "terminated" or another token (lower case)
    std::optional<uint32_t> expires;
    std::string reason;  // lower case, "" when absent
    std::optional<uint32_t> retry_after;
};
// nullopt when the value is empty or not "token *(; param)".
std::optional<SubscriptionState> parse_subscription_state(std::string_view value);

class Subscription {
public:
    struct Key {
        std::string user, kind, connector;  // kind: "rich" | "telephony"
        bool operator==(const Key&) const = default;
    };
    struct Spec {
        std::string resource_uri;  // R-URI and To of the initial SUBSCRIBE
        std::string event;         // "presence" | "dialog"
        std::string accept;        // the body types we parse for it (Accept)
        // A resource list (RFC 4662 §4.1): Supported: eventlist on every
        // SUBSCRIBE, refreshes included (Kamailio's rls routes on it).
        bool eventlist = false;
        bool operator==(const Spec&) const = default;
    };
    struct Hooks {
        std::function<void(Subscription&)> status_changed;
        // The Call-ID changed (a new subscription): re-index NOTIFY matching.
        std::function<void(Subscription&, const std::string& old_call_id)> rekeyed;
        // An unsubscribe ended (final NOTIFY, error or timeout): the owner may
        // destroy it, but not from inside this call.
        std::function<void(Subscription&)> finished;
        // A new dialog began (a new subscription): the body state must restart (RFC 4235 §4.3 versions).
        std::function<void(Subscription&)> restarted;
    };

    Subscription(ev::Clock& clock, std::shared_ptr<Context> context, Key key, Spec spec, Hooks hooks);
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    // Starts a new subscription unless one is running or scheduled; a parked
    // one (rejected, no_such_user, unsupported) starts again only with force.
    // Returns true when a new subscription was started.
    bool start(bool force = false);
    // Ends it. With a dialog and unsubscribe: in-dialog SUBSCRIBE Expires: 0
    // (paced), then finished after the final NOTIFY, an error, or 64*T1.
    // Otherwise everything stops at once and finished runs from a timer.
    void stop(bool unsubscribe);
    // dialog-info version gap (RFC 4235 §4.3): refresh now for full state.
    void refresh_now();

    struct NotifyAnswer {
        int code = 200;
        std::string reason = "OK";
        bool deliver_body = false;  // hand the body to the model after the answer is sent
    };
    // A NOTIFY whose Call-ID, To tag and Event the manager matched to us.
    NotifyAnswer on_notify(const sip::Message& notify);

    const Key& key() const { return key_; }
    const Spec& spec() const { return spec_; }
    const Context& context() const { return *context_; }
    Status status() const { return status_; }
    bool is_parked() const {
        return status_ == Status::rejected || status_ == Status::no_such_user || status_ == Status::unsupported;
    }
    const std::string& call_id() const { return call_id_; }
    const std::string& local_tag() const { return local_tag_; }

    // For `presencectl user` (wall clock seconds; 0 = none).
    struct Info {
        int last_code = 0;
        std::string last_reason, last_state_reason, why;
        std::time_t last_notify_at = 0, expires_at = 0, next_refresh_at = 0, next_retry_at = 0;
        int retries = 0;
        uint64_t notifies = 0;
        uint32_t expires = 0;  // what was last asked for
    };
    Info info() const;

private:
    enum class Purpose { initial, refresh, unsubscribe };
    void begin_new();  // new Call-ID, tag, CSeq 1, digest session; queued
    void send(Purpose purpose);
    void on_final(Purpose purpose, sip::ClientOutcome outcome, const sip::Message* response, uint32_t sent_expires);
    void on_success(Purpose purpose, const sip::Message& response, uint32_t sent_expires);
    void apply(const Decision& decision, Purpose purpose);
    void schedule_refresh(uint32_t expires_s);
    void submit_refresh();
    void on_timer_n(Purpose purpose);
    void on_expired();
    void retry_in(uint64_t delay_ms, std::string why);
    void end_dialog();
    void finish();
    void set_status(Status status, std::string why);
    void cancel_timers();
    std::time_t wall_at(uint64_t mono_ms) const;

    ev::Clock& clock_;
    std::shared_ptr<Context> context_;
    Key key_;
    Spec spec_;
    Hooks hooks_;
    Status status_ = Status::queued;

    // Dialog (RFC 3261 §12; rfc-checklist 8.2-8.4).
    std::string call_id_, local_tag_, remote_tag_;
    std::string remote_target_;
    std::vector<std::string> route_set_;
    bool dialog_from_notify_ = false;  // remote tag, target and routes came from a NOTIFY
    bool dialog_known_ = false;        // a 2xx or a NOTIFY gave the remote tag
    uint32_t local_cseq_ = 0;
    std::optional<uint32_t> remote_cseq_;
    std::unique_ptr<sip::digest::Session> auth_;

    uint32_t ask_expires_ = 0;     // Expires of the next SUBSCRIBE
    uint64_t expires_at_ms_ = 0;   // monotonic; 0 = no dialog
    bool in_flight_ = false;       // a SUBSCRIBE transaction (or its auth retry) is running
    bool refresh_failed_ = false;  // the last refresh failed softly; the dialog lives until expiry
    Slot slot_;
    Pacer::Ticket ticket_ = 0;
    ev::TimerId timer_n_ = 0, refresh_timer_ = 0, expiry_timer_ = 0, retry_timer_ = 0, finish_timer_ = 0;
    uint64_t refresh_at_ms_ = 0, retry_at_ms_ = 0;
    bool stopping_ = false;           // stop() was called: no new subscription may start
    bool require_eventlist_ = false;  // a 421 asked for Require: eventlist (RFC 3261 §21.4.15)

    Info info_;
    // Callbacks hold it weakly: an answer after stop() or destruction is ignored.
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace presenced::subscription
