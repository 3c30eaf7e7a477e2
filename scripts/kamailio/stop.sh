#!/usr/bin/env bash
# Stop the Kamailio fixture that start.sh started from DIR, and only that one.
#
# Usage: stop.sh [--kill] DIR
#
#   (default)  SIGTERM to the pid in DIR/kamailio.pid (clean shutdown:
#              subscriptions are flushed to the DB), then SIGTERM to its
#              process group, SIGKILL to the group if still alive after ~8 s
#   --kill     SIGKILL to the pid and its process group at once (a crash:
#              subscriptions since the last write-back are lost)
# start.sh runs Kamailio with setsid, so its process group holds only its
# own processes. Bounded waits; removes the pid file. Exit 0 also when
# nothing was running (idempotent); 1 if the pid is not this DIR's Kamailio.
set -euo pipefail

SIG=TERM
if [ "${1:-}" = "--kill" ]; then SIG=KILL; shift; fi
if [ $# -ne 1 ]; then
    echo "usage: stop.sh [--kill] DIR" >&2
    exit 2
fi
[ -d "$1" ] || { echo "stop.sh: no directory $1" >&2; exit 0; }
DIR=$(cd "$1" && pwd)
PIDFILE="$DIR/kamailio.pid"

[ -s "$PIDFILE" ] || { echo "stop.sh: nothing running in $DIR (no pid file)" >&2; exit 0; }
PID=$(cat "$PIDFILE")
[[ "$PID" =~ ^[0-9]+$ ]] || { echo "stop.sh: bad pid in $PIDFILE" >&2; exit 1; }

# state letter of a process, empty if gone; zombies count as gone
state_of() { awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null || true; }
alive() { local s; s=$(state_of "$1"); [ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]; }
# live members of process group $PID
group_members() {
    local f line fields
    for f in /proc/[0-9]*/stat; do
        { read -r line <"$f"; } 2>/dev/null || continue
        line=${line##*) }                 # "STATE PPID PGRP ..."
        read -r -a fields <<<"$line"
        if [ "${fields[2]:-}" = "$PID" ] && [ "${fields[0]}" != Z ] && [ "${fields[0]}" != X ]; then
            f=${f#/proc/}
            echo "${f%/stat}"
        fi
    done
    return 0
}
group_alive() { [ -n "$(group_members)" ]; }
# wait_gone SECONDS: until no live member of the group is left
wait_gone() {
    local deadline=$((SECONDS + $1))
    while [ $SECONDS -lt "$deadline" ]; do
        group_alive || return 0
        sleep 0.1
    done
    ! group_alive
}

if ! alive "$PID"; then
    if group_alive; then
        echo "stop.sh: main pid $PID is gone, killing what is left of its group" >&2
        kill -KILL -- "-$PID" 2>/dev/null || true
        wait_gone 3 || true
    else
        echo "stop.sh: pid $PID is not running" >&2
    fi
    rm -f "$PIDFILE"
    exit 0
fi
# make sure the pid is the kamailio of this DIR (pid files can go stale)
if ! tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep -qF -- "-w $DIR "; then
    echo "stop.sh: pid $PID is not the kamailio of $DIR; not touching it" >&2
    exit 1
fi

if [ "$SIG" = KILL ]; then
    kill -KILL -- "-$PID" 2>/dev/null || kill -KILL "$PID" 2>/dev/null || true
    wait_gone 5 || true
else
    kill -TERM "$PID" 2>/dev/null || true
    if ! wait_gone 5; then
        kill -TERM -- "-$PID" 2>/dev/null || true
        if ! wait_gone 3; then
            echo "stop.sh: still alive after SIGTERM, SIGKILL to group $PID" >&2
            kill -KILL -- "-$PID" 2>/dev/null || true
            wait_gone 3 || true
        fi
    fi
fi
if group_alive; then
    echo "stop.sh: group $PID did not go away: $(group_members | tr '\n' ' ')" >&2
    exit 1
fi
rm -f "$PIDFILE"
echo "stop.sh: stopped kamailio pid $PID ($SIG)" >&2
