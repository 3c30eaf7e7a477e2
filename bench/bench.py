#!/usr/bin/env python3
"""Benchmarks of presenced (issue 6): subscribe, throughput, latency, memory, warm start, idle, peer, list.

  python3 bench/bench.py --build-dir BUILD [--runs K] [--only NAME,...] [--json FILE] [--smoke]

Each case runs --runs times; the table shows median (min–max). The daemon runs
on CPU 1 and the load generator (BUILD/bin/presence_loadgen) on CPU 0, both on
loopback; everything started is stopped by PID. --smoke runs every benchmark
at tiny sizes and fails (exit 1) when a row produced no number: it checks the
harness, never the figures. See bench/README.md.
"""

import argparse
import json
import os
import sys
import time
import traceback

sys.dont_write_bytecode = True  # run from the source tree: leave no __pycache__ in it
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import benches, procs  # noqa: E402
from benchlib import daemon as dmn  # noqa: E402
from benchlib.report import Row, dump_json, table  # noqa: E402

BENCHES = ("subscribe", "throughput", "latency", "memory", "warm", "idle", "peer", "list")

# Sizes of the full run (issue 6) and of --smoke (tiny: the whole smoke in about 30 s).
FULL = dict(sub_sizes=(1000, 10000), tput_sizes=(10000, 100000), tput_notifies=300000,
            lat_n=10000, lat_notifies=100000, mem_sizes=(10000, 100000), warm_n=100000,
            idle_n=100000, idle_s=60, settle_s=3.0, peer_n=1000, peer_notifies=10000, peer_rate=5000,
            paced_max_runs=1, list_sizes=(10000,), list_refresh=True)
SMOKE = dict(sub_sizes=(50,), tput_sizes=(50,), tput_notifies=300, lat_n=50, lat_notifies=300,
             mem_sizes=(50,), warm_n=1000, idle_n=50, idle_s=1, settle_s=0.5, peer_n=50, peer_notifies=300,
             peer_rate=1000, paced_max_runs=1, list_sizes=(50,), list_refresh=False)
# A paced subscribe of 10,000 users takes 200 s at the default 50/s; it runs at most
# paced_max_runs times (the table's n column says how many).
PACED_SLOW_N = 5000


def k(n):
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def find_bins(build_dir):
    bins = {name: os.path.join(build_dir, "bin", exe) for name, exe in
            (("presenced", "presenced"), ("presencectl", "presencectl"), ("loadgen", "presence_loadgen"))}
    missing = [p for p in bins.values() if not os.access(p, os.X_OK)]
    return bins, missing


def store_off_supported(bins):
    import tempfile
    with tempfile.TemporaryDirectory(prefix="presenced-bench-chk-") as d:
        cfg, _, _ = dmn.write_config(d, 5060, None, store=False)
        return dmn.check_config(bins["presenced"], cfg)


def run_case(row, runs, fn, log):
    for i in range(runs):
        t0 = time.monotonic()
        try:
            metrics = fn()
        except Exception as e:  # one failed run fails the row, not the whole harness
            row.error = f"{type(e).__name__}: {e}"
            log(f"  run {i + 1}/{runs} FAILED: {row.error}")
            if os.environ.get("BENCH_DEBUG"):
                traceback.print_exc()
            continue
        row.add_run(metrics)
        log(f"  run {i + 1}/{runs} done in {time.monotonic() - t0:.1f} s")


def plan(args, sz, bins):
    """(bench, case, note, runs, fn) for every case selected."""
    cases = []
    R = args.runs
    rss0 = {}  # the 0-user RSS of this run, shared by memory and peer

    def get_rss0():
        if "kib" not in rss0:
            rss0["kib"] = benches.rss_idle(bins, args)
        return rss0["kib"]

    for n in sz["sub_sizes"]:
        for paced in (True, False):
            runs = min(R, sz["paced_max_runs"]) if paced and n >= PACED_SLOW_N else R
            note = f"default pacing {dmn.PACING_DEFAULT_RATE}/s predicts N/{dmn.PACING_DEFAULT_RATE} s" if paced else ""
            cases.append(("subscribe", f"N={k(n)} pacing={'default' if paced else 'off'}", note, runs,
                          lambda n=n, p=paced: benches.subscribe(bins, args, n, p)))
    ok_off, why_off = store_off_supported(bins)
    for n in sz["tput_sizes"]:
        for store in (True, False):
            case = f"N={k(n)} store={'on' if store else 'off'} M={k(sz['tput_notifies'])}"
            if not store and not ok_off:
                cases.append(("throughput", case, "store off needs state_db = \"\", which this presenced refuses: " + why_off.split(": ", 1)[-1], 0, None))
                continue
            cases.append(("throughput", case, "", R,
                          lambda n=n, s=store: benches.throughput(bins, args, n, sz["tput_notifies"], s)))
    cases.append(("latency", f"N={k(sz['lat_n'])} rate={benches.LATENCY_RATE}/s", "NOTIFY sent -> watch event", R,
                  lambda: benches.latency(bins, args, sz["lat_n"], sz["lat_notifies"])))
    cases.append(("memory", "idle, 0 users", "", R,
                  lambda: {"rss": (benches.rss_idle(bins, args) / benches.KIB, "MiB")}))
    for n in sz["mem_sizes"]:
        cases.append(("memory", f"N={k(n)}", "RSS delta over a 0-user daemon of the same run", R,
                      lambda n=n: benches.memory(bins, args, n, get_rss0())))
    cases.append(("warm", f"N={k(sz['warm_n'])} cached users", "exec -> first answered users call", R, "warm"))
    cases.append(("idle", f"N={k(sz['idle_n'])} {sz['idle_s']} s", "expires 3600, refreshes spread", R,
                  lambda: benches.idle(bins, args, sz["idle_n"], sz["idle_s"])))
    cases.append(("peer", f"N={k(sz['peer_n'])} M={k(sz['peer_notifies'])} rate={sz['peer_rate']}/s",
                  "baresip 1000 contacts at most: beyond, its subscribe burst overflows its socket buffer "
                  "(perf-limits.md §6: 3000 contacts took 15.6 s and 2,940 retransmissions)", R, "peer"))
    for n in sz["list_sizes"]:
        for use_list in (True, False):
            note = (f"one list subscription (RFC 4662, {benches.LIST_URI}) vs N individual ones; pacing off, "
                    f"expires {benches.LIST_EXPIRES} (refresh after ~30 s)" if use_list else "")
            if not sz["list_refresh"] and use_list:
                note += "; --smoke: no refresh cycle (it takes ~30 s)"
            cases.append(("list", f"N={k(n)} {'list' if use_list else 'individual'}", note, R,
                          lambda n=n, u=use_list: benches.list_row(bins, args, n, u, sz["list_refresh"])))
    return cases, get_rss0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build", help="CMake build dir with bin/presenced, bin/presence_loadgen")
    ap.add_argument("--runs", type=int, default=3, help="runs per case (median, min–max); default 3")
    ap.add_argument("--only", default="", help=f"comma-separated subset of: {','.join(BENCHES)}")
    ap.add_argument("--json", dest="json_file", help="write the table as JSON to this file")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, 1 run: checks the harness, not the figures")
    ap.add_argument("--transport", choices=("udp", "tcp"), default="udp", help="the connector's transport")
    ap.add_argument("--keep", action="store_true", help="keep the run directories (config, logs, database)")
    args = ap.parse_args()
    procs.install_cleanup()
    sz = SMOKE if args.smoke else FULL
    if args.smoke:
        args.runs = 1
    args.idle_settle_s = sz["settle_s"]
    only = [x for x in args.only.split(",") if x]
    bad = [x for x in only if x not in BENCHES]
    if bad:
        ap.error(f"unknown benchmark(s): {','.join(bad)}")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    bins, missing = find_bins(os.path.abspath(args.build_dir))
    if missing:
        log(f"bench: missing {', '.join(missing)}: build the targets presenced presencectl presence_loadgen")
        return 1
    cases, get_rss0 = plan(args, sz, bins)
    rows = []
    t_start = time.monotonic()
    for bench, case, note, runs, fn in cases:
        if only and bench not in only:
            continue
        row = Row(bench, case, note)
        rows.append(row)
        log(f"bench {bench}: {case}")
        if fn is None:
            row.skipped, row.note = note, ""
        elif fn == "warm":
            w = benches.WarmStart(bins, args, sz["warm_n"])
            try:
                w.prepare()
                run_case(row, runs, w.measure, log)
            except Exception as e:
                row.error = f"{type(e).__name__}: {e}"
                log(f"  FAILED: {row.error}")
            finally:
                w.close()
        elif fn == "peer":
            from benchlib import peer
            if not peer.baresip_peer.available():
                row.skipped = "baresip not installed (scripts/install-deps.sh --peer installs baresip-core)"
            else:
                run_case(row, runs, lambda: peer.peer(bins, args, sz["peer_n"], sz["peer_notifies"],
                                                      sz["peer_rate"], get_rss0()), log)
        else:
            run_case(row, runs, fn, log)
        print("BENCH " + json.dumps(row.to_json(), separators=(",", ":")), flush=True)

    print()
    print(table(rows))
    elapsed = time.monotonic() - t_start
    print(f"\n{len(rows)} cases in {elapsed:.0f} s; runs per case: {args.runs}; "
          f"daemon on CPU 1, generator on CPU 0; loopback {args.transport}")
    if args.json_file:
        meta = {"runs": args.runs, "smoke": args.smoke, "transport": args.transport, "seconds": elapsed,
                "uname": " ".join(os.uname()), "loadavg": os.getloadavg()}
        dump_json(args.json_file, meta, rows)
    failed = [f"{r.bench}/{r.case}" for r in rows if not r.ok()]
    if failed:
        log(f"bench: rows without a number: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
