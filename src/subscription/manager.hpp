// Every subscription of the daemon: created and released by the presence
// service (which decides what is wanted), paced per connector, and found
// again for each inbound NOTIFY by Call-ID, To tag and Event (RFC 6665
// §4.4.1; rfc-checklist 8.1, 10.1-10.2).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "subscription/subscription.hpp"

namespace presenced::subscription {

struct ConnectorSettings {
    std::string name;
    std::string from_uri;
    sip::digest::Credentials credentials;
    std::string contact;
    std::function<void(sip::RequestSpec, sip::Endpoint::Done)> send;
    PacerSettings pacing;
    Backoff backoff;
    uint64_t timer_n_ms = 32'000;
    uint32_t expires = 3600;
};

class Manager {
public:
    struct Hooks {
        std::function<void(Subscription&)> status_changed;
        // An accepted NOTIFY with a body to apply; runs after the 200 was sent.
        std::function<void(Subscription&, const sip::Message&)> notified;
        // A new subscription (new dialog) started for this key.
        std::function<void(Subscription&)> restarted;
    };

    Manager(ev::Clock& clock, Hooks hooks);
    ~Manager();
    Manager(const Manager&) = delete;
    Manager& operator=(const Manager&) = delete;

    // Adds or updates a connector. Changed credentials, URI or sender apply
    // to new subscriptions; pacing applies at once.
    void set_connector(ConnectorSettings settings);
    bool has_connector(const std::string& name) const { return contexts_.count(name) != 0; }
    // Releases (unsubscribing) every subscription of that connector.
    void remove_connector(const std::string& name, bool unsubscribe);

    // The subscription for key, created and started when absent; nullptr when
    // its connector is unknown. A different spec for an existing key (a
    // changed URI) replaces the subscription.
    Subscription* ensure(const Subscription::Key& key, const Subscription::Spec& spec);
    Subscription* find(const Subscription::Key& key);
    const Subscription* find(const Subscription::Key& key) const;
    // Ends it: with unsubscribe an Expires: 0 goes out (paced) and the
    // object lives on until the final NOTIFY; the key is free at once.
    void release(const Subscription::Key& key, bool unsubscribe);

    // The endpoint's NOTIFY hook: 481 when nothing matches (RFC 6665 §4.1.3).
    std::optional<sip::Answer> on_notify(const sip::Message& notify);

    // Unsubscribes everything, then calls done when every subscription has
    // finished or after timeout_ms, whichever is first.
    void shutdown(uint64_t timeout_ms, std::function<void()> done);

    size_t size() const { return active_.size(); }
    size_t leaving() const { return leaving_.size(); }
    // status name -> count, for one connector (every status present, zeros included).
    std::map<std::string, size_t> counts(const std::string& connector) const;
    void for_each(const std::function<void(const Subscription&)>& fn) const;

private:
    static std::string key_string(const Subscription::Key& key);
    Subscription::Hooks hooks_for();
    void index(Subscription& s, const std::string& old_call_id);
    void on_finished(Subscription& s);
    void check_shutdown_done();

    ev::Clock& clock_;
    Hooks hooks_;
    // A context owns its pacer, so subscriptions still leaving a removed
    // connector keep a valid one.
    struct OwnedContext : Context {
        std::unique_ptr<Pacer> owned_pacer;
        uint32_t configured_expires = 0;
    };
    std::unordered_map<std::string, std::shared_ptr<OwnedContext>> contexts_;
    std::unordered_map<std::string, std::unique_ptr<Subscription>> active_;  // by key_string
    std::unordered_map<Subscription*, std::unique_ptr<Subscription>> leaving_;
    std::unordered_map<std::string, Subscription*> by_call_id_;
    std::function<void()> shutdown_done_;
    ev::TimerId shutdown_timer_ = 0;
};

}  // namespace presenced::subscription
