// A control::Services over a fixed, real Config, for tests of the command
// layer without a socket or a loop.
#pragma once

#include <catch2/catch.hpp>

#include "control/commands.hpp"

namespace presenced::control {

// A model built from a real Config, as the daemon builds it.
class FakeServices : public Services {
public:
    FakeServices() {
        auto o = config::load_string(R"([presence]
preferred_connector = "pbx"
[[connector]]
name = "pbx"
server = "192.0.2.10"
uri = "sip:p@example.com"
auth_id = "p"
domain = "example.com"
[[connector]]
name = "off"
enabled = false
[[user]]
username = "alice"
display_name = "Alice Example"
department = "Sales"
extension = "1001"
rich_uri = "sip:alice@example.com"
[[user]]
username = "bob"
display_name = "Bob"
department = "Support"
)",
                                     "test.toml");
        REQUIRE(o.ok());
        config_ = o.config;
        directory_ = presence::Directory::from_config(*config_);
        connectors_ = connector::build_connectors(*config_, {}, 1000);
    }
    const config::Config& config() const override { return *config_; }
    const std::string& control_socket() const override { return config_->daemon.control_socket; }
    const presence::Directory& directory() const override { return directory_; }
    std::vector<connector::Connector> connectors() const override { return connectors_; }
    std::string sip_listen() const override { return "127.0.0.1:5060"; }
    sip::Endpoint::Counters sip_counters() const override { return {}; }
    std::time_t started_at() const override { return 1000; }
    std::time_t now() const override { return 1042; }
    const ReloadReport& last_reload() const override { return report_; }
    ReloadReport reload() override {
        ++reloads;
        report_ = {false, 1042, {"test.toml:3:1: broken"}, {}};
        return report_;
    }
    int reloads = 0;

private:
    std::shared_ptr<const config::Config> config_;
    presence::Directory directory_;
    std::vector<connector::Connector> connectors_;
    ReloadReport report_;
};

}  // namespace presenced::control
