"""7. peer: the same generator, the same N and rate, against presenced and against baresip.

baresip's set-up is bench/peer/baresip_peer.py. Its RSS per subscription is
(RSS with N contacts subscribed − RSS with none) / N, like presenced's; its CPU
per NOTIFY is its CPU between the generator's load_start and load_done markers
over the NOTIFYs answered, like presenced's.
"""

import os
import subprocess
import sys

from . import procs
from .benches import KIB, SLACK_S, gen_load_args, load_deadline, run_load
from .session import Session, WATCHER_CPU, subscribe_deadline

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "peer"))
import baresip_peer  # noqa: E402  (bench/peer/, the scripted set-up)

# baresip without contacts is measured after this long, for its RSS baseline.
PEER_BASE_S = 1.0


def start_baresip(s, n, seconds):
    cfg_dir = baresip_peer.mkcfg(os.path.join(s.dir, "baresip"), n, s.gen.port if s.gen else 9)
    log = open(os.path.join(s.dir, "baresip.log"), "ab")
    s.peer = procs.spawn(baresip_peer.argv(cfg_dir, seconds), cpu=WATCHER_CPU,
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    if s.gen:
        s.gen.watch_pid = s.peer.pid
    return s.peer


def baresip_rss0(bins, cfg):
    with Session(bins, keep=cfg.keep, tag="peer0") as s:
        p = start_baresip(s, 0, PEER_BASE_S + SLACK_S)
        procs.wait_until(lambda: procs.rss_kib(p.pid), SLACK_S, what="baresip running")
        return s.idle_rss(max(PEER_BASE_S, cfg.idle_settle_s))


def _start_watcher(s, who, n, budget):
    if who == "presenced":
        s.start_daemon(n, paced=False, transport="udp")
        return s.daemon.pid
    return start_baresip(s, n, budget).pid


def one_watcher(bins, cfg, who, n, m, rate, rss0_kib):
    """Two sessions: N subscribed and idle (RSS), then N subscribed and M NOTIFYs at rate (CPU).

    The generator starts its load as soon as all are subscribed, so RSS at rest needs its own session.
    """
    out = {}
    with Session(bins, keep=cfg.keep, tag=f"peer-{who}-mem") as s:
        budget = subscribe_deadline(n, False) + cfg.idle_settle_s + 2 * SLACK_S
        s.start_gen(n, max_seconds=budget)
        _start_watcher(s, who, n, budget)
        sub = s.wait_subscribed(n)
        rss = s.idle_rss(cfg.idle_settle_s)
        out["rss_per_subscription"] = ((rss - rss0_kib) * KIB / n, "B")
        out["rss_idle_subscribed"] = (rss / KIB, "MiB")
        out["subscribe_s"] = (sub.get("first_to_last_s"), "s")
        out["notify_retransmissions_subscribe"] = (sub.get("notify_retransmissions"), "NOTIFYs")
    with Session(bins, keep=cfg.keep, tag=f"peer-{who}-load") as s:
        budget = subscribe_deadline(n, False) + load_deadline(m, rate) + 2 * SLACK_S
        s.start_gen(n, max_seconds=budget, extra=gen_load_args(m, rate))
        pid = _start_watcher(s, who, n, budget)
        s.wait_subscribed(n)
        res, _ = run_load(s, m, rate)
        out.update(res)
        if procs.rss_kib(pid) is None:
            raise RuntimeError(f"{who} died during the load; see {s.dir}")
    return out


def peer(bins, cfg, n, m, rate, presenced_rss0_kib):
    """Both watchers in the same run; returns the merged metrics with ratios."""
    b0 = baresip_rss0(bins, cfg)
    pd = one_watcher(bins, cfg, "presenced", n, m, rate, presenced_rss0_kib)
    br = one_watcher(bins, cfg, "baresip", n, m, rate, b0)
    out = {}
    for key in ("cpu_us_per_notify", "rss_per_subscription", "notify_per_s", "retransmissions", "timeouts",
                "rss_after_load", "subscribe_s", "notify_retransmissions_subscribe"):
        for who, res in (("presenced", pd), ("baresip", br)):
            if key in res:
                out[f"{who}.{key}"] = res[key]
    for key in ("cpu_us_per_notify", "rss_per_subscription"):
        a, b = pd.get(key, (None,))[0], br.get(key, (None,))[0]
        out[f"ratio_presenced_over_baresip.{key}"] = (a / b if a is not None and b else None, "×")
    return out
