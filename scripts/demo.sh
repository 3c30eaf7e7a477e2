#!/usr/bin/env bash
# `make demo`: run presenced against a local Kamailio presence server
# (scripts/kamailio/, digest auth, loopback only, free port), publish a few
# states, and show what presencectl reports.
#
# Usage: demo.sh BUILD_DIR
#   BUILD_DIR/bin/presenced and BUILD_DIR/bin/presencectl must exist.
#   Everything goes to BUILD_DIR/demo/: kamailio/ (fixture, fresh each run),
#   presenced.toml (from scripts/demo.toml.in), presenced.log, presenced.pid,
#   state.db, the control socket presenced.sock.
#   Interactive: waits after showing; Ctrl-C (or `make demo-stop`, i.e.
#   scripts/demo-stop.sh BUILD_DIR) stops presenced and Kamailio, exit 0.
#   DEMO_NONINTERACTIVE=1: stop everything right after showing, exit 0.
#   Exit 1 if something fails to start or the daemon dies.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -ne 1 ]; then
    echo "usage: demo.sh BUILD_DIR" >&2
    exit 2
fi
[ -d "$1" ] || { echo "demo.sh: no build directory $1 (run make first)" >&2; exit 1; }
BUILD=$(cd "$1" && pwd)
PRESENCED="$BUILD/bin/presenced"
PRESENCECTL="$BUILD/bin/presencectl"
DEMO="$BUILD/demo"
KDIR="$DEMO/kamailio"
CONF="$DEMO/presenced.toml"
LOG="$DEMO/presenced.log"
PIDFILE="$DEMO/presenced.pid"
STATE_DB="$DEMO/state.db"
START_TIMEOUT=15
STOP_TIMEOUT=10

for bin in "$PRESENCED" "$PRESENCECTL"; do
    [ -x "$bin" ] || { echo "demo.sh: $bin is missing (build first: make build)" >&2; exit 1; }
done

# a previous demo still running? stop it first
"$HERE/demo-stop.sh" "$BUILD" >/dev/null 2>&1 || true
mkdir -p "$DEMO"
rm -rf "$KDIR"
rm -f "$STATE_DB" "$STATE_DB-wal" "$STATE_DB-shm" "$STATE_DB-journal" "$PIDFILE" "$DEMO/socket-dir"

# Unix socket paths are limited to 107 bytes: use a temp dir if BUILD is deep
SOCK="$DEMO/presenced.sock"
SOCKDIR=""
if [ ${#SOCK} -gt 100 ]; then
    SOCKDIR=$(mktemp -d "${TMPDIR:-/tmp}/presenced-demo.XXXXXX")
    SOCK="$SOCKDIR/presenced.sock"
    echo "$SOCKDIR" >"$DEMO/socket-dir"
fi
rm -f "$SOCK"

# true if PID is a live process (zombies count as dead)
alive() {
    local s
    s=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]
}

DAEMON_PID=""
CLEANED=0
stop_presenced() {
    local deadline
    [ -n "$DAEMON_PID" ] || return 0
    if alive "$DAEMON_PID"; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        deadline=$((SECONDS + STOP_TIMEOUT))
        while alive "$DAEMON_PID" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
        if alive "$DAEMON_PID"; then
            echo "demo.sh: presenced (pid $DAEMON_PID) ignored SIGTERM for ${STOP_TIMEOUT}s, SIGKILL" >&2
            kill -KILL "$DAEMON_PID" 2>/dev/null || true
        fi
    fi
    wait "$DAEMON_PID" 2>/dev/null || true   # reap our child (it is dead by now)
    DAEMON_PID=""
    rm -f "$PIDFILE"
}
cleanup() {
    [ "$CLEANED" = 0 ] || return 0
    CLEANED=1
    stop_presenced
    if [ -s "$KDIR/kamailio.pid" ]; then
        "$HERE/kamailio/stop.sh" "$KDIR" 2>/dev/null || "$HERE/kamailio/stop.sh" --kill "$KDIR" 2>/dev/null || true
    fi
    [ -z "$SOCKDIR" ] || rm -rf "$SOCKDIR"
    rm -f "$DEMO/socket-dir" "$DEMO/demo.pid"
}
# shellcheck disable=SC2317  # invoked by the trap below
on_signal() {
    echo
    echo "Stopping the demo..."
    cleanup
    echo "Demo stopped."
    trap - EXIT
    exit 0
}
trap 'rc=$?; cleanup; exit $rc' EXIT
trap on_signal INT TERM
echo $$ >"$DEMO/demo.pid"

heading() { printf '\n===== %s\n' "$*"; }
# ctl ARGS...: run presencectl on the demo socket, report a non-zero exit
ctl() {
    local rc=0
    "$PRESENCECTL" -s "$SOCK" "$@" || rc=$?
    [ "$rc" = 0 ] || echo "(presencectl $* exited $rc)"
}

# 1. Kamailio fixture
heading "Starting the Kamailio presence fixture (digest auth)"
if ! KENV=$("$HERE/kamailio/start.sh" -d "$KDIR" -m digest --fresh); then
    echo "demo.sh: the Kamailio fixture did not start" >&2
    exit 1
fi
KAMAILIO_PORT=""
eval "$KENV"
echo "Kamailio on 127.0.0.1:$KAMAILIO_PORT (udp+tcp), log $KDIR/kamailio.log"

# 2. presenced
sed_escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
sed -e "s|@SOCKET@|$(sed_escape "$SOCK")|g" \
    -e "s|@STATE_DB@|$(sed_escape "$STATE_DB")|g" \
    -e "s|@PORT@|$(sed_escape "$KAMAILIO_PORT")|g" \
    "$HERE/demo.toml.in" >"$CONF"
if ! "$PRESENCED" -n -f "$CONF" >"$DEMO/config-check.log" 2>&1; then
    echo "demo.sh: presenced rejects $CONF:" >&2
    cat "$DEMO/config-check.log" >&2
    exit 1
fi

heading "Starting presenced"
echo "===== demo.sh $(date '+%F %T')" >>"$LOG"
# own session: a Ctrl-C on the terminal reaches only this script, which
# then stops the daemon itself
setsid "$PRESENCED" -d -f "$CONF" >>"$LOG" 2>&1 </dev/null &
DAEMON_PID=$!
echo "$DAEMON_PID" >"$PIDFILE"
deadline=$((SECONDS + START_TIMEOUT))
ready=0
while [ $SECONDS -lt $deadline ]; do
    if ! alive "$DAEMON_PID"; then
        break
    fi
    if "$PRESENCECTL" -q -s "$SOCK" status >/dev/null 2>&1; then
        ready=1
        break
    fi
    sleep 0.2
done
if [ "$ready" != 1 ]; then
    if alive "$DAEMON_PID"; then
        echo "demo.sh: presenced (pid $DAEMON_PID) did not answer on $SOCK within ${START_TIMEOUT}s; log tail:" >&2
    else
        echo "demo.sh: presenced exited during start-up; log tail:" >&2
    fi
    tail -25 "$LOG" >&2
    exit 1
fi
echo "presenced pid $DAEMON_PID, config $CONF, log $LOG, socket $SOCK"

# 3. publish some states
heading "Publishing states to Kamailio (scripts/publish.sh)"
publish() {
    echo "publish.sh $*"
    "$HERE/publish.sh" -d "$KDIR" "$@" || echo "(publish.sh $* failed; see $KDIR/sipp/)"
}
publish -u alice presence open away "Gone home"
publish -u bob presence open on-the-phone "On the phone"
publish -u alice dialog confirmed initiator

# The connector probes Kamailio (OPTIONS to the service account, answering
# its digest challenge); wait (bounded) until it says connected.
deadline=$((SECONDS + 10))
while [ $SECONDS -lt $deadline ]; do
    if "$PRESENCECTL" -j -s "$SOCK" connectors 2>/dev/null | grep -q '"status": "connected"'; then
        break
    fi
    sleep 0.2
done
# Subscriptions are not there yet: the daemon does not subscribe, so the
# states published above are not shown and users read "unknown".
echo "(presenced probes its connectors but does not subscribe yet: states show as unknown)"

# 4. show
heading "presencectl -s $SOCK status"
ctl status
heading "presencectl -s $SOCK connectors"
ctl connectors
heading "presencectl -s $SOCK users"
ctl users
heading "presencectl -s $SOCK -j users | python3 -m json.tool | head -40"
{ "$PRESENCECTL" -s "$SOCK" -j users | python3 -m json.tool | head -40; } || true

if [ "${DEMO_NONINTERACTIVE:-0}" = 1 ]; then
    echo
    echo "DEMO_NONINTERACTIVE=1: stopping the demo."
    cleanup
    trap - EXIT
    echo "Demo stopped."
    exit 0
fi

# 5. keep running until Ctrl-C / SIGTERM (make demo-stop) or the daemon dies
echo
echo "Demo running. Ctrl-C (or make demo-stop) stops it."
echo "Try: $PRESENCECTL -s $SOCK users"
echo "     $HERE/publish.sh -d $KDIR -u carol presence open busy \"In a meeting\""
while alive "$DAEMON_PID"; do
    sleep 1
done
echo "demo.sh: presenced (pid $DAEMON_PID) died; log tail:" >&2
tail -25 "$LOG" >&2
exit 1
