"""One measured session: a load generator on CPU 0 and one watcher on CPU 1.

A Session owns a temporary run directory and everything it starts; leaving
the `with` block stops the watcher first (so its un-SUBSCRIBEs are answered)
and then the generator, by PID, whatever happened inside.
"""

import os
import shutil
import tempfile
import threading
import time

from . import daemon as dmn
from . import procs
from .loadgen import Loadgen

GEN_CPU = 0
WATCHER_CPU = 1
# Deadline slack on top of what a phase should take.
SLACK_S = 30.0
# Worst rate we still wait for when subscribing with pacing off, per second.
MIN_NOPACE_RATE = 500.0
# Sampling period of the watcher during a load (CPU, RSS, NOTIFYs received).
SAMPLE_PERIOD_S = 0.2
PEER_STOP_S = 3.0


def subscribe_deadline(n, paced):
    rate = dmn.PACING_DEFAULT_RATE if paced else MIN_NOPACE_RATE
    return SLACK_S + 2.0 * n / rate


class Session:
    def __init__(self, bins, keep=False, tag="run"):
        self.bins, self.keep = bins, keep
        self.dir = tempfile.mkdtemp(prefix=f"presenced-bench-{tag}-")
        self.gen = None
        self.daemon = None
        self.peer = None  # a Popen of baresip, when the watcher is the peer
        self.samples = []
        self._sampler = None
        self._stop_sampling = threading.Event()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stop_sampling.set()
        try:
            if self.daemon is not None:
                self.daemon.stop()
            if self.peer is not None:
                # baresip waits for its un-SUBSCRIBEs' NOTIFYs before it quits; nothing is measured
                # then, so it gets a short grace before SIGKILL.
                procs.stop(self.peer, term_timeout=PEER_STOP_S)
        finally:
            if self.gen is not None:
                self.gen.stop()
            if not self.keep and exc[0] is None:
                shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def start_gen(self, expect, max_seconds, extra=(), paced=False):
        """The generator serves until max_seconds (--hold) or our SIGTERM, whichever comes first:
        idle, memory and un-SUBSCRIBE phases need it answering after its load phase."""
        self.gen = Loadgen(self.bins["loadgen"], self.dir, cpu=GEN_CPU)
        extra = list(extra) + ["--subscribe-timeout", int(subscribe_deadline(expect, paced)),
                               "--hold", int(max_seconds)]
        self.gen.start(expect, max_seconds=max_seconds, extra=extra)
        return self.gen

    def wait_subscribed(self, n, paced=False):
        ev = self.gen.wait("subscribed", subscribe_deadline(n, paced) + SLACK_S)
        if ev.get("timeout") or ev.get("active", n) < n:
            raise RuntimeError(f"only {ev.get('active')} of {n} subscriptions active by the deadline")
        return ev

    def start_daemon(self, n_users, paced=True, store=True, transport="udp", expires=3600,
                     shutdown_timeout=dmn.SHUTDOWN_TIMEOUT_S, port=None, list_uri=None):
        csv = os.path.join(self.dir, "users.csv")
        dmn.write_users_csv(csv, n_users)
        cfg, sock, db = dmn.write_config(self.dir, port if port else self.gen.port, csv, transport=transport,
                                         pacing=paced, store=store, expires=expires,
                                         shutdown_timeout=shutdown_timeout, list_uri=list_uri)
        self.db = db
        self.daemon = dmn.Daemon(self.bins["presenced"], cfg, sock, self.dir, cpu=WATCHER_CPU)
        self.daemon.start()
        if self.gen is not None:
            self.gen.watch_pid = self.daemon.pid
        self.daemon.wait_ready()
        return self.daemon

    def db_bytes(self):
        return sum(os.path.getsize(p) for p in (self.db, self.db + "-wal") if p and os.path.exists(p))

    # Periodic samples of the daemon: wall time, CPU, RSS and the NOTIFYs it received,
    # from which the first and last thirds of a long load are compared.
    def start_sampling(self):
        self._stop_sampling.clear()
        self.samples = []

        def loop():
            while not self._stop_sampling.is_set():
                s = self.daemon.sample()
                try:
                    s["received"] = self.daemon.requests_received()
                except (OSError, RuntimeError, ValueError):
                    s["received"] = None
                self.samples.append(s)
                self._stop_sampling.wait(SAMPLE_PERIOD_S)
        self._sampler = threading.Thread(target=loop, daemon=True)
        self._sampler.start()

    def stop_sampling(self):
        self._stop_sampling.set()
        if self._sampler:
            self._sampler.join(timeout=5)
        return self.samples

    def idle_rss(self, settle_s):
        """RSS in KiB of the watcher after settle_s seconds without load."""
        time.sleep(settle_s)
        pid = self.daemon.pid if self.daemon else self.peer.pid
        return procs.rss_kib(pid)


def thirds(samples, total):
    """CPU µs per NOTIFY and RSS over the first and last third of a load of `total` NOTIFYs.

    Uses the daemon's own count of requests received (status), sampled with its CPU.
    """
    pts = [s for s in samples if s.get("received") is not None and s.get("cpu_s") is not None]
    if len(pts) < 4 or total <= 0:
        return {}
    base = pts[0]["received"]

    def at(frac):
        target = base + frac * total
        return min(pts, key=lambda s: abs(s["received"] - target))

    out = {}
    for name, a, b in (("first_third", 0.0, 1 / 3), ("last_third", 2 / 3, 1.0)):
        s0, s1 = at(a), at(b)
        n = s1["received"] - s0["received"]
        if n > 0:
            out[f"cpu_us_per_notify_{name}"] = ((s1["cpu_s"] - s0["cpu_s"]) / n * 1e6, "µs")
            out[f"rss_end_{name}"] = (s1["rss_kib"] / 1024.0, "MiB")
    return out


def cpu_between(ev0, ev1):
    """Watcher CPU seconds between two generator markers, and the wall time."""
    w0, w1 = ev0.get("_watcher"), ev1.get("_watcher")
    if not w0 or not w1 or w0["cpu_s"] is None or w1["cpu_s"] is None:
        return None, None
    return w1["cpu_s"] - w0["cpu_s"], w1["t"] - w0["t"]
