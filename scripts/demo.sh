#!/usr/bin/env bash
# `make demo`: run presenced against a local Kamailio presence server
# (scripts/kamailio/, digest auth, loopback only, free port), publish states
# as the users' phones would (scripts/publish.sh), and show with presencectl
# how presenced follows them live: users, one user in detail, a watch of the
# changes, the connectors with their subscriptions, a forced subscribe, and
# a resource list (RFC 4662) added by a reload.
#
# Usage: demo.sh BUILD_DIR
#   BUILD_DIR/bin/presenced and BUILD_DIR/bin/presencectl must exist.
#   Everything goes to BUILD_DIR/demo/: kamailio/ (fixture, fresh each run),
#   presenced.toml (from scripts/demo.toml.in), presenced.log, presenced.pid,
#   state.db, the control socket presenced.sock.
#   Interactive: waits after showing; Ctrl-C (or `make demo-stop`, i.e.
#   scripts/demo-stop.sh BUILD_DIR) stops presenced and Kamailio, exit 0.
#   DEMO_NONINTERACTIVE=1: stop everything right after showing, exit 0
#   ("Demo stopped."); exit 1 ("Demo ended with errors.") when a state never
#   showed up.
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
WATCH_PID=""
stop_watch() {
    [ -n "$WATCH_PID" ] || return 0
    kill -INT "$WATCH_PID" 2>/dev/null || true
    wait "$WATCH_PID" 2>/dev/null || true
    WATCH_PID=""
}
cleanup() {
    [ "$CLEANED" = 0 ] || return 0
    CLEANED=1
    stop_watch
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
    echo "\$ presencectl $*"
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
# start_presenced: start the daemon and wait until its socket answers; exit 1 if it does not
start_presenced() {
    local deadline ready=0
    setsid "$PRESENCED" -d -f "$CONF" >>"$LOG" 2>&1 </dev/null &
    DAEMON_PID=$!
    echo "$DAEMON_PID" >"$PIDFILE"
    deadline=$((SECONDS + START_TIMEOUT))
    while [ $SECONDS -lt $deadline ]; do
        if ! alive "$DAEMON_PID"; then
            break
        fi
        if "$PRESENCECTL" -q -s "$SOCK" status >/dev/null 2>&1; then
            ready=1
            break
        fi
        sleep 0.05
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
}
start_presenced
echo "presenced pid $DAEMON_PID, config $CONF, log $LOG, socket $SOCK"

# 3. presence, live
WAIT_SECONDS=10
PROBLEMS=0
# wait_until WHAT COMMAND...: poll COMMAND (every 0.1 s, at most
# WAIT_SECONDS) until it succeeds; on timeout say so and go on
wait_until() {
    local what=$1 deadline=$((SECONDS + WAIT_SECONDS))
    shift
    until "$@"; do
        if [ $SECONDS -ge $deadline ]; then
            echo "demo.sh: $what did not happen within ${WAIT_SECONDS}s" >&2
            PROBLEMS=1
            return 0
        fi
        sleep 0.1
    done
}
# The predicates below run through wait_until, which shellcheck cannot see.
# shellcheck disable=SC2317
# jq-less JSON reading: json_get 'PYTHON EXPRESSION on j' < json
json_get() { python3 -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" 2>/dev/null; }
# shows USER KIND STATE: presencectl shows that state, not stale
# shellcheck disable=SC2317
shows() {
    [ "$("$PRESENCECTL" -j -s "$SOCK" user "$1" 2>/dev/null |
        json_get "j['$2']['state'] + ('?' if j['$2']['stale'] else '')")" = "$3" ]
}
# all_active: every subscription of the enabled connectors is active
# shellcheck disable=SC2317
all_active() {
    [ "$("$PRESENCECTL" -j -s "$SOCK" connectors 2>/dev/null | json_get "(
sum(c['subscriptions']['active'] for c in j['connectors']) > 0 and
all(n == 0 for c in j['connectors'] for s, n in c['subscriptions'].items() if s != 'active'))")" = True ]
}
# listing: the connector's resource list serves its members
# shellcheck disable=SC2317
listing() {
    [ "$("$PRESENCECTL" -j -s "$SOCK" connectors 2>/dev/null |
        json_get "[l['mode'] for c in j['connectors'] for l in c['lists']]")" = "['listing']" ]
}
publish() {
    local a shown=""
    for a in "$@"; do
        case "$a" in *' '*) shown+=" \"$a\"" ;; *) shown+=" $a" ;; esac
    done
    echo "\$ publish.sh$shown"
    "$HERE/publish.sh" -d "$KDIR" "$@" >/dev/null || echo "(publish.sh $* failed; see $KDIR/sipp/)"
}
# watched TEXT: the background watch has printed a line containing TEXT
# shellcheck disable=SC2317
watched() { grep -qF -- "$1" "$WATCH_OUT"; }
explain() { printf '%s\n' "$@"; echo; }

heading "The connectors: presenced probes Kamailio and subscribes to every user"
explain "Each user has two subscriptions (RFC 6665): rich presence (Event: presence)" \
        "and telephony presence (Event: dialog). SUBSCRIPTIONS counts them by status."
wait_until "connected, every subscription active" all_active
ctl connectors

heading "Users before anyone published: nothing known yet"
explain "A subscription is active, but Kamailio has no state for these users: unknown."
ctl users

heading "Alice leaves with a note; Bob answers a call"
explain "publish.sh sends a PUBLISH as the user's client or phone would (SIPp);" \
        "Kamailio NOTIFYs presenced, which updates the users at once."
publish -u alice presence open away "Gone home"
publish -u bob dialog confirmed recipient
wait_until "alice away" shows alice rich away
wait_until "bob busy" shows bob telephony busy
echo
ctl users

heading "Everything presenced knows about Alice"
explain "The PIDF she published (tuple and person, RPID activity, note) and the" \
        "subscription behind each kind of presence."
ctl user alice

heading "Changes as they happen: presencectl watch alice bob"
explain "A watch prints one line per change of the shown state. Bob hangs up, a" \
        "second call rings and is missed, then Alice is back at her desk."
WATCH_OUT="$DEMO/watch.out"
"$PRESENCECTL" -s "$SOCK" watch alice bob >"$WATCH_OUT" 2>&1 &
WATCH_PID=$!
wait_until "the watch to start" watched "watching"
publish -u bob dialog terminated recipient
wait_until "bob idle in the watch" watched "bob telephony busy -> idle"
publish -u bob dialog early recipient
wait_until "bob ringing in the watch" watched "bob telephony idle -> ringing"
publish -u bob dialog terminated recipient
wait_until "bob idle again in the watch" watched "bob telephony ringing -> idle"
publish -u alice presence open working "Back at my desk"
wait_until "alice available in the watch" watched "alice rich away -> available"
stop_watch
echo
echo "\$ presencectl watch alice bob   (stopped with Ctrl-C after these changes)"
cat "$WATCH_OUT"

heading "The connectors again: status, probes and subscription counts"
ctl connectors

heading "A forced subscribe: presencectl subscribe carol --seconds 30"
explain "It subscribes a user now, to test the configuration. Here every user is" \
        "subscribed already (subscribe = \"all\"), so it reports the subscriptions" \
        "as existing; with subscribe = \"on_demand\" it would start them for 30 s."
ctl subscribe carol --seconds 30

heading "An operator note: presencectl note alice \"Back on Monday\""
explain "Notes are kept in the state database (SQLite) and survive restarts."
ctl note alice "Back on Monday"

heading "A restart while the server is down: the last picture at once, marked stale"
explain "presenced is stopped, then Kamailio; presenced starts again and shows what its" \
        "state database remembers, stale (a ? after the state) until the server confirms it."
stop_presenced
"$HERE/kamailio/stop.sh" "$KDIR" >/dev/null
start_presenced
ctl users
echo "\$ presencectl -j user alice   (the rich presence's source, abridged)"
"$PRESENCECTL" -j -s "$SOCK" user alice | json_get "'note: %s; rich: %s, stale %s, subscription %s, restored %s' % (
j['note'], j['rich']['state'], j['rich']['stale'], j['rich']['sources'][0]['subscription'],
j['rich']['sources'][0]['restored'])"

heading "Kamailio is back: the states are confirmed and fresh again"
if ! "$HERE/kamailio/start.sh" -d "$KDIR" -p "$KAMAILIO_PORT" -m digest >/dev/null; then
    echo "demo.sh: the Kamailio fixture did not start again" >&2
    PROBLEMS=1
fi
wait_until "alice's state confirmed" shows alice rich available
ctl users

heading "Resource lists (RFC 4662): one SUBSCRIBE for a whole list"
explain "Kamailio serves the list sip:buddies@127.0.0.1 (alice, bob, carol). With" \
        "rich_list_uri on the connector, one list subscription replaces their three" \
        "rich ones; a reload keeps the users' own until the list delivered its full" \
        "state (make before break). A list that fails falls back to one per user."
echo "\$ (the connector kamailio gets rich_list_uri = \"sip:buddies@127.0.0.1\")"
sed -i '/^name *= "kamailio"/,/^domain/ s|^domain *= "127.0.0.1"$|&\nrich_list_uri = "sip:buddies@127.0.0.1"|' "$CONF"
ctl reload
wait_until "the list serving its members" listing
ctl connectors
publish -u carol presence open busy "In a meeting"
wait_until "carol busy through the list" shows carol rich busy
ctl user carol

if [ "${DEMO_NONINTERACTIVE:-0}" = 1 ]; then
    echo
    echo "DEMO_NONINTERACTIVE=1: stopping the demo."
    cleanup
    trap - EXIT
    if [ "$PROBLEMS" = 1 ]; then
        echo "Demo ended with errors (see above; presenced log: $LOG)."
        exit 1
    fi
    echo "Demo stopped."
    exit 0
fi

# 5. keep running until Ctrl-C / SIGTERM (make demo-stop) or the daemon dies
echo
echo "Demo running. Ctrl-C (or make demo-stop) stops it."
echo "Try: $PRESENCECTL -s $SOCK watch"
echo "     $HERE/publish.sh -d $KDIR -u carol presence open busy \"In a meeting\""
echo "     $HERE/publish.sh -d $KDIR -u carol dialog early recipient"
echo "     $PRESENCECTL -s $SOCK users"
while alive "$DAEMON_PID"; do
    sleep 1
done
echo "demo.sh: presenced (pid $DAEMON_PID) died; log tail:" >&2
tail -25 "$LOG" >&2
exit 1
