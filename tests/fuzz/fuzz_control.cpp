// Fuzz target: any bytes as control-socket input, split into lines the way
// the server splits them; every line must get exactly one JSON answer line.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control/commands.hpp"

using namespace presenced;

namespace {

class Services final : public control::Services {
public:
    Services() {
        auto o = config::load_string(
            "[[connector]]\nname = \"pbx\"\nserver = \"192.0.2.1\"\nuri = \"sip:p@x\"\nauth_id = \"p\"\ndomain = "
            "\"x\"\n"
            "[[user]]\nusername = \"alice\"\nextension = \"1\"\nrich_uri = \"sip:alice@x\"\n",
            "fuzz.toml");
        if (!o.ok()) std::abort();
        config_ = o.config;
        directory_ = presence::Directory::from_config(*config_);
        connectors_ = connector::build_connectors(*config_, {}, 1);
    }
    const config::Config& config() const override { return *config_; }
    const std::string& control_socket() const override { return config_->daemon.control_socket; }
    const presence::Directory& directory() const override { return directory_; }
    std::vector<connector::Connector> connectors() const override { return connectors_; }
    std::string sip_listen() const override { return "127.0.0.1:5060"; }
    sip::Endpoint::Counters sip_counters() const override { return {}; }
    std::time_t started_at() const override { return 1; }
    std::time_t now() const override { return 2; }
    const control::ReloadReport& last_reload() const override { return report_; }
    control::ReloadReport reload() override { return report_; }
    // Presence: one user with empty views, so user/subscribe/watch parse their arguments and answer.
    std::vector<presence::UserView> user_views() const override { return {presence::UserView{}}; }
    std::optional<presence::UserView> user_view(std::string_view name) const override {
        if (name != "alice") return std::nullopt;
        return presence::UserView{};
    }
    util::Result<presence::ForceReport> force_subscribe(std::string_view name, int seconds) override {
        return presence::ForceReport{std::string(name), seconds, {}};
    }
    util::Result<uint64_t> watch(const std::vector<std::string>&, WatchSink) override { return uint64_t{1}; }
    void unwatch(uint64_t) override {}
    util::Status set_note(const std::string& name, const std::string&) override {
        if (name != "alice") return util::Error{"not_found", "no such user"};
        return util::Ok{};
    }
    util::Result<presence::ImportReport> import_users(const std::string& path, bool) override {
        return util::Error{"not_found", "cannot read " + path};
    }
    util::Status restart_connector(const std::string& name) override {
        if (name != "pbx") return util::Error{"not_found", "no such connector"};
        return util::Ok{};
    }

private:
    std::shared_ptr<const config::Config> config_;
    presence::Directory directory_;
    std::vector<connector::Connector> connectors_;
    control::ReloadReport report_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Services services;
    std::string_view input(reinterpret_cast<const char*>(data), size);
    while (!input.empty()) {
        const size_t nl = input.find('\n');
        const std::string_view line = input.substr(0, nl);
        const std::string answer = control::dispatch(services, line);
        if (answer.empty() || answer.find('\n') != std::string::npos || answer.front() != '{') std::abort();
        if (nl == std::string_view::npos) break;
        input.remove_prefix(nl + 1);
    }
    return 0;
}
