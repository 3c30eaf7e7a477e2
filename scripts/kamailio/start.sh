#!/usr/bin/env bash
# Start presenced's Kamailio presence fixture (kamailio.cfg) on 127.0.0.1,
# UDP and TCP on one port, in the background, and wait until it answers.
#
# Usage: start.sh [-d DIR] [-p PORT] [-D DOMAIN] [-m digest|trusted]
#                 [-A DEFINE]... [--fresh]
#
#   -d DIR     working dir: DBs (create-db.sh), kamailio.pid, kamailio.log, env (default: a
#              new mktemp -d). Re-using a DIR keeps its DBs (publications and
#              stored subscriptions survive a stop.sh + start.sh) and, unless
#              -p is given, its previous port if that is still free.
#   -p PORT    SIP port (default: a port free for UDP and TCP, picked now)
#   -D DOMAIN  SIP domain and digest realm (default 127.0.0.1); URIs are
#              sip:USER@DOMAIN, always sent to 127.0.0.1:PORT
#   -m MODE    digest (default: initial SUBSCRIBE and PUBLISH get a 401
#              challenge, qop=auth) or trusted (no authentication)
#   -A DEFINE  extra Kamailio define, repeatable: WITH_PROXY_AUTH (407),
#              WITH_NO_QOP, WITH_AUTH_INDIALOG, WITH_VOLATILE_SUBS, WITH_DEBUG,
#              MIN_EXPIRES=N, MAX_EXPIRES=N, DB_UPDATE_PERIOD=N,
#              CLEAN_PERIOD=N, TCP_LIFETIME=N, RLS_WAITN_TIME=N (see kamailio.cfg)
#   --fresh    recreate the DBs even if DIR has them
#
# On success prints exactly these lines on stdout (eval-able) and writes
# them to DIR/env too:
#   KAMAILIO_DIR=/abs/dir
#   KAMAILIO_PORT=NNNN
#   KAMAILIO_PID=NNNN
#   KAMAILIO_DOMAIN=127.0.0.1
#   KAMAILIO_MODE=digest
# On failure prints the log tail on stderr and exits non-zero.
# Stop it with: stop.sh DIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SIPP_DIR=$(cd "$HERE/../sipp" && pwd)
READY_TIMEOUT=${KAMAILIO_READY_TIMEOUT:-10}

usage() {
    echo "usage: start.sh [-d DIR] [-p PORT] [-D DOMAIN] [-m digest|trusted] [-A DEFINE]... [--fresh]" >&2
    exit 2
}

DIR=""
PORT=""
DOMAIN=127.0.0.1
MODE=digest
FRESH=0
DEFINES=()
while [ $# -gt 0 ]; do
    case "$1" in
        -d) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
        -p) [ $# -ge 2 ] || usage; PORT=$2; shift 2 ;;
        -D) [ $# -ge 2 ] || usage; DOMAIN=$2; shift 2 ;;
        -m) [ $# -ge 2 ] || usage; MODE=$2; shift 2 ;;
        -A) [ $# -ge 2 ] || usage; DEFINES+=("$2"); shift 2 ;;
        --fresh) FRESH=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "start.sh: unknown argument '$1'" >&2; usage ;;
    esac
done

case "$MODE" in
    digest) ;;
    trusted) DEFINES+=(WITH_TRUSTED) ;;
    *) echo "start.sh: -m must be digest or trusted" >&2; usage ;;
esac
[ -z "$PORT" ] || [[ "$PORT" =~ ^[0-9]+$ && "$PORT" -gt 0 && "$PORT" -lt 65536 ]] || { echo "start.sh: bad port '$PORT'" >&2; exit 2; }
[[ "$DOMAIN" =~ ^[A-Za-z0-9.-]+$ ]] || { echo "start.sh: bad domain '$DOMAIN'" >&2; exit 2; }
for tool in kamailio sipp python3 sqlite3 setsid timeout; do
    command -v "$tool" >/dev/null || { echo "start.sh: '$tool' is not installed (see scripts/install-deps.sh)" >&2; exit 1; }
done
KAMAILIO=$(command -v kamailio)

if [ -z "$DIR" ]; then
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/presenced-kamailio.XXXXXX")
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
# DIR goes into Kamailio defines and into the eval-able env lines unquoted
[[ "$DIR" =~ ^[A-Za-z0-9._/+,:@-]+$ ]] || { echo "start.sh: DIR '$DIR' has characters this fixture cannot quote (use plain path characters)" >&2; exit 2; }
PIDFILE="$DIR/kamailio.pid"
LOG="$DIR/kamailio.log"
ENVFILE="$DIR/env"

# true if PID is a live (non-zombie) process
alive() {
    local state
    state=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

if [ -s "$PIDFILE" ]; then
    old=$(cat "$PIDFILE")
    if [[ "$old" =~ ^[0-9]+$ ]] && alive "$old" && tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -qF -- "-w $DIR "; then
        echo "start.sh: a fixture is already running from $DIR (pid $old); run stop.sh $DIR first" >&2
        exit 1
    fi
    rm -f "$PIDFILE"
fi

OLD_PORT=""
OLD_DOMAIN=""
if [ -s "$ENVFILE" ]; then
    OLD_PORT=$(sed -n 's/^KAMAILIO_PORT=\([0-9]*\)$/\1/p' "$ENVFILE")
    OLD_DOMAIN=$(sed -n 's/^KAMAILIO_DOMAIN=//p' "$ENVFILE")
fi
# a DIR made before the fixture had rls (no pua.sqlite, no dbtext/) is remade
if [ "$FRESH" = 1 ] || [ ! -s "$DIR/auth.sqlite" ] || [ ! -s "$DIR/presence.sqlite" ] ||
   [ ! -s "$DIR/pua.sqlite" ] || [ ! -s "$DIR/dbtext/rls_watchers" ]; then
    "$HERE/create-db.sh" "$DIR" "$DOMAIN" 2>/dev/null
    rm -f "$DIR"/etag-* 2>/dev/null || true   # publish.sh's ETags of the old DB
elif [ -n "$OLD_DOMAIN" ] && [ "$OLD_DOMAIN" != "$DOMAIN" ]; then
    echo "start.sh: the DBs in $DIR were made for domain $OLD_DOMAIN; use -D $OLD_DOMAIN or --fresh" >&2
    exit 1
fi

# binrpc socket for kamcmd, only if the path fits in sun_path
CTL=()
if [ ${#DIR} -lt 90 ]; then
    CTL=(-A "CTL_SOCKET=\"unixs:$DIR/kamailio_ctl\"")
fi

port_free() {
    python3 - "$1" <<'PY'
import socket, sys
port = int(sys.argv[1])
for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
}

# ping PROTO(u1|t1): one OPTIONS, 200 expected
ping() {
    timeout 5 sipp "127.0.0.1:$PORT" -sf "$SIPP_DIR/options.xml" -t "$1" \
        -i 127.0.0.1 -p "$("$HERE/free-port.sh")" -m 1 -nostdin \
        -timeout 3s -timeout_error -key domain "$DOMAIN" \
        >/dev/null 2>&1 </dev/null
}

kam_args() {
    local d
    ARGS=(-f "$HERE/kamailio.cfg" -E -DD -w "$DIR" -Y "$DIR" -P "$PIDFILE"
          -m 64 -M 8
          -A "PORT=$PORT"
          -A "DOMAIN=\"$DOMAIN\""
          -A "DB_AUTH=\"sqlite:///$DIR/auth.sqlite\""
          -A "DB_PRESENCE=\"sqlite:///$DIR/presence.sqlite\""
          -A "DB_PUA=\"sqlite:///$DIR/pua.sqlite\""
          -A "DB_RLS=\"text://$DIR/dbtext\""
          -A "RLS_ADDR=\"sip:rls@127.0.0.1:$PORT\""
          -A "RLS_OBPROXY=\"sip:127.0.0.1:$PORT\""
          ${CTL[@]+"${CTL[@]}"})
    for d in ${DEFINES[@]+"${DEFINES[@]}"}; do
        ARGS+=(-A "$d")
    done
}

# start_once: 0 = up, 1 = failed, 2 = failed because the port was taken
start_once() {
    local deadline kpid pid_from_file ok=0
    kam_args
    if ! "$KAMAILIO" "${ARGS[@]}" -c >"$DIR/cfgcheck.log" 2>&1; then
        echo "start.sh: kamailio config check failed:" >&2
        tail -20 "$DIR/cfgcheck.log" >&2
        return 1
    fi
    echo "===== start.sh $(date '+%F %T') port $PORT domain $DOMAIN mode $MODE defines: ${DEFINES[*]+${DEFINES[*]}}" >>"$LOG"
    # own session and process group: stop.sh can end exactly this group
    setsid "$KAMAILIO" "${ARGS[@]}" >>"$LOG" 2>&1 </dev/null &
    kpid=$!
    deadline=$((SECONDS + READY_TIMEOUT))
    while [ $SECONDS -lt $deadline ]; do
        alive "$kpid" || break
        if [ -s "$PIDFILE" ] && ping u1 && ping t1; then
            ok=1
            break
        fi
        sleep 0.2
    done
    if [ "$ok" = 1 ]; then
        pid_from_file=$(cat "$PIDFILE")
        if [ "$pid_from_file" != "$kpid" ]; then
            # setsid forked (it was a group leader): trust kamailio's own pid file
            kpid=$pid_from_file
        fi
        KPID=$kpid
        return 0
    fi
    if alive "$kpid"; then
        echo "start.sh: kamailio (pid $kpid) did not answer OPTIONS on UDP and TCP within ${READY_TIMEOUT}s" >&2
        kill -KILL -- "-$kpid" 2>/dev/null || kill -KILL "$kpid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
    if tail -30 "$LOG" | grep -q "Address already in use"; then
        return 2
    fi
    return 1
}

AUTO_PORT=0
if [ -z "$PORT" ]; then
    AUTO_PORT=1
    if [ -n "$OLD_PORT" ] && port_free "$OLD_PORT"; then
        PORT=$OLD_PORT
    else
        PORT=$("$HERE/free-port.sh")
    fi
fi

KPID=""
rc=0
for attempt in 1 2 3; do
    rc=0
    start_once || rc=$?
    if [ "$rc" != 2 ] || [ "$AUTO_PORT" != 1 ] || [ "$attempt" = 3 ]; then
        break
    fi
    echo "start.sh: port $PORT was taken meanwhile, trying another" >&2
    PORT=$("$HERE/free-port.sh")
done
if [ "$rc" != 0 ]; then
    echo "start.sh: kamailio failed to start; last lines of $LOG:" >&2
    tail -30 "$LOG" >&2
    exit 1
fi

OUT="KAMAILIO_DIR=$DIR
KAMAILIO_PORT=$PORT
KAMAILIO_PID=$KPID
KAMAILIO_DOMAIN=$DOMAIN
KAMAILIO_MODE=$MODE"
printf '%s\n' "$OUT" >"$ENVFILE.tmp"
mv "$ENVFILE.tmp" "$ENVFILE"
printf '%s\n' "$OUT"
