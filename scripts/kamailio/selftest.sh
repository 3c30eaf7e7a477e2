#!/usr/bin/env bash
# Self-test of presenced's Kamailio fixture, publish.sh and the SIPp
# scenarios: starts its own fixtures (free ports, own temp dirs), publishes,
# watches with scripts/sipp/watch.xml and checks the NOTIFYs, auth failures,
# Min-Expires, trusted and 407/no-qop modes, restart with kept state, stop.
# Prints one PASS/FAIL line per check and "N passed, N failed" as its last
# line; exits non-zero on any failure. Takes about 20-30 s.
#
# Usage: selftest.sh [-k]     -k keeps the results dir (else removed on success)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPTS=$(cd "$HERE/.." && pwd)
PUBLISH="$SCRIPTS/publish.sh"
WATCH_XML="$SCRIPTS/sipp/watch.xml"
KEEP=0
[ "${1:-}" = "-k" ] && KEEP=1

RES=$(mktemp -d "${TMPDIR:-/tmp}/presenced-fixture-selftest.XXXXXX")
PASS=0
FAIL=0
FIXTURES=()

cleanup() {
    local d
    for d in ${FIXTURES[@]+"${FIXTURES[@]}"}; do
        if [ -s "$d/kamailio.pid" ]; then
            "$HERE/stop.sh" "$d" 2>/dev/null || "$HERE/stop.sh" --kill "$d" 2>/dev/null || true
        fi
    done
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); echo "PASS $1"; }
ko() { FAIL=$((FAIL + 1)); echo "FAIL $1${2:+ ($2)}"; }
# check NAME COMMAND...: PASS if COMMAND succeeds
check() {
    local name=$1; shift
    if "$@" >/dev/null 2>&1; then ok "$name"; else ko "$name"; fi
}
has() { grep -q -- "$2" "$1"; }            # has FILE REGEX
lacks() { ! grep -q -- "$2" "$1"; }
count_is() { [ "$(grep -c -- "$2" "$1" || true)" = "$3" ]; }   # count_is FILE REGEX N
# group_gone PGID: no live (non-zombie) process is left in process group PGID
group_gone() {
    local f line fields
    for f in /proc/[0-9]*/stat; do
        { read -r line <"$f"; } 2>/dev/null || continue
        line=${line##*) }
        read -r -a fields <<<"$line"
        if [ "${fields[2]:-}" = "$1" ] && [ "${fields[0]}" != Z ]; then
            return 1
        fi
    done
    return 0
}

# start_fixture NAME start.sh-args...: sets K (dir) and sources its env
start_fixture() {
    local name=$1; shift
    K="$RES/$name"
    FIXTURES+=("$K")
    if ! "$HERE/start.sh" -d "$K" "$@" >"$RES/$name.start.out" 2>"$RES/$name.start.err"; then
        ko "start.sh $name" "see $RES/$name.start.err"
        return 1
    fi
    # shellcheck disable=SC1090
    . "$RES/$name.start.out"
}

# watch NAME [-t udp|tcp] [-u USER] [-P PASS] [-e EVENT] [-x EXPIRES] [-n] TARGET [HOLD_S]
# runs watch.xml against fixture $K; log in $RES/NAME.log, messages in $RES/NAME.msg
watch() {
    local name=$1; shift
    local tflag=u1 user=watcher pass="" event=presence expires=600 unsub=yes accept
    while [ $# -gt 0 ]; do
        case "$1" in
            -t) [ "$2" = tcp ] && tflag=t1; shift 2 ;;
            -u) user=$2; shift 2 ;;
            -P) pass=$2; shift 2 ;;
            -e) event=$2; shift 2 ;;
            -x) expires=$2; shift 2 ;;
            -n) unsub=no; shift ;;
            *) break ;;
        esac
    done
    local target=$1 hold=${2:-1}
    accept=application/pidf+xml
    [ "$event" = dialog ] && accept=application/dialog-info+xml
    : >"$RES/$name.log"
    timeout $((hold + 20)) sipp "127.0.0.1:$KAMAILIO_PORT" -sf "$WATCH_XML" -t "$tflag" \
        -i 127.0.0.1 -p "$("$HERE/free-port.sh")" -m 1 -nostdin -timeout $((hold + 15))s \
        -au "$user" -ap "${pass:-${user}pw}" -auth_uri "$target@$KAMAILIO_DOMAIN" \
        -key watcher "$user" -key target "$target" -key domain "$KAMAILIO_DOMAIN" \
        -key event "$event" -key accept "$accept" -key expires "$expires" \
        -key hold_s "$hold" -key unsub "$unsub" \
        -trace_logs -log_file "$RES/$name.log" -trace_msg -message_file "$RES/$name.msg" \
        >"$RES/$name.out" 2>&1 </dev/null || true
}

pub() { "$PUBLISH" -d "$K" "$@" 2>>"$RES/publish.err" || true; }

T0=$SECONDS

# ------------------------------------------------------------ digest fixture
if start_fixture digest; then
    check "start.sh prints the 5 KAMAILIO_* lines" bash -c "[ \$(grep -cE '^KAMAILIO_(DIR|PORT|PID|DOMAIN|MODE)=.+$' '$RES/digest.start.out') = 5 ] && [ \$(wc -l <'$RES/digest.start.out') = 5 ]"
    check "DIR/env equals start.sh's output" cmp -s "$RES/digest.start.out" "$K/env"
    check "kamailio pid alive, pid file written" bash -c "[ \"\$(cat '$K/kamailio.pid')\" = '$KAMAILIO_PID' ]"
    check "kamailio is its own process group leader (setsid)" bash -c "[ \"\$(ps -o pgid= -p $KAMAILIO_PID | tr -d ' ')\" = '$KAMAILIO_PID' ]"
    check "readiness OPTIONS (UDP and TCP) logged" bash -c "grep 'fixture: REQ OPTIONS ' '$K/kamailio.log' | grep -q '/udp' && grep 'fixture: REQ OPTIONS ' '$K/kamailio.log' | grep -q '/tcp'"

    pub presence open away "Gone home" >"$RES/pub1.out"
    check "PUBLISH presence (digest) -> 200" has "$RES/pub1.out" "^PUBLISH-RESULT 200$"
    check "PUBLISH was challenged with 401 + qop=auth first" bash -c "grep -h -A12 '^SIP/2.0 401' '$K'/sipp/publish-presence-alice-1.msg | grep -q 'WWW-Authenticate: Digest.*qop=\"auth\"'"
    check "ETag kept for alice/presence" test -s "$K/etag-alice-presence"

    watch w-presence alice 1
    F=$RES/w-presence.log
    check "SUBSCRIBE presence (digest) -> 200, Expires 600" has "$F" "^SUBSCRIBE-RESULT 200 EXPIRES=600 "
    check "NOTIFY is one line with PIDF type and active state" has "$F" "^NOTIFY cseq=[0-9]* event=presence state=active;expires=[0-9]* type=application/pidf+xml body=<?xml"
    check "NOTIFY body has the note 'Gone home'" has "$F" "^NOTIFY .*<dm:note>Gone home</dm:note>"
    check "NOTIFY body has basic open and rpid away" bash -c "grep '^NOTIFY ' '$F' | head -1 | grep -q '<basic>open</basic>.*<rpid:away/>'"
    check "unsubscribe -> 200 + NOTIFY terminated" bash -c "grep -q '^UNSUBSCRIBE-RESULT 200' '$F' && grep -q '^NOTIFY .*state=terminated' '$F'"

    pub presence closed busy "In a meeting" >"$RES/pub2.out"
    check "second PUBLISH (SIP-If-Match) -> 200" has "$RES/pub2.out" "^PUBLISH-RESULT 200$"
    check "second PUBLISH sent SIP-If-Match" has "$K/sipp/publish-presence-alice-2.msg" "^SIP-If-Match: "
    check "alice still has exactly one presence publication" \
        bash -c "[ \"\$(sqlite3 '$K/presence.sqlite' \"select count(*) from presentity where username='alice' and event='presence'\")\" = 1 ]"

    pub dialog confirmed initiator >"$RES/pub3.out"
    check "PUBLISH dialog-info confirmed -> 200" has "$RES/pub3.out" "^PUBLISH-RESULT 200$"
    watch w-dialog -e dialog alice 1
    F=$RES/w-dialog.log
    check "SUBSCRIBE dialog -> 200" has "$F" "^SUBSCRIBE-RESULT 200 "
    check "dialog NOTIFY says confirmed, initiator" has "$F" "^NOTIFY .*event=dialog .*type=application/dialog-info+xml .*direction=\"initiator\".*<state>confirmed</state>"

    pub -t tcp dialog confirmed recipient hold >"$RES/pub4.out"
    check "PUBLISH dialog over TCP with hold -> 200" has "$RES/pub4.out" "^PUBLISH-RESULT 200$"
    watch w-dialog-tcp -t tcp -e dialog alice 1
    F=$RES/w-dialog-tcp.log
    check "TCP watcher gets dialog NOTIFY with +sip.rendering=no" has "$F" '^NOTIFY .*<param pname="+sip.rendering" pvalue="no"/>'

    watch w-carol carol 1
    check "presentity without publication -> NOTIFY without body" has "$RES/w-carol.log" "^NOTIFY cseq=[0-9]* event=presence state=active;expires=[0-9]* type= body=$"

    watch w-badpw -P wrongpw alice 1
    check "wrong password -> 401 again (not 200)" has "$RES/w-badpw.log" "^SUBSCRIBE-RESULT 401 "
    check "wrong password: no NOTIFY" lacks "$RES/w-badpw.log" "^NOTIFY "
    pub -u bob -P wrongpw presence open busy x >"$RES/pub-badpw.out"
    check "PUBLISH with wrong password -> 401" has "$RES/pub-badpw.out" "^PUBLISH-RESULT 401$"

    # authenticated as alice, From watcher
    : >"$RES/w-mismatch.log"
    timeout 20 sipp "127.0.0.1:$KAMAILIO_PORT" -sf "$WATCH_XML" -t u1 -i 127.0.0.1 -p "$("$HERE/free-port.sh")" \
        -m 1 -nostdin -timeout 15s -au alice -ap alicepw -key watcher watcher -key target bob \
        -key domain "$KAMAILIO_DOMAIN" -key event presence -key accept application/pidf+xml \
        -key expires 600 -key hold_s 1 -key unsub yes -trace_logs -log_file "$RES/w-mismatch.log" \
        >"$RES/w-mismatch.out" 2>&1 </dev/null || true
    check "auth user != From user -> 403" has "$RES/w-mismatch.log" "^SUBSCRIBE-RESULT 403 "

    watch w-min -x 30 alice 1
    check "Expires 30 -> 423 with Min-Expires 60" has "$RES/w-min.log" "^SUBSCRIBE-RESULT 423 EXPIRES= MIN-EXPIRES=60$"
    watch w-max -x 7200 alice 1
    check "Expires 7200 -> 200 cut to 3600" has "$RES/w-max.log" "^SUBSCRIBE-RESULT 200 EXPIRES=3600 "

    check "log: one INFO line per request (SUBSCRIBE lines carry event/expires)" \
        bash -c "grep 'fixture: REQ SUBSCRIBE ' '$K/kamailio.log' | grep -q 'src=127.0.0.1:[0-9]*/udp ftag=[^ ]* totag=<null> event=presence expires=30 '"
    # w-presence, w-dialog, w-dialog-tcp, w-carol, w-max: 2 initial + 1 unsubscribe each;
    # w-badpw, w-mismatch, w-min: 2 each
    check "log: SUBSCRIBE attempts countable (21)" count_is "$K/kamailio.log" "fixture: REQ SUBSCRIBE " 21

    # a subscription left open (no unsubscribe) must be in the DB after a clean stop
    watch w-open -n bob 1
    check "subscription without unsubscribe -> 200" has "$RES/w-open.log" "^SUBSCRIBE-RESULT 200 "

    # restart with the same DIR keeps the DB and the port
    OLD_PORT=$KAMAILIO_PORT
    OLD_PID=$KAMAILIO_PID
    "$HERE/stop.sh" "$K" 2>>"$RES/stop.err" || true
    check "stop.sh: process group gone, pid file removed" eval "[ ! -e '$K/kamailio.pid' ] && group_gone $OLD_PID"
    check "stop.sh again is a no-op (exit 0)" "$HERE/stop.sh" "$K"
    check "open subscription flushed to active_watchers on stop (subs_db_mode 2)" \
        bash -c "[ \"\$(sqlite3 '$K/presence.sqlite' \"select count(*) from active_watchers where presentity_uri='sip:bob@127.0.0.1'\")\" = 1 ]"
    if start_fixture digest; then
        check "restart re-uses the port" test "$KAMAILIO_PORT" = "$OLD_PORT"
        watch w-restart alice 1
        check "publication survives a restart" has "$RES/w-restart.log" "^NOTIFY .*<dm:note>In a meeting</dm:note>"
        "$HERE/stop.sh" --kill "$K" 2>>"$RES/stop.err" || true
        check "stop.sh --kill: process group gone, pid file removed" eval "[ ! -e '$K/kamailio.pid' ] && group_gone $KAMAILIO_PID"
    fi
fi

# ----------------------------------------------------------- trusted fixture
if start_fixture trusted -m trusted; then
    check "trusted: env says MODE=trusted" has "$K/env" "^KAMAILIO_MODE=trusted$"
    pub presence open on-the-phone "Trusted call" >"$RES/pub-trusted.out"
    check "trusted: PUBLISH -> 200" has "$RES/pub-trusted.out" "^PUBLISH-RESULT 200$"
    check "trusted: PUBLISH not challenged" lacks "$K/sipp/publish-presence-alice-1.msg" "^SIP/2.0 40[17]"
    watch w-trusted alice 1
    check "trusted: SUBSCRIBE -> 200 without challenge" bash -c "grep -q '^SUBSCRIBE-RESULT 200 ' '$RES/w-trusted.log' && ! grep -q '^SIP/2.0 401' '$RES/w-trusted.msg'"
    check "trusted: NOTIFY has the note" has "$RES/w-trusted.log" "^NOTIFY .*<dm:note>Trusted call</dm:note>"
    watch w-trusted-min -x 30 alice 1
    check "trusted: Expires 30 -> 423 Min-Expires 60" has "$RES/w-trusted-min.log" "^SUBSCRIBE-RESULT 423 EXPIRES= MIN-EXPIRES=60$"
    "$HERE/stop.sh" "$K" 2>>"$RES/stop.err" || true
fi

# ------------------------------------------ 407 + no qop, named domain, defines
if start_fixture proxyauth -D presence.test -A WITH_PROXY_AUTH -A WITH_NO_QOP -A MIN_EXPIRES=120; then
    watch w-407 alice 1
    check "WITH_PROXY_AUTH: SUBSCRIBE -> 200 after 407" bash -c "grep -q '^SUBSCRIBE-RESULT 200 ' '$RES/w-407.log' && grep -q '^SIP/2.0 407' '$RES/w-407.msg'"
    check "WITH_NO_QOP: Proxy-Authenticate without qop, realm = domain" \
        bash -c "grep '^Proxy-Authenticate:' '$RES/w-407.msg' | grep 'realm=\"presence.test\"' | grep -vq qop"
    check "-D presence.test: NOTIFY comes from sip:alice@presence.test" has "$RES/w-407.msg" "^From: <sip:alice@presence.test>;tag="
    watch w-120 -x 90 alice 1
    check "-A MIN_EXPIRES=120: Expires 90 -> 423 Min-Expires 120" has "$RES/w-120.log" "^SUBSCRIBE-RESULT 423 EXPIRES= MIN-EXPIRES=120$"
    "$HERE/stop.sh" "$K" 2>>"$RES/stop.err" || true
fi

# ---------------------------------------------------------------- failures
if "$HERE/start.sh" -d "$RES/bad" -A 'MIN_EXPIRES=' >"$RES/bad.out" 2>"$RES/bad.err"; then
    FIXTURES+=("$RES/bad")
    ko "start.sh fails on a broken config"
else
    check "start.sh fails on a broken config, prints no env, explains on stderr" \
        bash -c "[ ! -s '$RES/bad.out' ] && [ -s '$RES/bad.err' ]"
fi

for d in ${FIXTURES[@]+"${FIXTURES[@]}"}; do
    # (CRITICAL "receive_fd(): EOF" lines at shutdown are normal)
    if grep -q 'ALERT\|exited by a signal\|segfault\|SIGSEGV' "$d/kamailio.log" 2>/dev/null; then
        ko "no crash in $(basename "$d")/kamailio.log"
    fi
done
check "whole self-test under 60 s" test $((SECONDS - T0)) -lt 60

trap - EXIT
cleanup
if [ "$FAIL" = 0 ] && [ "$KEEP" = 0 ]; then
    rm -rf "$RES"
else
    echo "results and logs: $RES"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
