// Config loading: the example file, every default, and one bad file per
// validation rule with its exact message and position.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/config.hpp"

using namespace presenced::config;

namespace {

std::vector<std::string> errors_of(const std::string& text) {
    auto outcome = load_string(text, "presenced.toml");
    std::vector<std::string> out;
    for (const auto& e : outcome.errors) out.push_back(e.str());
    if (outcome.ok()) REQUIRE(out.empty());
    return out;
}

// A connector with everything a configured one needs, for rules that are about something else.
const std::string kGoodConnector =
    "[[connector]]\nname = \"pbx\"\nserver = \"192.0.2.10\"\nuri = \"sip:presence@example.com\"\n"
    "auth_id = \"presence\"\ndomain = \"example.com\"\n";

// A connector "a" with the given server line and all credentials, so only the server rule speaks.
std::string connector_with_server(const std::string& server) {
    return "[[connector]]\nname = \"a\"\nuri = \"sip:p@example.com\"\nauth_id = \"p\"\ndomain = "
           "\"example.com\"\nserver = \"" +
           server + "\"\n";
}

}  // namespace

TEST_CASE("the example configuration in conf/ loads", "[config]") {
    auto outcome = load_file(PROJECT_SOURCE_DIR "/conf/presenced.toml");
    for (const auto& e : outcome.errors) UNSCOPED_INFO(e.str());
    REQUIRE(outcome.ok());
    const Config& c = *outcome.config;
    CHECK(c.connectors.size() == 2);
    CHECK(c.users.size() == 2);
    REQUIRE(c.preferred() != nullptr);
    CHECK(c.preferred()->name == "pbx");
    CHECK(c.connectors[0].server_address->str() == "192.0.2.10:5060");
    CHECK(c.connectors[1].server_address->port == 5060);
    CHECK(c.connectors[1].server_address->kind == HostKind::fqdn);
    CHECK(c.connectors[1].transport == Transport::tcp);
    CHECK_FALSE(c.connectors[1].enabled);
}

TEST_CASE("an empty file gives every default", "[config]") {
    auto outcome = load_string("", "empty.toml");
    REQUIRE(outcome.ok());
    const Config& c = *outcome.config;
    CHECK(c.path == "empty.toml");
    CHECK(c.daemon.control_socket == "/run/presenced/presenced.sock");
    CHECK(c.daemon.control_mode == 0660);
    CHECK(c.daemon.control_group.empty());
    CHECK(c.daemon.state_db == "/var/lib/presenced/state.db");
    CHECK(c.daemon.log_level == presenced::log::Level::info);
    CHECK(c.sip.listen == "0.0.0.0:5060");
    CHECK(c.sip.listen_address.port == 5060);
    CHECK(c.sip.contact_host.empty());
    CHECK(c.sip.user_agent == "presenced");
    CHECK(c.sip.t1_ms == 500);
    CHECK(c.sip.t2_ms == 4000);
    CHECK(c.sip.t4_ms == 5000);
    CHECK(c.sip.udp_receive_buffer == 4 * 1024 * 1024);
    CHECK(c.sip.max_header_bytes == 64 * 1024);
    CHECK(c.sip.max_body_bytes == 1024 * 1024);
    CHECK(c.sip.source_check);
    CHECK(c.sip.probe_interval == 30);
    CHECK(c.sip.probe_retry_interval == 5);
    CHECK(c.sip.tcp_keepalive_interval == 90);
    CHECK(c.presence.preferred_connector.empty());
    CHECK(c.presence.subscribe == SubscribePolicy::all);
    CHECK(c.presence.force_subscribe_seconds == 60);
    CHECK(c.presence.expires == 3600);
    CHECK(c.presence.retry_min == 10);
    CHECK(c.presence.retry_max == 900);
    CHECK(c.presence.on_demand_linger == 30);
    CHECK(c.presence.shutdown_timeout == 5);
    CHECK(c.connectors.empty());
    CHECK(c.users.empty());
    CHECK(c.preferred() == nullptr);
}

TEST_CASE("connector and user defaults", "[config]") {
    auto outcome = load_string("[[connector]]\nname = \"k\"\n[[user]]\nusername = \"u\"\n", "x.toml");
    REQUIRE(outcome.ok());
    const Connector& k = outcome.config->connectors.at(0);
    CHECK(k.enabled);
    CHECK(k.server.empty());
    CHECK_FALSE(k.server_address.has_value());
    CHECK(k.transport == Transport::udp);
    CHECK(k.uri.empty());
    CHECK(k.password.empty());
    CHECK(k.telephony_event == TelephonyEvent::dialog);
    CHECK(k.subscribe_rate == 50);
    CHECK(k.max_in_flight == 64);
    const User& u = outcome.config->users.at(0);
    CHECK(u.display_name.empty());
    CHECK(u.extension.empty());
    CHECK(u.rich_uri.empty());
    CHECK(u.telephony_uri.empty());
}

TEST_CASE("values are read as written", "[config]") {
    auto outcome = load_string(R"([daemon]
control_socket = "/tmp/p.sock"
control_mode = "600"
state_db = "/tmp/s.db"
log_level = "trace"
[sip]
listen = "[::1]:0"
contact_host = "pbx.example.com"
user_agent = "x/1"
[presence]
subscribe = "on_demand"
force_subscribe_seconds = 3600
expires = 60
retry_min = 3600
retry_max = 86400
on_demand_linger = 0
shutdown_timeout = 60
[[connector]]
name = "k"
telephony_event = "presence"
subscribe_rate = 10000
max_in_flight = 1
)",
                               "x.toml");
    REQUIRE(outcome.ok());
    const Config& c = *outcome.config;
    CHECK(c.daemon.control_mode == 0600);
    CHECK(c.daemon.log_level == presenced::log::Level::trace);
    CHECK(c.sip.listen_address.kind == HostKind::ipv6);
    CHECK(c.sip.listen_address.host == "::1");
    CHECK(c.sip.listen_address.port == 0);
    CHECK(c.presence.subscribe == SubscribePolicy::on_demand);
    CHECK(c.presence.force_subscribe_seconds == 3600);
    CHECK(c.presence.expires == 60);
    CHECK(c.presence.retry_min == 3600);
    CHECK(c.presence.retry_max == 86400);
    CHECK(c.presence.on_demand_linger == 0);
    CHECK(c.presence.shutdown_timeout == 60);
    const Connector& k = c.connectors.at(0);
    CHECK(k.telephony_event == TelephonyEvent::presence);
    CHECK(k.subscribe_rate == 10000);
    CHECK(k.max_in_flight == 1);
}

TEST_CASE("retry_max equal to retry_min is allowed", "[config]") {
    auto outcome = load_string("[presence]\nretry_min = 600\nretry_max = 600\n", "x.toml");
    REQUIRE(outcome.ok());
    CHECK(outcome.config->presence.retry_min == 600);
    CHECK(outcome.config->presence.retry_max == 600);
}

TEST_CASE("telephony_event names the event package", "[config]") {
    CHECK(telephony_event_name(TelephonyEvent::dialog) == "dialog");
    CHECK(telephony_event_name(TelephonyEvent::presence) == "presence");
}

TEST_CASE("one bad file per rule: message and position", "[config]") {
    struct Case {
        const char* rule;
        std::string text;
        std::vector<std::string> expected;
    };
    const std::vector<Case> cases = {
        {"TOML syntax",
         "x = \n",
         {"presenced.toml:1:5: Error while parsing key-value pair: expected value, saw '\\n'"}},
        {"unknown top-level key", "colour = \"red\"\n", {"presenced.toml:1:1: unknown table or key \"colour\""}},
        {"unknown top-level table", "[daemons]\n", {"presenced.toml:1:2: unknown table or key \"daemons\""}},
        {"section must be a table", "daemon = 5\n", {"presenced.toml:1:10: daemon must be a table, written [daemon]"}},
        {"connector must be [[connector]]",
         "[connector]\nname = \"a\"\n",
         {"presenced.toml:1:1: connector must be an array of tables, written [[connector]]"}},
        {"unknown key in [daemon]",
         "[daemon]\nlog_levl = \"info\"\n",
         {"presenced.toml:2:1: daemon: unknown key \"log_levl\""}},
        {"unknown key in [sip]", "[sip]\nport = 5060\n", {"presenced.toml:2:1: sip: unknown key \"port\""}},
        {"unknown key in [presence]",
         "[presence]\nexpiry = 60\n",
         {"presenced.toml:2:1: presence: unknown key \"expiry\""}},
        {"unknown key in [[connector]]",
         "[[connector]]\nname = \"a\"\nsecret = \"x\"\n",
         {"presenced.toml:3:1: connector \"a\": unknown key \"secret\""}},
        {"unknown key in [[user]]",
         "[[user]]\nusername = \"a\"\nemail = \"x\"\n",
         {"presenced.toml:3:1: user \"a\": unknown key \"email\""}},
        {"string expected",
         "[daemon]\nstate_db = 5\n",
         {"presenced.toml:2:12: daemon: state_db must be a string, not an integer"}},
        {"boolean expected",
         "[[connector]]\nname = \"a\"\nenabled = \"yes\"\n",
         {"presenced.toml:3:11: connector \"a\": enabled must be a boolean (true or false), not a string"}},
        {"integer expected",
         "[presence]\nexpires = \"3600\"\n",
         {"presenced.toml:2:11: presence: expires must be an integer, not a string"}},
        {"control_socket absolute",
         "[daemon]\ncontrol_socket = \"run/p.sock\"\n",
         {"presenced.toml:2:18: daemon: control_socket must be an absolute path, not \"run/p.sock\""}},
        {"control_socket length",
         "[daemon]\ncontrol_socket = \"/" + std::string(120, 'x') + "\"\n",
         {"presenced.toml:2:18: daemon: control_socket must be at most 107 bytes long"}},
        {"control_mode octal",
         "[daemon]\ncontrol_mode = \"0999\"\n",
         {"presenced.toml:2:16: daemon: control_mode must be an octal string such as \"0660\", not \"0999\""}},
        {"control_mode as number",
         "[daemon]\ncontrol_mode = 660\n",
         {"presenced.toml:2:16: daemon: control_mode must be a string, not an integer"}},
        {"control_group exists",
         "[daemon]\ncontrol_group = \"no-such-group-here\"\n",
         {"presenced.toml:2:17: daemon: control_group \"no-such-group-here\" is not a group on this system"}},
        {"state_db absolute",
         "[daemon]\nstate_db = \"state.db\"\n",
         {"presenced.toml:2:12: daemon: state_db must be an absolute path, not \"state.db\""}},
        {"log_level choice",
         "[daemon]\nlog_level = \"loud\"\n",
         {"presenced.toml:2:13: daemon: log_level must be \"error\", \"warn\", \"info\", \"debug\", or \"trace\", not "
          "\"loud\""}},
        {"listen is an IP",
         "[sip]\nlisten = \"pbx.example.com:5060\"\n",
         {"presenced.toml:2:10: sip: listen must be an IP address with a port, such as \"0.0.0.0:5060\" or "
          "\"[::]:5060\", not \"pbx.example.com:5060\""}},
        {"listen port range",
         "[sip]\nlisten = \"0.0.0.0:70000\"\n",
         {"presenced.toml:2:10: sip: listen \"0.0.0.0:70000\" has a port that is not 0-65535"}},
        {"listen IPv6 needs brackets",
         "[sip]\nlisten = \"::1:5060\"\n",
         {"presenced.toml:2:10: sip: listen \"::1:5060\" looks like an IPv6 address without brackets (write "
          "[addr]:port)"}},
        {"contact_host has no port",
         "[sip]\ncontact_host = \"192.0.2.1:5060\"\n",
         {"presenced.toml:2:16: sip: contact_host must be an IP address or a DNS name without a port, not "
          "\"192.0.2.1:5060\""}},
        {"user_agent not empty",
         "[sip]\nuser_agent = \"\"\n",
         {"presenced.toml:2:14: sip: user_agent must not be empty"}},
        {"user_agent no control characters",
         "[sip]\nuser_agent = \"a\\nb\"\n",
         {"presenced.toml:2:14: sip: user_agent must not contain control characters"}},
        {"t1_ms range", "[sip]\nt1_ms = 10\n", {"presenced.toml:2:9: sip: t1_ms must be between 50 and 10000, not 10"}},
        {"t2_ms not below t1_ms",
         "[sip]\nt1_ms = 5000\nt2_ms = 4000\n",
         {"presenced.toml:3:9: sip: t2_ms (4000) must not be less than t1_ms (5000)"}},
        {"t1_ms above the default t2_ms",
         "[sip]\nt1_ms = 5000\n",
         {"presenced.toml:2:9: sip: t2_ms (4000) must not be less than t1_ms (5000)"}},
        {"probe_retry_interval not above probe_interval",
         "[sip]\nprobe_interval = 5\nprobe_retry_interval = 600\n",
         {"presenced.toml:3:24: sip: probe_retry_interval (600) must not be more than probe_interval (5)"}},
        {"udp_receive_buffer range",
         "[sip]\nudp_receive_buffer = 1024\n",
         {"presenced.toml:2:22: sip: udp_receive_buffer must be between 65536 and 67108864, not 1024"}},
        {"max_body_bytes range",
         "[sip]\nmax_body_bytes = 0\n",
         {"presenced.toml:2:18: sip: max_body_bytes must be between 4096 and 67108864, not 0"}},
        {"source_check boolean",
         "[sip]\nsource_check = 1\n",
         {"presenced.toml:2:16: sip: source_check must be a boolean (true or false), not an integer"}},
        {"probe_interval range",
         "[sip]\nprobe_interval = 1\n",
         {"presenced.toml:2:18: sip: probe_interval must be between 5 and 3600, not 1"}},
        {"tcp_keepalive_interval range",
         "[sip]\ntcp_keepalive_interval = -1\n",
         {"presenced.toml:2:26: sip: tcp_keepalive_interval must be between 0 and 3600, not -1"}},
        {"subscribe choice",
         "[presence]\nsubscribe = \"some\"\n",
         {"presenced.toml:2:13: presence: subscribe must be \"all\" or \"on_demand\", not \"some\""}},
        {"force_subscribe_seconds range",
         "[presence]\nforce_subscribe_seconds = 0\n",
         {"presenced.toml:2:27: presence: force_subscribe_seconds must be between 1 and 3600, not 0"}},
        {"expires range",
         "[presence]\nexpires = 59\n",
         {"presenced.toml:2:11: presence: expires must be between 60 and 86400, not 59"}},
        {"retry_min range",
         "[presence]\nretry_min = 0\n",
         {"presenced.toml:2:13: presence: retry_min must be between 1 and 3600, not 0"}},
        {"retry_max range",
         "[presence]\nretry_max = 86401\n",
         {"presenced.toml:2:13: presence: retry_max must be between 10 and 86400, not 86401"}},
        {"retry_max not below retry_min",
         "[presence]\nretry_min = 120\nretry_max = 60\n",
         {"presenced.toml:3:13: presence: retry_max (60) must not be less than retry_min (120)"}},
        {"retry_min above the default retry_max",
         "[presence]\nretry_min = 1000\n",
         {"presenced.toml:2:13: presence: retry_max (900) must not be less than retry_min (1000)"}},
        {"retry_max below the default retry_min",
         "[presence]\nretry_max = 9\n",
         {"presenced.toml:2:13: presence: retry_max must be between 10 and 86400, not 9"}},
        {"on_demand_linger range",
         "[presence]\non_demand_linger = -1\n",
         {"presenced.toml:2:20: presence: on_demand_linger must be between 0 and 3600, not -1"}},
        {"shutdown_timeout range",
         "[presence]\nshutdown_timeout = 61\n",
         {"presenced.toml:2:20: presence: shutdown_timeout must be between 0 and 60, not 61"}},
        {"shutdown_timeout integer",
         "[presence]\nshutdown_timeout = 5.5\n",
         {"presenced.toml:2:20: presence: shutdown_timeout must be an integer, not a floating-point number"}},
        {"preferred_connector exists",
         "[presence]\npreferred_connector = \"zz\"\n",
         {"presenced.toml:2:23: presence: preferred_connector \"zz\" is not a configured connector"}},
        {"preferred_connector needed with several enabled",
         "[[connector]]\nname = \"a\"\n[[connector]]\nname = \"b\"\n",
         {"presenced.toml:3:1: presence: preferred_connector must name one of the enabled connectors (\"a\", \"b\") "
          "when several are enabled"}},
        {"preferred_connector enabled",
         "[presence]\npreferred_connector = \"a\"\n[[connector]]\nname = \"a\"\nenabled = false\n"
         "[[connector]]\nname = \"b\"\n[[connector]]\nname = \"c\"\n",
         {"presenced.toml:2:23: presence: preferred_connector \"a\" is disabled; name one of the enabled connectors "
          "(\"b\", \"c\")"}},
        {"connector name required",
         "[[connector]]\nenabled = false\n",
         {"presenced.toml:1:1: connector #1: name is required"}},
        {"connector name syntax",
         "[[connector]]\nname = \"PBX 1\"\n",
         {"presenced.toml:2:8: connector #1: name must be 1-32 characters of a-z, 0-9, _ and -, not \"PBX 1\""}},
        {"connector name unique",
         "[[connector]]\nname = \"a\"\nenabled = false\n[[connector]]\nname = \"a\"\nenabled = false\n",
         {"presenced.toml:5:8: connector \"a\": name \"a\" is already used by the connector at line 1"}},
        {"server host",
         connector_with_server("bad_host"),
         {"presenced.toml:6:10: connector \"a\": server \"bad_host\" has an invalid host (not an IPv4 address or a DNS "
          "name)"}},
        {"server port",
         connector_with_server("192.0.2.1:0"),
         {"presenced.toml:6:10: connector \"a\": server \"192.0.2.1:0\" has a port that is not 1-65535"}},
        {"server IPv6 brackets",
         connector_with_server("2001:db8::1"),
         {"presenced.toml:6:10: connector \"a\": server \"2001:db8::1\" looks like an IPv6 address without brackets "
          "(write [addr]:port)"}},
        {"server bracket closed",
         connector_with_server("[2001:db8::1"),
         {"presenced.toml:6:10: connector \"a\": server \"[2001:db8::1\" has a '[' without ']'"}},
        {"transport choice",
         kGoodConnector + "transport = \"sctp\"\n",
         {"presenced.toml:7:13: connector \"pbx\": transport must be \"udp\" or \"tcp\", not \"sctp\""}},
        {"telephony_event choice",
         kGoodConnector + "telephony_event = \"dialog-info\"\n",
         {"presenced.toml:7:19: connector \"pbx\": telephony_event must be \"dialog\" or \"presence\", not "
          "\"dialog-info\""}},
        {"subscribe_rate range",
         kGoodConnector + "subscribe_rate = 0\n",
         {"presenced.toml:7:18: connector \"pbx\": subscribe_rate must be between 1 and 10000, not 0"}},
        {"max_in_flight range",
         kGoodConnector + "max_in_flight = 10001\n",
         {"presenced.toml:7:17: connector \"pbx\": max_in_flight must be between 1 and 10000, not 10001"}},
        {"uri is SIP",
         "[[connector]]\nname = \"a\"\nuri = \"tel:+123\"\n",
         {"presenced.toml:3:7: connector \"a\": uri \"tel:+123\" is not a SIP URI: it must start with sip: or sips:"}},
        {"credentials required with a server",
         "[[connector]]\nname = \"a\"\nserver = \"192.0.2.1\"\nuri = \"sip:p@example.com\"\n",
         {"presenced.toml:1:1: connector \"a\": auth_id is required when server is set",
          "presenced.toml:1:1: connector \"a\": domain is required when server is set"}},
        {"credentials not empty with a server",
         "[[connector]]\nname = \"a\"\nserver = \"192.0.2.1\"\nuri = \"sip:p@example.com\"\nauth_id = \"\"\ndomain = "
         "\"example.com\"\n",
         {"presenced.toml:5:11: connector \"a\": auth_id must not be empty when server is set"}},
        {"domain syntax",
         "[[connector]]\nname = \"a\"\ndomain = \"exa mple\"\n",
         {"presenced.toml:3:10: connector \"a\": domain must be a DNS name or an IP address, not \"exa mple\""}},
        {"username required",
         "[[user]]\ndisplay_name = \"x\"\n",
         {"presenced.toml:1:1: user #1: username is required"}},
        {"username syntax",
         "[[user]]\nusername = \"al ice\"\n",
         {"presenced.toml:2:12: user #1: username must be 1-64 characters of A-Z, a-z, 0-9 and . _ @ + -, not \"al "
          "ice\""}},
        {"username unique",
         "[[user]]\nusername = \"a\"\n[[user]]\nusername = \"a\"\n",
         {"presenced.toml:4:12: user \"a\": username \"a\" is already used by the user at line 1"}},
        {"display_name length",
         "[[user]]\nusername = \"a\"\ndisplay_name = \"" + std::string(300, 'x') + "\"\n",
         {"presenced.toml:3:16: user \"a\": display_name must be at most 256 bytes long"}},
        {"department control characters",
         "[[user]]\nusername = \"a\"\ndepartment = \"x\\ty\"\n",
         {"presenced.toml:3:14: user \"a\": department must not contain control characters"}},
        {"extension syntax",
         "[[user]]\nusername = \"a\"\nextension = \"10 01\"\n",
         {"presenced.toml:3:13: user \"a\": extension must be 1-32 characters of A-Z, a-z, 0-9 and * # + . _ -, not "
          "\"10 01\""}},
        {"rich_uri is SIP",
         "[[user]]\nusername = \"a\"\nrich_uri = \"mailto:a@example.com\"\n",
         {"presenced.toml:3:12: user \"a\": rich_uri \"mailto:a@example.com\" is not a SIP URI: it must start with "
          "sip: or sips:"}},
        {"telephony_uri without headers",
         "[[user]]\nusername = \"a\"\ntelephony_uri = \"sip:1001@pbx?Route=x\"\n",
         {"presenced.toml:3:17: user \"a\": telephony_uri \"sip:1001@pbx?Route=x\" is not a SIP URI: it must not carry "
          "?headers"}},
        {"URI host",
         "[[user]]\nusername = \"a\"\nrich_uri = \"sip:a@\"\n",
         {"presenced.toml:3:12: user \"a\": rich_uri \"sip:a@\" is not a SIP URI: it host is empty"}},
    };
    for (const auto& c : cases) {
        INFO("rule: " << c.rule);
        CHECK(errors_of(c.text) == c.expected);
    }
}

TEST_CASE("errors come sorted by position, all at once", "[config]") {
    const auto errors = errors_of("[presence]\nexpires = 1\n[daemon]\nlog_level = \"x\"\ncontrol_mode = \"9\"\n");
    REQUIRE(errors.size() == 3);
    CHECK(errors[0].rfind("presenced.toml:2:", 0) == 0);
    CHECK(errors[1].rfind("presenced.toml:4:", 0) == 0);
    CHECK(errors[2].rfind("presenced.toml:5:", 0) == 0);
}

TEST_CASE("at most 32 connectors", "[config]") {
    std::string text = "[presence]\npreferred_connector = \"k0\"\n";
    for (int i = 0; i < 33; ++i) text += "[[connector]]\nname = \"k" + std::to_string(i) + "\"\nenabled = false\n";
    CHECK(errors_of(text) == std::vector<std::string>{"presenced.toml:99:1: at most 32 connectors are allowed"});
}

TEST_CASE("an unreadable file is reported without a position", "[config]") {
    auto outcome = load_file("/nonexistent/presenced.toml");
    REQUIRE_FALSE(outcome.ok());
    REQUIRE(outcome.errors.size() == 1);
    CHECK(outcome.errors[0].str() == "/nonexistent/presenced.toml: cannot read: No such file or directory");
    auto dir = load_file("/");
    REQUIRE(dir.errors.size() == 1);
    CHECK(dir.errors[0].str() == "/: cannot read: not a regular file");
}

TEST_CASE("the preferred connector and the derived telephony URI", "[config]") {
    SECTION("the only enabled connector is preferred without being named") {
        auto o = load_string(
            "[[connector]]\nname = \"a\"\nenabled = false\ndomain = \"a.example\"\n"
            "[[connector]]\nname = \"b\"\ndomain = \"b.example\"\n[[user]]\nusername = \"u\"\nextension = \"1001\"\n",
            "x.toml");
        REQUIRE(o.ok());
        REQUIRE(o.config->preferred() != nullptr);
        CHECK(o.config->preferred()->name == "b");
        CHECK(o.config->resolved_telephony_uri(o.config->users[0]) == "sip:1001@b.example");
    }
    SECTION("a named preferred connector gives its domain") {
        auto o = load_string(
            "[presence]\npreferred_connector = \"b\"\n[[connector]]\nname = \"a\"\ndomain = \"a.example\"\n"
            "[[connector]]\nname = \"b\"\ndomain = \"b.example\"\n[[user]]\nusername = \"u\"\nextension = \"1001\"\n",
            "x.toml");
        REQUIRE(o.ok());
        CHECK(o.config->resolved_telephony_uri(o.config->users[0]) == "sip:1001@b.example");
    }
    SECTION("an explicit telephony_uri wins; no extension and no URI gives nothing") {
        auto o = load_string(
            "[[connector]]\nname = \"a\"\ndomain = \"a.example\"\n[[user]]\nusername = \"u\"\nextension = \"1\"\n"
            "telephony_uri = \"sip:x@y\"\n[[user]]\nusername = \"v\"\n",
            "x.toml");
        REQUIRE(o.ok());
        CHECK(o.config->resolved_telephony_uri(o.config->users[0]) == "sip:x@y");
        CHECK(o.config->resolved_telephony_uri(o.config->users[1]).empty());
    }
}

TEST_CASE("the effective configuration redacts passwords and round-trips", "[config]") {
    auto o = load_file(PROJECT_SOURCE_DIR "/conf/presenced.toml");
    REQUIRE(o.ok());
    const std::string printed = print_effective(*o.config);
    CHECK(printed.find("secret") == std::string::npos);
    CHECK(printed.find("password                = \"<redacted>\"") != std::string::npos);
    CHECK(printed.find("password                = \"\"") != std::string::npos);
    // What -n -v prints is itself a valid configuration with the same meaning.
    auto again = load_string(printed, "printed.toml");
    for (const auto& e : again.errors) UNSCOPED_INFO(e.str());
    REQUIRE(again.ok());
    CHECK(again.config->connectors.size() == o.config->connectors.size());
    CHECK(again.config->users.size() == o.config->users.size());
    const std::string reprinted = print_effective(*again.config);
    CHECK(reprinted.substr(reprinted.find('\n')) == printed.substr(printed.find('\n')));
}

TEST_CASE("the subscription keys round-trip with values other than the defaults", "[config]") {
    auto o = load_string(
        "[presence]\nretry_min = 7\nretry_max = 70\non_demand_linger = 0\nshutdown_timeout = 0\n"
        "[[connector]]\nname = \"k\"\ntelephony_event = \"presence\"\nsubscribe_rate = 3\nmax_in_flight = 2\n",
        "x.toml");
    REQUIRE(o.ok());
    const std::string printed = print_effective(*o.config);
    CHECK(printed.find("telephony_event         = \"presence\"\n") != std::string::npos);
    CHECK(printed.find("retry_min               = 7\n") != std::string::npos);
    auto again = load_string(printed, "printed.toml");
    for (const auto& e : again.errors) UNSCOPED_INFO(e.str());
    REQUIRE(again.ok());
    const Config& c = *again.config;
    CHECK(c.presence.retry_min == 7);
    CHECK(c.presence.retry_max == 70);
    CHECK(c.presence.on_demand_linger == 0);
    CHECK(c.presence.shutdown_timeout == 0);
    REQUIRE(c.connectors.size() == 1);
    CHECK(c.connectors[0].telephony_event == TelephonyEvent::presence);
    CHECK(c.connectors[0].subscribe_rate == 3);
    CHECK(c.connectors[0].max_in_flight == 2);
}

TEST_CASE("every schema key is accepted where it belongs", "[config]") {
    // known_keys() feeds the man-page contract test; it must match the reader.
    for (const auto& key : known_keys()) {
        const auto dot = key.find('.');
        const std::string table = key.substr(0, dot), name = key.substr(dot + 1);
        std::string text;
        if (table == "connector")
            text = "[[connector]]\nname = \"k\"\n";
        else if (table == "user")
            text = "[[user]]\nusername = \"u\"\n";
        else
            text = "[" + table + "]\n";
        const auto before = errors_of(text);
        text += name + " = [1]\n";
        const auto after = errors_of(text);
        INFO(key);
        // A known key with the wrong type is a type error, never "unknown key".
        REQUIRE(!after.empty());
        CHECK(after.back().find("unknown key") == std::string::npos);
    }
}
