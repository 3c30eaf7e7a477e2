#!/usr/bin/env bash
# `make demo-stop`: stop what scripts/demo.sh left running for BUILD_DIR,
# using only the pid files in BUILD_DIR/demo (demo.pid, presenced.pid,
# kamailio/kamailio.pid). Idempotent: exit 0 when nothing is running.
#
# Usage: demo-stop.sh BUILD_DIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -ne 1 ]; then
    echo "usage: demo-stop.sh BUILD_DIR" >&2
    exit 2
fi
[ -d "$1/demo" ] || { echo "demo-stop.sh: no demo in $1"; exit 0; }
DEMO=$(cd "$1/demo" && pwd)
TIMEOUT=10

alive() {
    local s
    s=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]
}
# cmdline_has PID TEXT: the process's command line contains TEXT
cmdline_has() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"; }
# wait_dead PID SECONDS
wait_dead() {
    local deadline=$((SECONDS + $2))
    while alive "$1" && [ $SECONDS -lt "$deadline" ]; do sleep 0.1; done
    ! alive "$1"
}
# read_pid FILE: prints the pid in FILE if it is a number
read_pid() {
    local p
    [ -s "$1" ] || return 1
    p=$(cat "$1")
    [[ "$p" =~ ^[0-9]+$ ]] || return 1
    echo "$p"
}

stopped=0

# 1. an interactive demo.sh: SIGTERM makes it stop presenced and Kamailio itself
if pid=$(read_pid "$DEMO/demo.pid"); then
    if alive "$pid" && cmdline_has "$pid" "demo.sh"; then
        echo "stopping demo.sh (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        wait_dead "$pid" $((TIMEOUT + 5)) || echo "demo-stop.sh: demo.sh (pid $pid) is still running; stopping its processes directly" >&2
        stopped=1
    fi
    alive "$pid" || rm -f "$DEMO/demo.pid"
fi

# 2. presenced
if pid=$(read_pid "$DEMO/presenced.pid"); then
    if alive "$pid" && cmdline_has "$pid" "$DEMO/presenced.toml"; then
        echo "stopping presenced (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_dead "$pid" "$TIMEOUT"; then
            echo "demo-stop.sh: presenced ignored SIGTERM for ${TIMEOUT}s, SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
            wait_dead "$pid" 3 || true
        fi
        stopped=1
    fi
    rm -f "$DEMO/presenced.pid"
fi

# 3. Kamailio
if [ -s "$DEMO/kamailio/kamailio.pid" ]; then
    echo "stopping kamailio"
    "$HERE/kamailio/stop.sh" "$DEMO/kamailio" || "$HERE/kamailio/stop.sh" --kill "$DEMO/kamailio"
    stopped=1
fi

# 4. a control socket dir demo.sh made under /tmp
if [ -s "$DEMO/socket-dir" ]; then
    sockdir=$(cat "$DEMO/socket-dir")
    case "$sockdir" in
        "${TMPDIR:-/tmp}"/presenced-demo.*) rm -rf "$sockdir" ;;
    esac
    rm -f "$DEMO/socket-dir"
fi

if [ "$stopped" = 1 ]; then
    echo "demo stopped"
else
    echo "no demo running"
fi
