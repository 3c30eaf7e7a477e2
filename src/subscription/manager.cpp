// The set of subscriptions and NOTIFY matching; see manager.hpp.
#include "subscription/manager.hpp"

#include "util/log.hpp"
#include "util/text.hpp"

namespace presenced::subscription {

Manager::Manager(ev::Clock& clock, Hooks hooks) : clock_(clock), hooks_(std::move(hooks)) {}

Manager::~Manager() {
    if (shutdown_timer_) clock_.cancel(shutdown_timer_);
    // Subscriptions before the contexts that own their pacers.
    active_.clear();
    leaving_.clear();
}

std::string Manager::key_string(const Subscription::Key& key) {
    std::string s;
    s.reserve(key.user.size() + key.kind.size() + key.connector.size() + 2);
    s.append(key.user).push_back('\x1f');
    s.append(key.kind).push_back('\x1f');
    s.append(key.connector);
    return s;
}

void Manager::set_connector(ConnectorSettings settings) {
    auto& slot = contexts_[settings.name];
    if (!slot) {
        slot = std::make_shared<OwnedContext>();
        slot->owned_pacer = std::make_unique<Pacer>(clock_, settings.pacing);
        slot->pacer = slot->owned_pacer.get();
        slot->expires = settings.expires;
    } else {
        slot->owned_pacer->set_settings(settings.pacing);
        // Keep what a 423 taught unless the configured value itself changed.
        if (settings.expires != slot->configured_expires) slot->expires = settings.expires;
    }
    slot->configured_expires = settings.expires;
    slot->connector = settings.name;
    slot->from_uri = std::move(settings.from_uri);
    slot->credentials = std::move(settings.credentials);
    slot->contact = std::move(settings.contact);
    slot->send = std::move(settings.send);
    slot->backoff = settings.backoff;
    slot->timer_n_ms = settings.timer_n_ms;
}

void Manager::remove_connector(const std::string& name, bool unsubscribe) {
    std::vector<Subscription::Key> keys;
    for (const auto& [k, s] : active_)
        if (s->key().connector == name) keys.push_back(s->key());
    for (const auto& k : keys) release(k, unsubscribe);
    contexts_.erase(name);  // leaving subscriptions keep it alive through their shared_ptr
}

Subscription::Hooks Manager::hooks_for() {
    Subscription::Hooks h;
    h.status_changed = [this](Subscription& s) {
        if (hooks_.status_changed) hooks_.status_changed(s);
    };
    h.rekeyed = [this](Subscription& s, const std::string& old) { index(s, old); };
    h.finished = [this](Subscription& s) { on_finished(s); };
    h.restarted = [this](Subscription& s) {
        if (hooks_.restarted) hooks_.restarted(s);
    };
    return h;
}

void Manager::index(Subscription& s, const std::string& old_call_id) {
    if (!old_call_id.empty()) {
        auto it = by_call_id_.find(old_call_id);
        if (it != by_call_id_.end() && it->second == &s) by_call_id_.erase(it);
    }
    if (!s.call_id().empty()) by_call_id_[s.call_id()] = &s;
}

Subscription* Manager::ensure(const Subscription::Key& key, const Subscription::Spec& spec) {
    const std::string k = key_string(key);
    if (auto it = active_.find(k); it != active_.end()) {
        if (it->second->spec() == spec) return it->second.get();
        release(key, true);  // a changed URI or event: a new subscription replaces it
    }
    auto ctx = contexts_.find(key.connector);
    if (ctx == contexts_.end()) return nullptr;
    auto sub = std::make_unique<Subscription>(clock_, ctx->second, key, spec, hooks_for());
    Subscription* raw = sub.get();
    active_.emplace(k, std::move(sub));
    raw->start();
    return raw;
}

Subscription* Manager::find(const Subscription::Key& key) {
    auto it = active_.find(key_string(key));
    return it == active_.end() ? nullptr : it->second.get();
}

const Subscription* Manager::find(const Subscription::Key& key) const {
    auto it = active_.find(key_string(key));
    return it == active_.end() ? nullptr : it->second.get();
}

void Manager::release(const Subscription::Key& key, bool unsubscribe) {
    auto it = active_.find(key_string(key));
    if (it == active_.end()) return;
    std::unique_ptr<Subscription> sub = std::move(it->second);
    active_.erase(it);
    Subscription* raw = sub.get();
    leaving_.emplace(raw, std::move(sub));
    raw->stop(unsubscribe);  // finished (from a timer) removes it from leaving_
}

void Manager::on_finished(Subscription& s) {
    auto it = leaving_.find(&s);
    if (it == leaving_.end()) return;  // an active subscription never finishes on its own
    auto c = by_call_id_.find(s.call_id());
    if (c != by_call_id_.end() && c->second == &s) by_call_id_.erase(c);
    leaving_.erase(it);
    check_shutdown_done();
}

std::optional<sip::Answer> Manager::on_notify(const sip::Message& notify) {
    auto it = by_call_id_.find(notify.call_id());
    if (it == by_call_id_.end()) return std::nullopt;
    Subscription* s = it->second;
    // RFC 6665 §4.4.1: the NOTIFY's To tag is our SUBSCRIBE's From tag, and
    // its Event package (and id: we never send one) is the one subscribed.
    if (notify.to().tag != s->local_tag()) return std::nullopt;
    const std::string event = notify.header("Event").value_or("");
    const auto semi = event.find(';');
    const std::string_view package = util::trim(std::string_view(event).substr(0, semi));
    if (package != s->spec().event) return std::nullopt;
    if (semi != std::string::npos) {
        const std::string params = util::to_lower(event.substr(semi));
        if (params.find(";id=") != std::string::npos || params.find("; id=") != std::string::npos) return std::nullopt;
    }
    const Subscription::NotifyAnswer a = s->on_notify(notify);
    sip::Answer answer{a.code, a.reason, {}, {}};
    if (a.deliver_body && hooks_.notified) answer.after_sent = [this, s, &notify] { hooks_.notified(*s, notify); };
    return answer;
}

void Manager::shutdown(uint64_t timeout_ms, std::function<void()> done) {
    shutdown_done_ = std::move(done);
    std::vector<Subscription::Key> keys;
    keys.reserve(active_.size());
    for (const auto& [k, s] : active_) keys.push_back(s->key());
    for (const auto& k : keys) release(k, true);
    shutdown_timer_ = clock_.start(timeout_ms, [this] {
        shutdown_timer_ = 0;
        if (!leaving_.empty())
            log::warn("shutdown: ", leaving_.size(), " subscriptions not confirmed ended within the shutdown timeout");
        if (auto fn = std::move(shutdown_done_)) fn();
    });
    check_shutdown_done();
}

void Manager::check_shutdown_done() {
    if (!shutdown_done_ || !leaving_.empty()) return;
    if (shutdown_timer_) clock_.cancel(shutdown_timer_);
    shutdown_timer_ = 0;
    auto fn = std::move(shutdown_done_);
    shutdown_done_ = nullptr;
    // From a timer: the caller may tear the manager down.
    clock_.start(0, std::move(fn));
}

std::map<std::string, size_t> Manager::counts(const std::string& connector) const {
    std::map<std::string, size_t> out;
    for (auto name : status_names())
        if (name != "none") out[std::string(name)] = 0;
    for (const auto& [k, s] : active_)
        if (s->key().connector == connector) ++out[std::string(status_name(s->status()))];
    for (const auto& [p, s] : leaving_)
        if (s->key().connector == connector) ++out[std::string(status_name(s->status()))];
    return out;
}

void Manager::for_each(const std::function<void(const Subscription&)>& fn) const {
    for (const auto& [k, s] : active_) fn(*s);
}

}  // namespace presenced::subscription
