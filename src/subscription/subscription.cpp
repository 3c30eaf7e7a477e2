// The subscriber state machine (RFC 6665 §4.1.2): see subscription.hpp.
//
// States (Status) and what moves them:
//   queued      -> subscribing   the pacer gave a slot; initial SUBSCRIBE sent, Timer N runs (§4.1.2.4)
//   subscribing -> pending|active the first NOTIFY (which may come before the 2xx, §4.1.2.4)
//   *           -> retrying      a failure or a terminated NOTIFY the tables say to retry (policy.hpp)
//   *           -> rejected | no_such_user | unsupported   parked by the tables; only start(force) resumes
//   active      -> active        refreshes (in-dialog SUBSCRIBE, CSeq + 1, §4.1.2.2) before expiry
//   *           -> unsubscribing stop(true): Expires: 0 (§4.1.2.3), finished on the final NOTIFY
#include "subscription/subscription.hpp"

#include <algorithm>
#include <cctype>

#include "util/log.hpp"
#include "util/random.hpp"
#include "util/text.hpp"

namespace presenced::subscription {

using util::cat;

namespace {

constexpr size_t kCallIdBits = 128;  // rfc-checklist 1.4
constexpr size_t kTagBits = 64;      // rfc-checklist 1.3
constexpr int kExtensionRequired = 421;

bool requires_eventlist(const sip::Message& response) {
    for (const auto& tag : response.require())
        if (util::to_lower(tag) == "eventlist") return true;
    return false;
}

bool is_token_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-.!%*_+`'~").find(c) != std::string_view::npos;
}

// "<sip:x@y;lr>" -> "sip:x@y;lr"; a bare URI stays as it is.
std::string uri_of(std::string_view name_addr) {
    const auto open = name_addr.find('<');
    const auto close = name_addr.find('>', open == std::string_view::npos ? 0 : open);
    if (open == std::string_view::npos || close == std::string_view::npos) return std::string(util::trim(name_addr));
    return std::string(name_addr.substr(open + 1, close - open - 1));
}

// RFC 3261 §12.2.1.1, §19.1.5: a remote target is used without its ?headers.
std::string strip_headers(std::string uri) {
    if (const auto q = uri.find('?'); q != std::string::npos) uri.resize(q);
    return uri;
}

bool has_lr(std::string_view uri) {
    const std::string lower = util::to_lower(uri);
    const auto p = lower.find(";lr");
    return p != std::string::npos && (p + 3 == lower.size() || lower[p + 3] == ';' || lower[p + 3] == '=');
}

}  // namespace

std::optional<SubscriptionState> parse_subscription_state(std::string_view value) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (size_t i = 0; i <= value.size(); ++i) {
        if (i == value.size() || value[i] == ';') {
            parts.push_back(util::trim(value.substr(start, i - start)));
            start = i + 1;
        }
    }
    if (parts.empty() || parts[0].empty()) return std::nullopt;
    for (char c : parts[0])
        if (!is_token_char(c)) return std::nullopt;
    SubscriptionState st;
    st.state = util::to_lower(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i) {
        const std::string_view p = parts[i];
        if (p.empty()) continue;
        const auto eq = p.find('=');
        const std::string name = util::to_lower(util::trim(p.substr(0, eq)));
        const std::string_view val = eq == std::string_view::npos ? std::string_view{} : util::trim(p.substr(eq + 1));
        // Unparsable parameter values are ignored, not fatal: the state itself is what matters.
        if (name == "expires")
            st.expires = util::parse_u32(val);
        else if (name == "reason")
            st.reason = util::to_lower(val);
        else if (name == "retry-after")
            st.retry_after = util::parse_u32(val);
    }
    return st;
}

Subscription::Subscription(ev::Clock& clock, std::shared_ptr<Context> context, Key key, Spec spec, Hooks hooks)
    : clock_(clock),
      context_(std::move(context)),
      key_(std::move(key)),
      spec_(std::move(spec)),
      hooks_(std::move(hooks)),
      ask_expires_(context_->expires) {}

Subscription::~Subscription() {
    alive_.reset();
    cancel_timers();
    if (finish_timer_) clock_.cancel(finish_timer_);
    if (ticket_ && context_->pacer) context_->pacer->cancel(ticket_);
}

void Subscription::cancel_timers() {
    for (ev::TimerId* t : {&timer_n_, &refresh_timer_, &expiry_timer_, &retry_timer_}) {
        if (*t) clock_.cancel(*t);
        *t = 0;
    }
    refresh_at_ms_ = retry_at_ms_ = 0;
}

std::time_t Subscription::wall_at(uint64_t mono_ms) const {
    if (mono_ms == 0) return 0;
    const uint64_t now = clock_.now_ms();
    const auto wall = context_->wall_now();
    return mono_ms >= now ? wall + static_cast<std::time_t>((mono_ms - now + 999) / 1000)
                          : wall - static_cast<std::time_t>((now - mono_ms) / 1000);
}

Subscription::Info Subscription::info() const {
    Info i = info_;
    i.expires_at = wall_at(expires_at_ms_);
    i.next_refresh_at = wall_at(refresh_at_ms_);
    i.next_retry_at = wall_at(retry_at_ms_);
    i.expires = ask_expires_;
    return i;
}

void Subscription::set_status(Status status, std::string why) {
    info_.why = std::move(why);
    if (status == status_) return;
    log::debug("subscription ", key_.user, "/", key_.kind, "@", key_.connector, ": ", status_name(status_), " -> ",
               status_name(status), info_.why.empty() ? "" : " (", info_.why, info_.why.empty() ? "" : ")");
    status_ = status;
    if (hooks_.status_changed) hooks_.status_changed(*this);
}

bool Subscription::start(bool force) {
    if (stopping_) return false;
    if (is_parked() && !force) return false;
    // Idle: never started, parked, or (forced) waiting to retry.
    const bool idle =
        is_parked() || (force && status_ == Status::retrying) || (status_ == Status::queued && !ticket_ && !in_flight_);
    if (!idle) return false;
    cancel_timers();
    if (force) info_.retries = 0;
    begin_new();
    return true;
}

void Subscription::begin_new() {
    // A brand-new subscription: new Call-ID and From tag (RFC 6665 §4.1.2.2, rfc-checklist 7.9).
    const std::string old = call_id_;
    end_dialog();
    call_id_ = util::random_hex(kCallIdBits);
    local_tag_ = util::random_hex(kTagBits);
    local_cseq_ = 0;
    auth_ = std::make_unique<sip::digest::Session>(context_->credentials);
    if (hooks_.rekeyed) hooks_.rekeyed(*this, old);
    if (hooks_.restarted) hooks_.restarted(*this);
    set_status(Status::queued, "waiting for the pacer");
    std::weak_ptr<int> alive = alive_;
    ticket_ = context_->pacer->submit(Pacer::Class::fresh, [this, alive](Slot slot) {
        if (alive.expired()) return;
        ticket_ = 0;
        slot_ = std::move(slot);
        set_status(Status::subscribing, "SUBSCRIBE sent");
        send(Purpose::initial);
    });
}

void Subscription::end_dialog() {
    remote_tag_.clear();
    remote_target_.clear();
    route_set_.clear();
    dialog_from_notify_ = dialog_known_ = false;
    remote_cseq_.reset();
    expires_at_ms_ = 0;
    refresh_failed_ = false;
    in_flight_ = false;
    slot_.release();
    if (ticket_) context_->pacer->cancel(ticket_);
    ticket_ = 0;
    cancel_timers();
}

void Subscription::send(Purpose purpose) {
    sip::RequestSpec spec;
    spec.method = "SUBSCRIBE";
    spec.from_uri = context_->from_uri;
    spec.from_tag = local_tag_;
    spec.to_uri = spec_.resource_uri;
    spec.call_id = call_id_;
    spec.cseq = ++local_cseq_;
    spec.contact = context_->contact;
    if (dialog_known_) {
        // In-dialog request (RFC 3261 §12.2.1.1, rfc-checklist 8.8-8.9).
        spec.to_tag = remote_tag_;
        const std::string target = remote_target_.empty() ? spec_.resource_uri : strip_headers(remote_target_);
        if (route_set_.empty() || has_lr(uri_of(route_set_.front()))) {
            spec.request_uri = target;
            spec.routes = route_set_;
        } else {
            // A strict router: it becomes the R-URI, the remote target the last Route.
            spec.request_uri = strip_headers(uri_of(route_set_.front()));
            spec.routes.assign(route_set_.begin() + 1, route_set_.end());
            spec.routes.push_back(cat("<", target, ">"));
        }
    } else {
        spec.request_uri = spec_.resource_uri;
    }
    const uint32_t expires = purpose == Purpose::unsubscribe ? 0 : ask_expires_;
    // Credentials for every realm answered so far: after a challenge, and
    // cached on refreshes with nc + 1 (rfc-checklist 11.14); none at first.
    spec.headers = auth_->headers("SUBSCRIBE", spec.request_uri);
    spec.headers.emplace_back("Event", spec_.event);
    spec.headers.emplace_back("Expires", std::to_string(expires));
    spec.headers.emplace_back("Accept", spec_.accept);
    spec.headers.emplace_back("Allow", "NOTIFY, OPTIONS");
    if (spec_.eventlist) {
        spec.headers.emplace_back("Supported", "eventlist");
        if (require_eventlist_) spec.headers.emplace_back("Require", "eventlist");
    }
    in_flight_ = true;
    std::weak_ptr<int> alive = alive_;
    context_->send(std::move(spec),
                   [this, alive, purpose, expires](sip::ClientOutcome outcome, const sip::Message* response) {
                       if (alive.expired()) return;
                       on_final(purpose, outcome, response, expires);
                   });
    // Timer N (RFC 6665 §4.1.2.4; also on refreshes, rfc-checklist 9.4): no
    // NOTIFY within 64*T1 of the SUBSCRIBE means it did not take.
    if (purpose != Purpose::unsubscribe) {
        if (timer_n_) clock_.cancel(timer_n_);
        timer_n_ = clock_.start(context_->timer_n_ms, [this, purpose] {
            timer_n_ = 0;
            on_timer_n(purpose);
        });
    }
}

void Subscription::on_final(Purpose purpose, sip::ClientOutcome outcome, const sip::Message* response,
                            uint32_t sent_expires) {
    in_flight_ = false;
    if (outcome != sip::ClientOutcome::response) {
        info_.last_code = outcome == sip::ClientOutcome::timeout ? 408 : 503;
        info_.last_reason = outcome == sip::ClientOutcome::timeout ? "no answer (Timer F)" : "transport error";
        slot_.release();
        if (purpose == Purpose::unsubscribe) return finish();
        apply(on_no_response(purpose == Purpose::refresh, outcome == sip::ClientOutcome::timeout), purpose);
        return;
    }
    const int code = response->status_code();
    info_.last_code = code;
    info_.last_reason = util::escape_control(response->reason_phrase());
    if (code >= 200 && code < 300) return on_success(purpose, *response, sent_expires);

    if (code == 401 || code == 407) {
        // RFC 3261 §22.2: a new transaction with CSeq + 1 and credentials;
        // on a refresh too, stale or not, without tearing the dialog down
        // (interop.md §2 item 5).
        using V = sip::digest::Session::Verdict;
        const bool proxy = code == 407;
        const V verdict =
            auth_->on_challenge(proxy ? response->proxy_authenticate() : response->www_authenticate(), proxy);
        if (verdict == V::retry) {
            if (timer_n_) clock_.cancel(timer_n_);
            timer_n_ = 0;
            send(purpose);  // the same slot: it is one SUBSCRIBE to the pacer
            return;
        }
        if (timer_n_) clock_.cancel(timer_n_);
        timer_n_ = 0;
        slot_.release();
        if (purpose == Purpose::unsubscribe) return finish();
        const std::string why =
            cat(code, ": credentials rejected for realm \"", util::escape_control(auth_->last_realm()), "\"");
        Decision d = on_response(500, purpose == Purpose::refresh, response->retry_after(), std::nullopt, sent_expires,
                                 util::random_u64());
        d.why = why;
        apply(d, purpose);
        return;
    }

    // Any other final answer stops Timer N (RFC 6665 §4.1.2.4).
    if (timer_n_) clock_.cancel(timer_n_);
    timer_n_ = 0;
    if (code == kExtensionRequired && spec_.eventlist && !require_eventlist_ && purpose != Purpose::unsubscribe &&
        requires_eventlist(*response)) {
        // RFC 4662 §4.1 / RFC 3261 §21.4.15: the server insists on the
        // extension we already support; once more with Require: eventlist
        // (a second 421 goes to the tables: the list owner falls back).
        require_eventlist_ = true;
        info_.why = "421: Require: eventlist added";
        send(purpose);
        return;
    }
    if (purpose == Purpose::unsubscribe) {
        slot_.release();
        return finish();
    }
    const Decision d = on_response(code, purpose == Purpose::refresh, response->retry_after(), response->min_expires(),
                                   sent_expires, util::random_u64());
    if (d.action != Action::retry_expires) slot_.release();
    apply(d, purpose);
}

void Subscription::on_success(Purpose purpose, const sip::Message& response, uint32_t sent_expires) {
    auth_->on_success();
    slot_.release();
    if (purpose == Purpose::unsubscribe) {
        // The final NOTIFY (or Timer N) ends it (RFC 6665 §4.1.2.3). Not for a
        // list: Kamailio's rls answers 200 and sends none, which would hold
        // every stop for the whole shutdown_timeout (interop: lab README).
        if (spec_.eventlist) {
            end_dialog();
            finish();
        }
        return;
    }
    refresh_failed_ = false;
    if (sent_expires != context_->expires && sent_expires > context_->expires) {
        // A 423 taught us what this server accepts: new subscriptions ask for it at once.
        context_->expires = sent_expires;
    }
    // RFC 6665 §4.1.2.1: the 2xx Expires may shorten what we asked; missing -> what we asked (logged).
    uint32_t expires = sent_expires;
    if (const auto e = response.expires()) {
        expires = *e;
    } else {
        log::debug("subscription ", key_.user, "/", key_.kind, ": 2xx without Expires, assuming ", sent_expires, " s");
    }
    if (!dialog_from_notify_) {
        // No NOTIFY yet: a provisional dialog from the 2xx (RFC 3261 §12.1.2,
        // route set reversed), replaced when the NOTIFY arrives (rfc-checklist 8.4).
        dialog_known_ = true;
        remote_tag_ = response.to().tag;
        if (auto c = response.contact_uri()) remote_target_ = *c;
        route_set_ = response.record_routes();
        std::reverse(route_set_.begin(), route_set_.end());
    }
    expires_at_ms_ = clock_.now_ms() + uint64_t{expires} * 1000;
    schedule_refresh(expires);
    if (status_ == Status::subscribing)
        set_status(Status::subscribing, cat(response.status_code(), ": waiting for the first NOTIFY"));
}

void Subscription::schedule_refresh(uint32_t expires_s) {
    if (refresh_timer_) clock_.cancel(refresh_timer_);
    if (expiry_timer_) clock_.cancel(expiry_timer_);
    refresh_timer_ = expiry_timer_ = 0;
    refresh_at_ms_ = 0;
    if (expires_s == 0) return;  // ending: the terminated NOTIFY or Timer N decides
    const uint64_t delay = refresh_delay_ms(expires_s, util::random_u64());
    refresh_at_ms_ = clock_.now_ms() + delay;
    refresh_timer_ = clock_.start(delay, [this] {
        refresh_timer_ = 0;
        refresh_at_ms_ = 0;
        submit_refresh();
    });
    expiry_timer_ = clock_.start(uint64_t{expires_s} * 1000, [this] {
        expiry_timer_ = 0;
        on_expired();
    });
}

void Subscription::submit_refresh() {
    if (in_flight_ || ticket_ || stopping_ || !dialog_known_) return;
    std::weak_ptr<int> alive = alive_;
    ticket_ = context_->pacer->submit(Pacer::Class::refresh, [this, alive](Slot slot) {
        if (alive.expired()) return;
        ticket_ = 0;
        if (!dialog_known_ || stopping_) return;  // ended meanwhile
        slot_ = std::move(slot);
        send(Purpose::refresh);
    });
}

void Subscription::refresh_now() {
    if (status_ == Status::active || status_ == Status::pending) submit_refresh();
}

void Subscription::on_expired() {
    // The timer may be up to kKeepTimersPercent early (NOTIFYs moved the
    // expiry a little without moving it): the expiry in force decides.
    if (expires_at_ms_ > clock_.now_ms()) {
        expiry_timer_ = clock_.start(expires_at_ms_ - clock_.now_ms(), [this] {
            expiry_timer_ = 0;
            on_expired();
        });
        return;
    }
    // No refresh succeeded before the expiry: the notifier has dropped it.
    log::info("subscription ", key_.user, "/", key_.kind, "@", key_.connector, ": expired without a refresh");
    const Decision d{Action::resubscribe, util::random_below(kResubscribeSpreadMs), 0, "expired without a refresh"};
    apply(d, Purpose::refresh);
}

void Subscription::on_timer_n(Purpose purpose) {
    // RFC 6665 §4.1.2.4: no NOTIFY within 64*T1.
    if (status_ == Status::active || status_ == Status::pending) {
        if (purpose != Purpose::refresh) return;
        // rfc-checklist 9.4: a refresh with no NOTIFY: the subscription is gone.
        apply({Action::resubscribe, util::random_below(kResubscribeSpreadMs), 0, "Timer N: no NOTIFY after refresh"},
              purpose);
        return;
    }
    if (status_ != Status::subscribing) return;
    apply({Action::retry, 0, 0, "Timer N: no NOTIFY within 64*T1"}, purpose);
}

void Subscription::retry_in(uint64_t delay_ms, std::string why) {
    end_dialog();
    retry_at_ms_ = clock_.now_ms() + delay_ms;
    retry_timer_ = clock_.start(delay_ms, [this] {
        retry_timer_ = 0;
        retry_at_ms_ = 0;
        if (!stopping_) begin_new();
    });
    set_status(Status::retrying, std::move(why));
}

void Subscription::apply(const Decision& d, Purpose purpose) {
    if (stopping_) return finish();
    switch (d.action) {
        case Action::resubscribe:
            info_.retries = 0;
            retry_in(d.delay_ms, d.why);
            return;
        case Action::retry: {
            ++info_.retries;
            const uint64_t wait =
                std::max(d.delay_ms, backoff_delay(context_->backoff, info_.retries, util::random_u64()));
            retry_in(wait, d.why);
            return;
        }
        case Action::park_rejected:
            end_dialog();
            set_status(Status::rejected, d.why);
            return;
        case Action::park_no_such_user:
            end_dialog();
            set_status(Status::no_such_user, d.why);
            return;
        case Action::park_unsupported:
            end_dialog();
            set_status(Status::unsupported, d.why);
            return;
        case Action::retry_expires:
            // RFC 6665 §4.2.1.1 / 3261 §21.4.17: again with a longer expiry, CSeq + 1.
            ask_expires_ = d.new_expires;
            info_.why = d.why;
            send(purpose);
            return;
        case Action::keep_dialog: {
            // rfc-checklist 7.10: the dialog stays valid until its expiry; retry the refresh before it.
            ++info_.retries;
            refresh_failed_ = true;
            const uint64_t wait = backoff_delay(context_->backoff, info_.retries, util::random_u64());
            const uint64_t now = clock_.now_ms();
            info_.why = cat(d.why, "; refresh retried before expiry");
            if (expires_at_ms_ > now + wait) {
                if (refresh_timer_) clock_.cancel(refresh_timer_);
                refresh_at_ms_ = now + wait;
                refresh_timer_ = clock_.start(wait, [this] {
                    refresh_timer_ = 0;
                    refresh_at_ms_ = 0;
                    submit_refresh();
                });
            }
            if (hooks_.status_changed) hooks_.status_changed(*this);
            return;
        }
    }
}

Subscription::NotifyAnswer Subscription::on_notify(const sip::Message& notify) {
    const sip::NameAddr from = notify.from();
    if (dialog_from_notify_ && from.tag != remote_tag_) {
        // A second dialog from a forking proxy (rfc-checklist 8.5): keep the first.
        return {481, "Subscription Does Not Exist", false};
    }
    const uint32_t cseq = notify.cseq_number();
    if (remote_cseq_ && cseq < *remote_cseq_) return {500, "CSeq Out of Order", false};  // RFC 3261 §12.2.2
    const auto header = notify.header("Subscription-State");
    const auto st = header ? parse_subscription_state(*header) : std::nullopt;
    if (!st) return {400, "Missing or Bad Subscription-State", false};  // rfc-checklist 10.3
    remote_cseq_ = cseq;

    // The first NOTIFY creates the dialog (RFC 6665 §4.4.1; rfc-checklist 8.2):
    // its route set in received order, replacing a 2xx-derived one.
    if (!dialog_from_notify_) {
        dialog_from_notify_ = dialog_known_ = true;
        remote_tag_ = from.tag;
        route_set_ = notify.record_routes();
    }
    if (auto c = notify.contact_uri()) remote_target_ = *c;  // target refresh (rfc-checklist 8.7)
    if (timer_n_ && status_ != Status::unsubscribing) {
        clock_.cancel(timer_n_);
        timer_n_ = 0;
    }
    info_.last_notify_at = context_->wall_now();
    ++info_.notifies;
    if (!st->reason.empty()) info_.last_state_reason = st->reason;

    if (st->state == "terminated") {
        // RFC 6665 §4.1.3: over; act on the reason (policy.hpp), ignore expires.
        const bool has_body = !notify.body().empty();
        if (status_ == Status::unsubscribing) {
            end_dialog();
            finish();
            return {200, "OK", has_body};
        }
        apply(on_terminated(st->reason, st->retry_after, util::random_u64()), Purpose::refresh);
        return {200, "OK", has_body};
    }
    if (status_ == Status::unsubscribing) return {200, "OK", false};
    // active, pending, or an unknown state (treated as pending: not authorised yet).
    if (st->expires) {
        // The later of the 2xx Expires and this one wins (rfc-checklist 9.5).
        const uint64_t previous = expires_at_ms_;
        expires_at_ms_ = clock_.now_ms() + uint64_t{*st->expires} * 1000;
        const uint64_t moved = expires_at_ms_ > previous ? expires_at_ms_ - previous : previous - expires_at_ms_;
        const uint64_t keep_within =
            std::max(kKeepTimersMinMs, uint64_t{*st->expires} * 1000 * kKeepTimersPercent / kPercent);
        const bool timers_hold = refresh_timer_ && expiry_timer_ && moved < keep_within;
        if ((!refresh_failed_ || !refresh_timer_) && !timers_hold) schedule_refresh(*st->expires);
    } else if (!expires_at_ms_) {
        // Neither yet (a NOTIFY before the 2xx without expires): assume what we asked.
        expires_at_ms_ = clock_.now_ms() + uint64_t{ask_expires_} * 1000;
        schedule_refresh(ask_expires_);
    }
    const bool active = st->state == "active";
    if (active) info_.retries = 0;
    set_status(active ? Status::active : Status::pending,
               active ? "" : "pending: the notifier has not authorised the subscription yet");
    return {200, "OK", true};
}

void Subscription::stop(bool unsubscribe) {
    if (stopping_) return;
    stopping_ = true;
    const bool can_unsubscribe =
        unsubscribe && dialog_known_ && !in_flight_ &&
        (status_ == Status::active || status_ == Status::pending || status_ == Status::subscribing);
    if (!can_unsubscribe) {
        end_dialog();
        finish();
        return;
    }
    cancel_timers();
    if (ticket_) context_->pacer->cancel(ticket_);
    ticket_ = 0;
    set_status(Status::unsubscribing, "Expires: 0 sent");
    // Don't wait more than 64*T1 for the final NOTIFY (rfc-checklist 9.8).
    timer_n_ = clock_.start(context_->timer_n_ms, [this] {
        timer_n_ = 0;
        end_dialog();
        finish();
    });
    std::weak_ptr<int> alive = alive_;
    ticket_ = context_->pacer->submit(Pacer::Class::refresh, [this, alive](Slot slot) {
        if (alive.expired()) return;
        ticket_ = 0;
        slot_ = std::move(slot);
        send(Purpose::unsubscribe);
    });
}

void Subscription::finish() {
    if (finish_timer_) return;
    if (timer_n_) clock_.cancel(timer_n_);
    timer_n_ = 0;
    // From a timer: the owner may destroy us in the hook.
    finish_timer_ = clock_.start(0, [this] {
        finish_timer_ = 0;
        if (hooks_.finished) hooks_.finished(*this);
    });
}

}  // namespace presenced::subscription
