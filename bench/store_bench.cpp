// Store benchmark (issue 5's figures; the full load generator is issue 6):
//   1. warm start: open a state database of N cached sources, read it, build
//      the presence service for N users and restore them: wall time;
//   2. the NOTIFY path in process: parse + match + 200 + body + model, for M
//      NOTIFYs over N subscriptions, with the store off and on (coalesced
//      writes flushed on libuv's thread pool while the loop runs): CPU time
//      per NOTIFY and the ratio;
//   3. one flush of N dirty rows.
// No sockets: the cost measured is the daemon's own work per NOTIFY, the
// part the store could slow down. Loopback throughput end to end is issue 6.
//
//   store_bench [--users N] [--notifies M] [--smoke]
#include <malloc.h>
#include <sys/resource.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "presence/service.hpp"
#include "store/store.hpp"

using namespace presenced;

namespace {

// who: RUSAGE_THREAD (the loop thread: what limits its throughput) or
// RUSAGE_SELF (the process, the store's worker threads included).
double cpu_seconds(int who) {
    rusage ru{};
    getrusage(who, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string pidf(const std::string& user, bool away) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
           "xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"sip:" +
           user + "@example.com\">\n<tuple id=\"t1\"><status><basic>open</basic></status><contact>sip:" + user +
           "@example.com</contact><note>" + (away ? "Gone home" : "At my desk") +
           "</note></tuple>\n<dm:person id=\"p1\"><rpid:activities>" + (away ? "<rpid:away/>" : "<rpid:unknown/>") +
           "</rpid:activities><dm:note>" + (away ? "Gone home" : "At my desk") +
           "</dm:note></dm:person>\n</presence>\n";
}

std::shared_ptr<const config::Config> make_config(size_t users) {
    std::string text =
        "[sip]\nlisten = \"127.0.0.1:0\"\n[[connector]]\nname = \"pbx\"\nserver = \"127.0.0.1:5070\"\n"
        "uri = \"sip:watcher@example.com\"\nauth_id = \"watcher\"\npassword = \"pw\"\ndomain = \"example.com\"\n"
        "subscribe_rate = 10000\nmax_in_flight = 10000\n";
    for (size_t i = 0; i < users; ++i)
        text += "[[user]]\nusername = \"u" + std::to_string(i) + "\"\nrich_uri = \"sip:u" + std::to_string(i) +
                "@example.com\"\n";
    auto out = config::load_string(text, "bench.toml");
    if (!out.ok()) {
        std::fprintf(stderr, "store_bench: config: %s\n", out.errors.front().str().c_str());
        std::exit(1);
    }
    return out.config;
}

// A presence service whose server answers every SUBSCRIBE at once.
struct Rig {
    ev::VirtualClock clock;
    std::vector<sip::RequestSpec> subscribes;
    presence::Service service;
    store::Store* store = nullptr;

    Rig()
        : service(clock, presence::Service::Network{
                             [](const std::string&) {
                                 sip::Target t;
                                 t.address = *sip::Address::from_ip("127.0.0.1", 5070);
                                 return std::optional<sip::Target>(t);
                             },
                             [this](const sip::RequestSpec& spec, const sip::Target&, const sip::Endpoint::Done& done) {
                                 subscribes.push_back(spec);
                                 const std::string text =
                                     "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKb\r\nFrom: <" +
                                     spec.from_uri + ">;tag=" + spec.from_tag + "\r\nTo: <" + spec.to_uri +
                                     ">;tag=srv\r\nCall-ID: " + spec.call_id +
                                     "\r\nCSeq: " + std::to_string(spec.cseq) +
                                     " SUBSCRIBE\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n";
                                 auto m = sip::Message::parse(text);
                                 done(sip::ClientOutcome::response, &*m);
                             },
                             [](const sip::Target&) { return std::string("<sip:presenced@127.0.0.1:5060>"); },
                             [this](presence::CachedSource c) {
                                 if (store)
                                     store->put_presence(
                                         {std::move(c.username), std::move(c.kind), std::move(c.connector),
                                          std::move(c.state), std::move(c.message), std::move(c.detail),
                                          static_cast<int64_t>(c.received_at), c.last_code, std::move(c.last_reason)});
                             },
                             {}}) {}
};

// The pacer starts 16 SUBSCRIBEs per loop turn, 1 ms apart: virtual time
// runs until every user has one (the server here answers at once).
void subscribe_all(Rig& rig, size_t users) {
    constexpr uint64_t kStepMs = 1;
    constexpr uint64_t kMaxSteps = 10'000'000;
    rig.clock.advance(0);
    for (uint64_t i = 0; rig.subscribes.size() < users && i < kMaxSteps; ++i) rig.clock.advance(kStepMs);
    if (rig.subscribes.size() < users) {
        std::fprintf(stderr, "store_bench: only %zu of %zu subscribed\n", rig.subscribes.size(), users);
        std::exit(1);
    }
}

std::string notify_text(const sip::RequestSpec& s, uint32_t cseq, const std::string& body) {
    return "NOTIFY sip:presenced@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKn" +
           std::to_string(cseq) + "\r\nFrom: <" + s.to_uri + ">;tag=srv\r\nTo: <" + s.from_uri + ">;tag=" + s.from_tag +
           "\r\nCall-ID: " + s.call_id + "\r\nCSeq: " + std::to_string(cseq) +
           " NOTIFY\r\nEvent: presence\r\nSubscription-State: active;expires=3600\r\nMax-Forwards: 70\r\n"
           "Content-Type: application/pidf+xml\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

struct PerNotify {
    double loop_us = 0;     // CPU of the loop thread
    double process_us = 0;  // CPU of the process (store worker threads included)
};

// Runs M NOTIFYs through the service; returns CPU microseconds per NOTIFY.
PerNotify notify_run(size_t users, size_t notifies, uv_loop_t* loop, store::Store* store) {
    Rig rig;
    rig.store = store;
    const auto config = make_config(users);
    rig.service.apply(config, presence::Directory::from_config(*config));
    connector::Connector k;
    k.config = *config->find_connector("pbx");
    k.health.status = connector::Status::connected;
    rig.service.connector_changed(k);
    subscribe_all(rig, users);
    // Pre-built messages (two states per user), so the loop measures the daemon, not the generator.
    std::vector<std::string> texts;
    texts.reserve(notifies);
    for (size_t i = 0; i < notifies; ++i) {
        const auto& s = rig.subscribes[i % rig.subscribes.size()];
        texts.push_back(
            notify_text(s, static_cast<uint32_t>(i + 1),
                        pidf(s.to_uri.substr(4, s.to_uri.find('@') - 4), (i / rig.subscribes.size()) % 2 == 0)));
    }
    const double c0 = cpu_seconds(RUSAGE_THREAD), p0 = cpu_seconds(RUSAGE_SELF);
    for (size_t i = 0; i < notifies; ++i) {
        auto m = sip::Message::parse(texts[i]);
        auto answer = rig.service.on_notify(*m);
        if (!answer || answer->code != 200) {
            std::fprintf(stderr, "store_bench: NOTIFY %zu not answered 200\n", i);
            std::exit(1);
        }
        if (answer->after_sent) answer->after_sent();
        if (loop && i % 1000 == 999) uv_run(loop, UV_RUN_NOWAIT);  // the loop runs: flush timers, work done
    }
    if (loop) {  // the writes this run caused, so the process figure includes them
        bool flushed = false;
        store->flush([&](const util::Status&) { flushed = true; });
        while (!flushed) uv_run(loop, UV_RUN_ONCE);
    }
    const double c1 = cpu_seconds(RUSAGE_THREAD), p1 = cpu_seconds(RUSAGE_SELF);
    const double n = static_cast<double>(notifies);
    return {(c1 - c0) * 1e6 / n, (p1 - p0) * 1e6 / n};
}

// The store's options; two variables for diagnosis: STORE_BENCH_NO_FLUSH
// (written only at the end) and STORE_BENCH_MAX_PENDING.
store::Options options_from_env() {
    store::Options options;
    if (std::getenv("STORE_BENCH_NO_FLUSH")) options = {3'600'000, size_t{1} << 40};
    if (const char* p = std::getenv("STORE_BENCH_MAX_PENDING")) options.max_pending = std::strtoul(p, nullptr, 10);
    return options;
}

// Heap bytes per subscription (mallinfo2: what the allocator hands out, the
// floor of the daemon's RSS per subscription): N users subscribed and
// active, each with one PIDF applied.
double heap_per_subscription(size_t users) {
    const size_t h0 = mallinfo2().uordblks;
    auto rig = std::make_unique<Rig>();
    const auto config = make_config(users);
    rig->service.apply(config, presence::Directory::from_config(*config));
    connector::Connector k;
    k.config = *config->find_connector("pbx");
    k.health.status = connector::Status::connected;
    rig->service.connector_changed(k);
    subscribe_all(*rig, users);
    uint32_t cseq = 1;
    for (const auto& s : rig->subscribes) {
        auto m = sip::Message::parse(notify_text(s, cseq++, pidf(s.to_uri.substr(4, s.to_uri.find('@') - 4), true)));
        auto answer = rig->service.on_notify(*m);
        if (answer && answer->after_sent) answer->after_sent();
    }
    rig->subscribes.clear();
    rig->subscribes.shrink_to_fit();
    malloc_trim(0);
    const size_t h1 = mallinfo2().uordblks;
    return static_cast<double>(h1 - h0) / static_cast<double>(users);
}

}  // namespace

int main(int argc, char** argv) {
    size_t users = 10'000, notifies = 200'000;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--smoke") {
            users = 100;
            notifies = 2'000;
        } else if (a == "--users" && i + 1 < argc) {
            users = std::strtoul(argv[++i], nullptr, 10);
        } else if (a == "--notifies" && i + 1 < argc) {
            notifies = std::strtoul(argv[++i], nullptr, 10);
        } else {
            std::fprintf(stderr, "usage: store_bench [--users N] [--notifies M] [--smoke]\n");
            return 2;
        }
    }
    log::configure(log::Level::warn, false);
    const auto dir = std::filesystem::temp_directory_path() / ("store_bench." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string db = (dir / "state.db").string();
    uv_loop_t loop;
    uv_loop_init(&loop);

    // 3 + 1: fill a database with one cached source per user (one flush), then warm start from it.
    double flush_ms = 0;
    {
        auto st = store::Store::open(&loop, db, options_from_env());
        if (!st) {
            std::fprintf(stderr, "store_bench: %s\n", st.error().message.c_str());
            return 1;
        }
        for (size_t i = 0; i < users; ++i) {
            const std::string u = "u" + std::to_string(i);
            (*st)->put_presence({u, "rich", "pbx", "away", "Gone home", "application/pidf+xml\n" + pidf(u, true),
                                 1'800'000'000, 200, "OK"});
        }
        bool flushed = false;
        const double t0 = now_s();
        (*st)->flush([&](const util::Status&) { flushed = true; });
        while (!flushed) uv_run(&loop, UV_RUN_ONCE);
        flush_ms = (now_s() - t0) * 1e3;
        (*st)->close();
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    const auto config = make_config(users);  // parsing the config is not part of the warm start measured
    const double w0 = now_s();
    auto st = store::Store::open(&loop, db, options_from_env());
    auto rows = (*st)->load_presence(false);
    const double w_read = now_s();
    std::vector<presence::CachedSource> cached;
    cached.reserve(rows->size());
    for (auto& r : *rows)
        cached.push_back({r.username, r.kind, r.connector, r.state, r.message, r.detail,
                          static_cast<std::time_t>(r.received_at), r.last_code, r.last_reason});
    ev::VirtualClock clock;
    presence::Service warm(clock, {});
    warm.apply(config, presence::Directory::from_config(*config));
    const double w_apply = now_s();
    warm.restore(cached, 1'800'000'060);
    const double w_restore = now_s();
    const double warm_ms = (now_s() - w0) * 1e3;
    const auto shown = warm.user_view("u0");

    // 2: the NOTIFY path with the store off, then on.
    const PerNotify off = notify_run(users, notifies, nullptr, nullptr);
    const PerNotify on = notify_run(users, notifies, &loop, st->get());
    const auto stats = (*st)->stats();
    const double heap_sub = heap_per_subscription(users);
    (*st)->close();
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    std::filesystem::remove_all(dir);

    std::printf("store_bench: %zu users, %zu NOTIFYs (1.2 KB PIDF each)\n", users, notifies);
    std::printf("%-46s %12s\n", "measure", "value");
    std::printf("%-46s %9.1f ms\n", "flush of N dirty rows (one transaction)", flush_ms);
    std::printf("%-46s %9.1f ms\n", "warm start: open + read + restore N users", warm_ms);
    std::printf("%-46s %9.1f ms\n", "  open + read", (w_read - w0) * 1e3);
    std::printf("%-46s %9.1f ms\n", "  users and subscriptions (apply)", (w_apply - w_read) * 1e3);
    std::printf("%-46s %9.1f ms\n", "  restore", (w_restore - w_apply) * 1e3);
    std::printf("%-46s %12s\n", "  u0 after warm start",
                shown ? (shown->rich.state + (shown->rich.stale ? " (stale)" : "")).c_str() : "?");
    std::printf("%-46s %9.2f us\n", "NOTIFY loop-thread CPU, store off", off.loop_us);
    std::printf("%-46s %9.2f us\n", "NOTIFY loop-thread CPU, store on", on.loop_us);
    std::printf("%-46s %9.1f %%\n", "  loop throughput cost of the store", (on.loop_us / off.loop_us - 1) * 100);
    std::printf("%-46s %9.2f us\n", "NOTIFY process CPU, store off", off.process_us);
    std::printf("%-46s %9.2f us\n", "NOTIFY process CPU, store on (with writes)", on.process_us);
    std::printf("%-46s %12llu\n", "rows written (coalesced) for the NOTIFYs",
                static_cast<unsigned long long>(stats.rows_written));
    std::printf("%-46s %12llu\n", "flushes", static_cast<unsigned long long>(stats.flushes));
    std::printf("%-46s %9.0f B\n", "heap per active subscription (config included)", heap_sub);
    return shown && shown->rich.state == "away" ? 0 : 1;
}
