#!/usr/bin/env bash
# Self-test of presenced's Kamailio fixture, publish.sh and the SIPp
# scenarios: starts its own fixtures (free ports, own temp dirs), publishes,
# watches with scripts/sipp/watch.xml and checks the NOTIFYs, auth failures,
# Min-Expires, RFC 4662 lists (scripts/sipp/watch-list.xml: full and partial
# RLMI NOTIFYs, refresh, unsubscribe, a URI that is no list, dave),
# trusted and 407/no-qop modes, restart with kept state (lists: 481), stop.
# Prints one PASS/FAIL line per check and "N passed, N failed" as its last
# line; exits non-zero on any failure. Takes about 30-40 s.
#
# Usage: selftest.sh [-k]     -k keeps the results dir (else removed on success)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPTS=$(cd "$HERE/.." && pwd)
PUBLISH="$SCRIPTS/publish.sh"
WATCH_XML="$SCRIPTS/sipp/watch.xml"
WATCH_LIST_XML="$SCRIPTS/sipp/watch-list.xml"
LIST_NOTIFIES="$HERE/list-notifies.py"
# what an RFC 4662 list subscriber accepts (section 4.1: multipart/related
# with an RLMI root, and the members' own format)
LIST_ACCEPT_PRESENCE="multipart/related, application/rlmi+xml, application/pidf+xml"
LIST_ACCEPT_DIALOG="multipart/related, application/rlmi+xml, application/dialog-info+xml"
# seconds a list watcher collects NOTIFYs before its refresh: the first
# partial NOTIFY (~2 s, rls waitn_time) and the one after alice publishes
# at LIST_PUBLISH_AFTER_S (~2 s later) both fit
LIST_HOLD_S=6
LIST_PUBLISH_AFTER_S=2.5
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

# watch_list NAME [-u USER] [-e EVENT] [-x EXPIRES] [-r] [-n] TARGET [HOLD_S]
# runs watch-list.xml (Supported: eventlist) against fixture $K; -r refreshes
# after HOLD_S and collects 2 s more; log in $RES/NAME.log, messages in
# $RES/NAME.msg, NOTIFYs taken apart (list-notifies.py) in $RES/NAME.notifies
watch_list() {
    local name=$1; shift
    local user=watcher event=presence expires=600 refresh=no unsub=yes accept
    while [ $# -gt 0 ]; do
        case "$1" in
            -u) user=$2; shift 2 ;;
            -e) event=$2; shift 2 ;;
            -x) expires=$2; shift 2 ;;
            -r) refresh=yes; shift ;;
            -n) unsub=no; shift ;;
            *) break ;;
        esac
    done
    local target=$1 hold=${2:-1}
    accept=$LIST_ACCEPT_PRESENCE
    [ "$event" = dialog ] && accept=$LIST_ACCEPT_DIALOG
    : >"$RES/$name.log"
    timeout $((hold + 30)) sipp "127.0.0.1:$KAMAILIO_PORT" -sf "$WATCH_LIST_XML" -t u1 \
        -i 127.0.0.1 -p "$("$HERE/free-port.sh")" -m 1 -nostdin -timeout $((hold + 25))s \
        -au "$user" -ap "${user}pw" -auth_uri "$target@$KAMAILIO_DOMAIN" \
        -key watcher "$user" -key target "$target" -key domain "$KAMAILIO_DOMAIN" \
        -key event "$event" -key accept "$accept" -key supported eventlist -key expires "$expires" \
        -key hold_s "$hold" -key refresh "$refresh" -key hold2_s 2 -key unsub "$unsub" \
        -trace_logs -log_file "$RES/$name.log" -trace_msg -message_file "$RES/$name.msg" \
        >"$RES/$name.out" 2>&1 </dev/null || true
    "$LIST_NOTIFIES" "$RES/$name.msg" >"$RES/$name.notifies" 2>&1 || true
}
# cseq_of FILE REGEX: the cseq= of the first line of FILE matching REGEX
cseq_of() { grep -m1 -- "$2" "$1" | sed -n 's/^[A-Z]* cseq=\([0-9]*\).*/\1/p'; }

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

    # ------------------------------------------------- RFC 4662 lists (rls)
    # watcher subscribes to buddies (alice has a publication, bob and carol
    # none), alice publishes while it listens, then it refreshes and
    # unsubscribes; meanwhile bob watches buddies-dialog, dave (in no list)
    # watches buddies, and watcher tries a URI that is no list.
    watch_list w-list -r buddies "$LIST_HOLD_S" &
    LIST_PID=$!
    watch_list w-list-dialog -u bob -e dialog buddies-dialog 3 &
    DIALOG_PID=$!
    watch_list w-list-dave -u dave buddies 1 &
    DAVE_PID=$!
    sleep "$LIST_PUBLISH_AFTER_S"
    pub presence open away "x" >"$RES/pub-list.out"
    watch_list w-nolist nolist 1
    watch_list w-list-min -x 30 buddies 1
    wait "$LIST_PID" "$DIALOG_PID" "$DAVE_PID" || true
    F=$RES/w-list.log
    N=$RES/w-list.notifies
    check "list: SUBSCRIBE (Supported: eventlist) -> 200 with Require: eventlist" \
        has "$F" "^SUBSCRIBE-RESULT 200 EXPIRES=600 MIN-EXPIRES= REQUIRE=eventlist$"
    check "list: 200's Contact is the RLS address" has "$RES/w-list.msg" "^Contact: <sip:rls@127.0.0.1:$KAMAILIO_PORT>"
    check "list: first NOTIFY is multipart/related with an RLMI root, Require: eventlist" \
        bash -c "grep '^NOTIFY ' '$F' | head -1 | grep -q '^NOTIFY cseq=1 event=presence state=active;expires=600 require=eventlist full=true version=1 type=multipart/related;type=\"application/rlmi+xml\";start=\"<'"
    check "list: first NOTIFY is full state listing alice, bob, carol (not dave)" \
        has "$N" "^NOTIFY cseq=1 state=active;expires=600 require=eventlist type=multipart/related version=1 full=true resources=sip:alice@127.0.0.1,sip:bob@127.0.0.1,sip:carol@127.0.0.1$"
    check "list: first NOTIFY has no instances (no state yet)" \
        bash -c "[ \"\$(grep -c '^RESOURCE cseq=1 .* instances=$' '$N')\" = 3 ] && ! grep -q '^PART cseq=1 ' '$N'"
    check "list: PUBLISH while listening -> 200" has "$RES/pub-list.out" "^PUBLISH-RESULT 200$"
    REFRESH_CSEQ=$(awk '/^REFRESH-RESULT 200/ { r = 1; next } r && /^NOTIFY cseq=/ { sub(/^NOTIFY cseq=/, ""); sub(/ .*/, ""); print; exit }' "$F")
    X_CSEQ=$(cseq_of "$N" '^PART cseq=[0-9]* uri=sip:alice@127.0.0.1 type=application/pidf+xml body=.*<dm:note>x</dm:note>')
    OLD_CSEQ=$(cseq_of "$N" '^PART cseq=[0-9]* uri=sip:alice@127.0.0.1 type=application/pidf+xml body=.*<dm:note>In a meeting</dm:note>')
    check "list: a partial NOTIFY carries alice's PIDF from before, ~2 s after the 200" \
        bash -c "[ -n '$OLD_CSEQ' ] && grep -q '^NOTIFY cseq=$OLD_CSEQ .* full=false resources=sip:alice@127.0.0.1$' '$N' &&
                 [ -n '$X_CSEQ' ] && [ '$OLD_CSEQ' -lt '$X_CSEQ' ]"
    check "list: after alice's PUBLISH a partial NOTIFY with only alice's new PIDF (before the refresh)" \
        bash -c "[ -n '$X_CSEQ' ] && [ -n '$REFRESH_CSEQ' ] && [ '$X_CSEQ' -lt '$REFRESH_CSEQ' ] &&
                 grep -q '^NOTIFY cseq=$X_CSEQ .* full=false resources=sip:alice@127.0.0.1$' '$N'"
    check "list: carol (no publication) is in no partial NOTIFY" lacks "$N" "^RESOURCE cseq=[2-9][0-9]* uri=sip:carol@"
    check "list: refresh -> 200 + partial NOTIFY with every resource that has state" \
        bash -c "grep -q '^REFRESH-RESULT 200 EXPIRES=600$' '$F' && grep -q '^NOTIFY cseq=$REFRESH_CSEQ .* full=false resources=sip:alice@127.0.0.1$' '$N'"
    check "list: unsubscribe -> 200 and no NOTIFY after it" \
        bash -c "grep -q '^UNSUBSCRIBE-RESULT 200 EXPIRES=0$' '$F' && ! sed -n '/^UNSUBSCRIBE-RESULT/,\$p' '$F' | grep -q '^NOTIFY '"
    LIST_FTAG=$(sed -n 's/^From: <sip:watcher@[^>]*>;tag=\([^ \r]*\).*/\1/p' "$RES/w-list.msg" | head -1 | tr -d '\r')
    check "log: list SUBSCRIBEs are REQ lines with supported=eventlist (2 initial, refresh, unsubscribe)" \
        bash -c "[ -n '$LIST_FTAG' ] && [ \"\$(grep 'fixture: REQ SUBSCRIBE ' '$K/kamailio.log' | grep -c 'ftag=$LIST_FTAG .* supported=eventlist t=')\" = 4 ]"
    check "log: rls back-end requests are BACKEND lines, never REQ" \
        bash -c "grep -q 'fixture: BACKEND SUBSCRIBE sip:alice@' '$K/kamailio.log' && ! grep 'fixture: REQ ' '$K/kamailio.log' | grep -q 'src=127.0.0.1:$KAMAILIO_PORT/'"
    check "list: dialog list -> RLMI of alice, bob and alice's dialog-info part" \
        bash -c "grep -q '^NOTIFY cseq=1 .* full=true resources=sip:alice@127.0.0.1,sip:bob@127.0.0.1$' '$RES/w-list-dialog.notifies' &&
                 grep -q '^PART cseq=[0-9]* uri=sip:alice@127.0.0.1 type=application/dialog-info+xml body=.*<state>confirmed</state>' '$RES/w-list-dialog.notifies'"
    check "list: dave (davepw, in no list) may subscribe to buddies" \
        bash -c "grep -q '^SUBSCRIBE-RESULT 200 .* REQUIRE=eventlist$' '$RES/w-list-dave.log' && grep -q '^NOTIFY cseq=1 .* full=true resources=sip:alice@127.0.0.1,sip:bob@127.0.0.1,sip:carol@127.0.0.1$' '$RES/w-list-dave.notifies'"
    check "list: no list URI (nolist) + eventlist -> presence: 200 without Require, NOTIFY without body" \
        bash -c "grep -q '^SUBSCRIBE-RESULT 200 EXPIRES=600 MIN-EXPIRES= REQUIRE=$' '$RES/w-nolist.log' &&
                 grep -q '^NOTIFY cseq=2 event=presence state=active;expires=600 require= full= version= type=$' '$RES/w-nolist.log' &&
                 grep -q '^Contact: <sip:127.0.0.1:$KAMAILIO_PORT;transport=udp>' '$RES/w-nolist.msg'"
    check "list: Expires 30 -> 423 with Min-Expires 60" has "$RES/w-list-min.log" "^SUBSCRIBE-RESULT 423 EXPIRES= MIN-EXPIRES=60 REQUIRE=$"

    # a list subscription open across the restart below: its refresh gets 481
    watch_list w-list-restart -r -n buddies 5 &
    RESTART_LIST_PID=$!
    sleep 1

    # a subscription left open (no unsubscribe) must be in the DB after a clean stop
    watch w-open -n bob 1
    check "subscription without unsubscribe -> 200" has "$RES/w-open.log" "^SUBSCRIBE-RESULT 200 "

    # restart with the same DIR keeps the DB and the port
    OLD_PORT=$KAMAILIO_PORT
    OLD_PID=$KAMAILIO_PID
    "$HERE/stop.sh" "$K" 2>>"$RES/stop.err" || true
    check "stop.sh: process group gone, pid file removed" eval "[ ! -e '$K/kamailio.pid' ] && group_gone $OLD_PID"
    check "stop.sh again is a no-op (exit 0)" "$HERE/stop.sh" "$K"
    # (rows whose contact is the RLS address are rls back-end subscriptions)
    check "open subscription flushed to active_watchers on stop (subs_db_mode 2)" \
        bash -c "[ \"\$(sqlite3 '$K/presence.sqlite' \"select count(*) from active_watchers where presentity_uri='sip:bob@127.0.0.1' and contact not like 'sip:rls@%'\")\" = 1 ]"
    if start_fixture digest; then
        check "restart re-uses the port" test "$KAMAILIO_PORT" = "$OLD_PORT"
        watch w-restart alice 1
        check "publication survives a restart" has "$RES/w-restart.log" "^NOTIFY .*<dm:note>x</dm:note>"
        wait "$RESTART_LIST_PID" || true
        check "list subscription does not survive a restart: refresh -> 481" \
            bash -c "grep -q '^SUBSCRIBE-RESULT 200 ' '$RES/w-list-restart.log' && grep -q '^REFRESH-RESULT 481' '$RES/w-list-restart.log'"
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
