#!/usr/bin/env python3
"""baresip as a peer presence watcher for the benchmarks (issue 6, bench/bench.py row "peer").

baresip (Debian baresip-core, installed by `scripts/install-deps.sh --peer`)
runs headless: its config loads account.so, contact.so and presence.so only,
no audio, video or UI module. The presence module sends one SUBSCRIBE
(Event: presence) for each contacts entry tagged ;presence=p2p, straight to
the contact's URI, from the first account; so pointing every contact at the
load generator (<sip:uN@127.0.0.1:GENPORT>) makes baresip watch N presentities
served by the same generator that presenced is measured against.
baresip quits by itself after -t seconds, so even a lost PID cannot leave it
running past that bound.

Stand-alone use (the harness imports the same functions):
  baresip_peer.py mkcfg DIR N GENPORT        write DIR/config, accounts, contacts
  baresip_peer.py run DIR SECONDS [CPU]      run baresip -f DIR for at most SECONDS
"""

import os
import subprocess
import sys

BARESIP = "/usr/bin/baresip"
MODULE_DIR = "/usr/lib/baresip/modules"
# Only what a presence watcher needs: the account, the contact list, the presence module.
MODULES = ("account.so", "contact.so", "presence.so")
# Extra seconds of -t beyond what the caller plans, so baresip never quits mid-measure.
QUIT_MARGIN_S = 30


def available():
    return os.access(BARESIP, os.X_OK) and all(
        os.path.exists(os.path.join(MODULE_DIR, m)) for m in MODULES)


def mkcfg(cfg_dir, n, genport):
    """Write a baresip config dir watching n contacts u0..u(n-1) at 127.0.0.1:genport."""
    os.makedirs(cfg_dir, exist_ok=True)
    config = [
        "poll_method epoll",
        "sip_listen 127.0.0.1:0",
        # No audio/video: nothing is ever called, and there are no such modules loaded.
        "call_max_calls 1",
        f"module_path {MODULE_DIR}",
    ] + [f"module {m}" for m in MODULES] + [""]
    with open(os.path.join(cfg_dir, "config"), "w") as f:
        f.write("\n".join(config))
    with open(os.path.join(cfg_dir, "accounts"), "w") as f:
        # regint=0: no REGISTER; pubint=0: no PUBLISH; only the watcher's SUBSCRIBEs.
        f.write("<sip:bench@127.0.0.1>;regint=0;pubint=0\n")
    with open(os.path.join(cfg_dir, "contacts"), "w") as f:
        for i in range(n):
            f.write(f'"u{i}" <sip:u{i}@127.0.0.1:{genport}>;presence=p2p\n')
    return cfg_dir


def argv(cfg_dir, seconds):
    return [BARESIP, "-f", cfg_dir, "-t", str(int(seconds) + QUIT_MARGIN_S)]


def main(args):
    if len(args) == 4 and args[0] == "mkcfg":
        mkcfg(args[1], int(args[2]), int(args[3]))
        return 0
    if len(args) in (3, 4) and args[0] == "run":
        cmd = argv(args[1], int(args[2]))
        if len(args) == 4:
            cmd = ["taskset", "-c", args[3]] + cmd
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, timeout=int(args[2]) + 2 * QUIT_MARGIN_S).returncode
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
