"""The benchmarks of issue 6. Each case function does one run and returns its metrics.

A metric is name -> (value, unit). The harness calls a case --runs times and
reports median (min–max). Every wait has a deadline (Session, Loadgen, Daemon).
"""

import time

from . import daemon as dmn
from . import procs
from .session import Session, cpu_between, subscribe_deadline, thirds, SLACK_S

KIB = 1024.0
# Offered NOTIFY rate of the latency benchmark (issue 6: at 10,000 NOTIFY/s).
LATENCY_RATE = 10000
# NOTIFYs the generator may still have outstanding when not pacing by rate.
WINDOW = 256
# How long a load may run at worst, NOTIFYs per second we still wait for.
MIN_LOAD_RATE = 2000.0


def load_deadline(m, rate=0):
    return SLACK_S + m / (rate if rate else MIN_LOAD_RATE)


def gen_load_args(m, rate=0, body="pidf"):
    args = ["--notifies", m, "--window", WINDOW, "--body", body,
            "--duration", int(load_deadline(m, rate))]
    if rate:
        args += ["--rate", rate]
    return args


def run_load(s, m, rate=0):
    """Wait for a load the generator started after 'subscribed'; the daemon's cost of it."""
    g = s.gen
    start = g.wait("load_start", SLACK_S)
    done = g.wait("load_done", load_deadline(m, rate))
    cpu, wall = cpu_between(start, done)
    answered = done.get("answered", 0)
    out = {
        "notify_per_s": (answered / done["seconds"] if done.get("seconds") else None, "NOTIFY/s"),
        "answered": (answered, "NOTIFYs"),
        "sent": (done.get("sent"), "NOTIFYs"),
        "retransmissions": (done.get("retransmissions"), "NOTIFYs"),
        "timeouts": (done.get("timeouts"), "NOTIFYs"),
    }
    if cpu is not None and answered:
        out["cpu_us_per_notify"] = (cpu / answered * 1e6, "µs")
        out["cpu_s_per_1000_notify"] = (cpu / answered * 1000, "CPU s")
        out["cpu_share"] = (100.0 * cpu / wall if wall else None, "% of a core")
    out["rss_after_load"] = (done["_watcher"]["rss_kib"] / KIB if done.get("_watcher") else None, "MiB")
    return out, done


# 1. subscribe ---------------------------------------------------------------------------------

def subscribe(bins, cfg, n, paced):
    with Session(bins, keep=cfg.keep, tag="sub") as s:
        s.start_gen(n, max_seconds=subscribe_deadline(n, paced) + 2 * SLACK_S, paced=paced)
        d = s.start_daemon(n, paced=paced, transport=cfg.transport)
        ev = s.wait_subscribed(n, paced)
        active = d.subscriptions().get("active", 0)
        out = {
            "all_active_s": (ev["_t"] - d.exec_t, "s from exec"),
            "gen_first_to_last_s": (ev.get("first_to_last_s"), "s"),
            "gen_max_per_second": (ev.get("max_per_second"), "SUBSCRIBE/s"),
            "subscribe_retransmissions": (ev.get("subscribe_retransmissions"), "SUBSCRIBEs"),
            "notify_retransmissions": (ev.get("notify_retransmissions"), "NOTIFYs"),
            "not_active": (n - active, "subscriptions"),
        }
        if paced:
            out["predicted_s"] = (n / dmn.PACING_DEFAULT_RATE, f"s (N / {dmn.PACING_DEFAULT_RATE} per s)")
        return out


# 2. throughput --------------------------------------------------------------------------------

def throughput(bins, cfg, n, m, store):
    with Session(bins, keep=cfg.keep, tag="tput") as s:
        s.start_gen(n, max_seconds=subscribe_deadline(n, False) + load_deadline(m) + 2 * SLACK_S,
                    extra=gen_load_args(m))
        s.start_daemon(n, paced=False, store=store, transport=cfg.transport)
        s.wait_subscribed(n)
        s.start_sampling()
        out, _ = run_load(s, m)
        samples = s.stop_sampling()
        out.update(thirds(samples, out["answered"][0]))
        return out


# 3. latency -----------------------------------------------------------------------------------

def latency(bins, cfg, n, m):
    with Session(bins, keep=cfg.keep, tag="lat") as s:
        sock = f"{s.dir}/presenced.sock"
        s.start_gen(n, max_seconds=subscribe_deadline(n, False) + load_deadline(m, LATENCY_RATE) + 2 * SLACK_S,
                    extra=gen_load_args(m, LATENCY_RATE) + ["--watch", sock])
        s.start_daemon(n, paced=False, transport=cfg.transport)
        s.wait_subscribed(n)
        out, _ = run_load(s, m, LATENCY_RATE)
        lat = s.gen.wait("latency", SLACK_S)
        res = {
            "p50": (lat.get("p50_us"), "µs"), "p99": (lat.get("p99_us"), "µs"), "max": (lat.get("max_us"), "µs"),
            "events": (lat.get("count"), "watch events"),
        }
        for k in ("notify_per_s", "cpu_us_per_notify", "retransmissions", "timeouts"):
            res[k] = out[k]
        return res


# 4. memory ------------------------------------------------------------------------------------

def rss_idle(bins, cfg):
    """RSS of a daemon with 0 users, its connector probing a live generator."""
    with Session(bins, keep=cfg.keep, tag="mem0") as s:
        s.start_gen(0, max_seconds=cfg.idle_settle_s + 2 * SLACK_S)
        s.start_daemon(0, transport=cfg.transport)
        return s.idle_rss(cfg.idle_settle_s)


def memory(bins, cfg, n, rss0_kib):
    with Session(bins, keep=cfg.keep, tag="mem") as s:
        s.start_gen(n, max_seconds=subscribe_deadline(n, False) + cfg.idle_settle_s + 2 * SLACK_S)
        s.start_daemon(n, paced=False, transport=cfg.transport)
        s.wait_subscribed(n)
        rss = s.idle_rss(cfg.idle_settle_s)
        db = s.db_bytes()
        return {
            "rss_per_subscription": ((rss - rss0_kib) * KIB / n, "B"),
            "rss_total": (rss / KIB, "MiB"),
            "rss_idle_0_users": (rss0_kib / KIB, "MiB"),
            "db_bytes_per_user": (db / n, "B (state.db + -wal)"),
        }


# 5. warm start --------------------------------------------------------------------------------

class WarmStart:
    """First run fills the cache (subscribe, one NOTIFY each, clean stop); each measure re-execs."""

    def __init__(self, bins, cfg, n):
        self.bins, self.cfg, self.n = bins, cfg, n
        self.session = None

    def prepare(self):
        n = self.n
        s = Session(self.bins, keep=self.cfg.keep, tag="warm")
        self.session = s
        s.start_gen(n, max_seconds=subscribe_deadline(n, False) + load_deadline(n) + 2 * SLACK_S,
                    extra=gen_load_args(n))
        d = s.start_daemon(n, paced=False, transport=self.cfg.transport)
        s.wait_subscribed(n)
        s.gen.wait("load_done", load_deadline(n))
        time.sleep(2 * dmn.FLUSH_INTERVAL_S)  # let the write-behind flush the last states
        self.db_bytes = s.db_bytes()
        d.stop()
        s.gen.stop()
        s.gen = None
        self.config, self.sock = d.config, d.sock

    def measure(self):
        s = self.session
        d = dmn.Daemon(self.bins["presenced"], self.config, self.sock, s.dir, cpu=1)
        s.daemon = d
        d.start()
        end = d.exec_t + dmn.START_DEADLINE_S
        while True:
            try:
                res = dmn.control(self.sock, "users", timeout=dmn.START_DEADLINE_S)
                break
            except (OSError, ConnectionError, ValueError):
                if time.monotonic() > end or not d.alive():
                    raise TimeoutError("warm start: no answer to users before the deadline")
                time.sleep(dmn.POLL_S)
        first = time.monotonic() - d.exec_t
        users = res.get("users", [])
        cached = sum(1 for u in users if u.get("rich", {}).get("state") not in (None, "unknown"))
        d.stop()
        s.daemon = None
        return {
            "exec_to_first_users_answer": (first * 1000, "ms"),
            "users_in_answer": (len(users), "users"),
            "users_with_cached_state": (cached, "users"),
            "db_bytes_per_user": (self.db_bytes / self.n, "B (state.db + -wal)"),
        }

    def close(self):
        if self.session:
            self.session.__exit__(None, None, None)


# 6. idle --------------------------------------------------------------------------------------

def idle(bins, cfg, n, seconds):
    with Session(bins, keep=cfg.keep, tag="idle") as s:
        s.start_gen(n, max_seconds=subscribe_deadline(n, False) + seconds + 3 * SLACK_S,
                    extra=["--expires", 3600])
        d = s.start_daemon(n, paced=False, transport=cfg.transport, expires=3600)
        s.wait_subscribed(n)
        time.sleep(cfg.idle_settle_s)
        a = d.sample()
        r0 = d.requests_received()
        time.sleep(seconds)
        b = d.sample()
        r1 = d.requests_received()
        cpu = b["cpu_s"] - a["cpu_s"]
        return {
            "cpu_s": (cpu, f"CPU s over {b['t'] - a['t']:.0f} s"),
            "cpu_share": (100.0 * cpu / (b["t"] - a["t"]), "% of a core"),
            "requests_received": (r1 - r0, "SIP requests"),
            "rss": (b["rss_kib"] / KIB, "MiB"),
        }


# 8. list vs individual ------------------------------------------------------------------------

# The list the generator serves (presence_loadgen --list) and the daemon subscribes
# (connector rich_list_uri): every bench user u0..u(N-1) is a member.
LIST_URI = "sip:list@127.0.0.1"
# presenced.toml(5) [presence] expires at its minimum: a refresh comes after ~30 s
# (expires - margin, margin = half of 60 s +/- 5%), so one whole cycle fits in a run.
LIST_EXPIRES = 60
# Period of the generator's `stats` lines (counters polled for the refresh cycle).
STATS_PERIOD_S = 0.2


def sip_messages(msgs):
    """SUBSCRIBE/NOTIFY traffic both ways, retransmissions included; the connector's
    OPTIONS probes and their answers left out."""
    return msgs["total"] - 2 * msgs["in"]["OPTIONS"]


def list_row(bins, cfg, n, use_list, refresh_cycle=True):
    """Subscribe time and SIP messages of the initial subscribe and of one refresh cycle,
    with one list subscription (RFC 4662) or N individual ones; pacing off for both."""
    with Session(bins, keep=cfg.keep, tag="list" if use_list else "indiv") as s:
        extra = ["--stats", STATS_PERIOD_S, "--expires", LIST_EXPIRES]
        if use_list:
            extra += ["--list", LIST_URI, "--list-members", n]
        budget = subscribe_deadline(n, False) + (LIST_EXPIRES + SLACK_S if refresh_cycle else 0) + 2 * SLACK_S
        s.start_gen(n, max_seconds=budget, extra=extra)
        d = s.start_daemon(n, paced=False, transport=cfg.transport, expires=LIST_EXPIRES,
                           list_uri=LIST_URI if use_list else None)
        ev = s.wait_subscribed(n)
        msgs0 = ev["messages"]
        out = {
            "all_known_s": (ev["_t"] - d.exec_t, "s from exec"),
            "initial_sip_messages": (sip_messages(msgs0), "messages"),
            "initial_notify_kib": (msgs0["out"]["NOTIFY_bytes"] / KIB, "KiB"),
            "subscribe_retransmissions": (ev.get("subscribe_retransmissions"), "SUBSCRIBEs"),
            "notify_retransmissions": (ev.get("notify_retransmissions"), "NOTIFYs"),
        }
        # A refresh before every user is known is the daemon asking for the full state again
        # (a refused list NOTIFY or a version gap): its messages are in initial_sip_messages.
        refreshes0 = ev.get("refreshes", 0)
        out["refreshes_before_known"] = (refreshes0, "SUBSCRIBEs")
        if use_list:
            lst = ev.get("list", {})
            out["list_notifies_initial"] = (lst.get("full_state_notifies", 0) + lst.get("partial_notifies", 0),
                                            "NOTIFYs")
        if refresh_cycle:
            # Every dialog refreshed once (N, or the one list dialog) and nothing outstanding:
            # the messages since `subscribed` are one refresh cycle.
            dialogs = 1 if use_list else n

            def cycle_done():
                st = s.gen.events.get("stats")
                if st is None or st["_t"] <= ev["_t"]:
                    return None
                if not d.alive():
                    raise RuntimeError(f"presenced exited; see {d.log_path}")
                queued = st.get("list", {}).get("queued", 0)
                done = st["refreshes"] - refreshes0 >= dialogs and st["outstanding"] == 0 and queued == 0
                return st if done else None

            st = procs.wait_until(cycle_done, LIST_EXPIRES + SLACK_S, interval=STATS_PERIOD_S,
                                  what=f"one refresh of {dialogs} subscription(s)")
            msgs1 = st["messages"]
            out["refresh_cycle_sip_messages"] = (sip_messages(msgs1) - sip_messages(msgs0), "messages")
            out["refresh_cycle_notify_kib"] = (
                (msgs1["out"]["NOTIFY_bytes"] - msgs0["out"]["NOTIFY_bytes"]) / KIB, "KiB")
            out["refreshes"] = (st["refreshes"] - refreshes0, "SUBSCRIBEs in the cycle")
            out["new_dialogs"] = (st["new_dialogs"], "dialogs (list + individual)")
        users = d.request("users").get("users", [])
        out["users_unknown"] = (sum(1 for u in users if u.get("rich", {}).get("state") in (None, "unknown")),
                                "users")
        return out
