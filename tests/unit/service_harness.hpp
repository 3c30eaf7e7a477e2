// The presence service's test harness: a config with one connector "pbx",
// users, and a scripted server on the virtual clock (service_test.cpp,
// service_list_test.cpp).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "presence/service.hpp"

namespace presenced::test {

using namespace presenced;

inline constexpr std::string_view kConnector = R"(
[sip]
listen = "127.0.0.1:0"
[[connector]]
name = "pbx"
server = "127.0.0.1:5070"
uri = "sip:watcher@example.com"
auth_id = "watcher"
password = "pw"
domain = "example.com"
)";

inline std::string user_toml(const std::string& name, const std::string& rich = "", const std::string& tel = "") {
    return "[[user]]\nusername = \"" + name + "\"\nrich_uri = \"" +
           (rich.empty() ? "sip:" + name + "@example.com" : rich) + "\"\ntelephony_uri = \"" +
           (tel.empty() ? "sip:" + name + "-line@example.com" : tel) + "\"\n";
}

// connector: more keys of the [[connector]] table (rich_list_uri = ...).
inline std::shared_ptr<const config::Config> load(const std::string& presence, const std::string& users,
                                                  const std::string& connector = "") {
    auto out = config::load_string(std::string(kConnector) + connector + "\n[presence]\n" + presence + "\n" + users,
                                   "test.toml");
    if (!out.ok()) FAIL(out.errors.front().str());
    return out.config;
}

struct Sent {
    sip::RequestSpec spec;
    sip::Endpoint::Done done;
    bool answered = false;
    std::string header(std::string_view name) const {
        for (const auto& [n, v] : spec.headers)
            if (n == name) return v;
        return {};
    }
};

struct Harness {
    ev::VirtualClock clock;
    std::vector<Sent> sent;
    std::vector<presence::Event> events;
    std::vector<presence::CachedSource> persisted;  // what the state cache was given
    std::vector<std::string> forgotten;
    presence::Service service;
    std::shared_ptr<const config::Config> config;
    uint32_t cseq = 0;

    Harness()
        : service(clock, presence::Service::Network{
                             [](const std::string&) {
                                 sip::Target t;
                                 t.address = *sip::Address::from_ip("127.0.0.1", 5070);
                                 return std::optional<sip::Target>(t);
                             },
                             [this](sip::RequestSpec spec, const sip::Target&, sip::Endpoint::Done done) {
                                 sent.push_back({std::move(spec), std::move(done)});
                             },
                             [](const sip::Target&) { return std::string("<sip:presenced@127.0.0.1:5060>"); },
                             [this](presence::CachedSource c) { persisted.push_back(std::move(c)); },
                             [this](const std::string& user) { forgotten.push_back(user); }}) {}

    void apply(const std::shared_ptr<const config::Config>& c) {
        config = c;
        service.apply(c, presence::Directory::from_config(*c));
        connector::Connector k;
        k.config = *c->find_connector("pbx");
        k.health.status = connector::Status::connected;
        service.connector_changed(k);
        clock.advance(0);
    }
    // Answers every unanswered request: 200, then a NOTIFY (active, or
    // terminated for an unsubscribe) with body for the kind asked.
    void serve(const std::string& pidf = "", const std::string& dialog = "") {
        for (size_t i = 0; i < sent.size(); ++i) {
            if (sent[i].answered) continue;
            sent[i].answered = true;
            const auto& s = sent[i].spec;
            const bool unsubscribe = sent[i].header("Expires") == "0";
            const std::string head =
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK" + std::to_string(i) + "\r\nFrom: <" +
                s.from_uri + ">;tag=" + s.from_tag + "\r\nTo: <" + s.to_uri + ">;tag=srv\r\nCall-ID: " + s.call_id +
                "\r\nCSeq: " + std::to_string(s.cseq) + " SUBSCRIBE\r\nExpires: " + (unsubscribe ? "0" : "600") +
                "\r\nContent-Length: 0\r\n\r\n";
            auto response = sip::Message::parse(head);
            REQUIRE(response);
            auto done = sent[i].done;
            done(sip::ClientOutcome::response, &*response);
            const bool is_dialog = sent[i].header("Event") == "dialog";
            const std::string body = unsubscribe ? "" : (is_dialog ? dialog : pidf);
            notify(s, unsubscribe ? "terminated;reason=timeout" : "active;expires=600", sent[i].header("Event"), body,
                   is_dialog ? "application/dialog-info+xml" : "application/pidf+xml");
        }
        clock.advance(0);
    }
    std::optional<sip::Answer> notify(const sip::RequestSpec& s, const std::string& state, const std::string& event,
                                      const std::string& body, const std::string& type) {
        const uint32_t n = ++cseq;
        const std::string text =
            "NOTIFY sip:presenced@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP "
            "127.0.0.1:5070;branch=z9hG4bKn" +
            std::to_string(n) + "\r\nFrom: <" + s.to_uri + ">;tag=srv\r\nTo: <" + s.from_uri + ">;tag=" + s.from_tag +
            "\r\nCall-ID: " + s.call_id + "\r\nCSeq: " + std::to_string(cseq) + " NOTIFY\r\nEvent: " + event +
            "\r\nSubscription-State: " + state + "\r\n" + (body.empty() ? "" : "Content-Type: " + type + "\r\n") +
            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        auto m = sip::Message::parse(text);
        REQUIRE(m);
        auto a = service.on_notify(*m);
        if (a && a->after_sent) a->after_sent();
        return a;
    }
    size_t count(const std::string& uri, const std::string& expires = "") const {
        return static_cast<size_t>(std::count_if(sent.begin(), sent.end(), [&](const Sent& s) {
            return s.spec.to_uri == uri && (expires.empty() || s.header("Expires") == expires);
        }));
    }
    std::string subscription(const std::string& user, bool rich = true) const {
        auto v = service.user_view(user);
        REQUIRE(v);
        return (rich ? v->rich : v->telephony).sources.at(0).subscription;
    }
};

inline const std::string kAway = R"(<?xml version="1.0"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
 xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:alice@example.com">
 <tuple id="t"><status><basic>open</basic></status></tuple>
 <dm:person id="p"><rpid:activities><rpid:away/></rpid:activities><dm:note>Gone home</dm:note></dm:person>
</presence>)";

inline const std::string kConfirmed = R"(<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:alice@example.com">
 <dialog id="d1" direction="initiator"><state>confirmed</state></dialog>
</dialog-info>)";

}  // namespace presenced::test
