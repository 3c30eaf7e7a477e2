#!/usr/bin/env bash
# Publish a presence or dialog state to the Kamailio fixture with SIPp
# (scripts/sipp/publish-*.xml), as a user agent of USER would.
#
# Usage: publish.sh -d KAMAILIO_DIR [-t udp|tcp] [-u USER] [-P PASSWORD]
#                   [-x EXPIRES] COMMAND
#   COMMAND:
#     presence BASIC ACTIVITY NOTE    BASIC open|closed, ACTIVITY an RPID
#                                     activity (away, on-the-phone, busy, ...),
#                                     NOTE free text
#     dialog STATE DIRECTION [hold]   STATE trying|proceeding|early|confirmed|
#                                     terminated, DIRECTION initiator|recipient,
#                                     hold: +sip.rendering=no on the local target
#     unpublish presence|dialog       remove USER's publication (Expires: 0)
#
#   -d  the fixture's dir (start.sh's KAMAILIO_DIR; its env file is read)
#   -t  transport (default udp)
#   -u  user (default alice); the password is "<user>pw" unless -P
#   -x  Expires of the publication (default 3600)
#
# The SIP-ETag of each user and event is kept in KAMAILIO_DIR/etag-USER-EVENT
# and sent as SIP-If-Match next time, so a user keeps one publication per
# event (on 412 the ETag is dropped and a new publication is made). Dialog
# states describe one call (dialog d-USER-N) until a terminated one; the next
# dialog command starts call N+1 in a new publication. SIPp
# logs go to KAMAILIO_DIR/sipp/.
# Prints one line on stdout:  PUBLISH-RESULT <code>   (408 = no answer)
# Exit 0 only on 200; 1 otherwise; 2 on a usage error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SIPP_DIR="$HERE/sipp"
FREE_PORT="$HERE/kamailio/free-port.sh"

usage() {
    echo "usage: publish.sh -d KAMAILIO_DIR [-t udp|tcp] [-u USER] [-P PASSWORD] [-x EXPIRES]" \
         "presence BASIC ACTIVITY NOTE | dialog STATE DIRECTION [hold] | unpublish presence|dialog" >&2
    exit 2
}

KDIR=""
TRANSPORT=udp
USER_NAME=alice
PASSWORD=""
EXPIRES=3600
while [ $# -gt 0 ]; do
    case "$1" in
        -d) [ $# -ge 2 ] || usage; KDIR=$2; shift 2 ;;
        -t) [ $# -ge 2 ] || usage; TRANSPORT=$2; shift 2 ;;
        -u) [ $# -ge 2 ] || usage; USER_NAME=$2; shift 2 ;;
        -P) [ $# -ge 2 ] || usage; PASSWORD=$2; shift 2 ;;
        -x) [ $# -ge 2 ] || usage; EXPIRES=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        -*) echo "publish.sh: unknown option '$1'" >&2; usage ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || usage
[ -n "$KDIR" ] || { echo "publish.sh: -d KAMAILIO_DIR is required" >&2; usage; }
[ -s "$KDIR/env" ] || { echo "publish.sh: $KDIR/env not found (start the fixture with scripts/kamailio/start.sh)" >&2; exit 2; }
case "$TRANSPORT" in
    udp) TFLAG=u1 ;;
    tcp) TFLAG=t1 ;;
    *) echo "publish.sh: -t must be udp or tcp" >&2; usage ;;
esac
[[ "$USER_NAME" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "publish.sh: bad user '$USER_NAME'" >&2; exit 2; }
[[ "$EXPIRES" =~ ^[0-9]+$ ]] || { echo "publish.sh: bad expires '$EXPIRES'" >&2; exit 2; }
PASSWORD=${PASSWORD:-${USER_NAME}pw}

KAMAILIO_PORT=""
KAMAILIO_DOMAIN=""
# shellcheck disable=SC1091
. "$KDIR/env"
if [ -z "$KAMAILIO_PORT" ] || [ -z "$KAMAILIO_DOMAIN" ]; then
    echo "publish.sh: $KDIR/env lacks KAMAILIO_PORT/KAMAILIO_DOMAIN" >&2
    exit 2
fi
OUT="$KDIR/sipp"
mkdir -p "$OUT"

# xml_text STRING: STRING escaped for XML character data
xml_text() {
    local s=$1
    s=${s//&/&amp;}
    s=${s//</&lt;}
    s=${s//>/&gt;}
    printf '%s' "$s"
}

# run_publish EVENT EXPIRES IFMATCH-HEADER sipp-keys... -> sets RESULT_CODE, RESULT_ETAG
run_publish() {
    local ev=$1 exp=$2 ifmatch=$3; shift 3
    local base n=1 line rc=0
    while [ -e "$OUT/publish-$ev-$USER_NAME-$n.log" ]; do n=$((n + 1)); done
    base="$OUT/publish-$ev-$USER_NAME-$n"
    : >"$base.log"
    timeout 15 sipp "127.0.0.1:$KAMAILIO_PORT" -sf "$SIPP_DIR/publish-$ev.xml" -t "$TFLAG" \
        -i 127.0.0.1 -p "$("$FREE_PORT")" -m 1 -nostdin \
        -timeout 10s -timeout_error \
        -au "$USER_NAME" -ap "$PASSWORD" -auth_uri "$USER_NAME@$KAMAILIO_DOMAIN" \
        -key user "$USER_NAME" -key domain "$KAMAILIO_DOMAIN" \
        -key expires "$exp" -key ifmatch "$ifmatch" "$@" \
        -trace_msg -message_file "$base.msg" \
        -trace_logs -log_file "$base.log" \
        >"$base.out" 2>&1 </dev/null || rc=$?
    line=$(grep -m1 '^PUBLISH-RESULT ' "$base.log" || true)
    RESULT_CODE=408
    RESULT_ETAG=""
    if [[ "$line" =~ ^PUBLISH-RESULT\ ([0-9]+)\ ETAG=([^ ]*) ]]; then
        RESULT_CODE=${BASH_REMATCH[1]}
        RESULT_ETAG=${BASH_REMATCH[2]}
    else
        echo "publish.sh: no answer from 127.0.0.1:$KAMAILIO_PORT (sipp exit $rc; see $base.*)" >&2
    fi
}

# publish EVENT EXPIRES sipp-keys...: one publication, ETag kept/refreshed
publish() {
    local ev=$1 exp=$2; shift 2
    local etag_file="$KDIR/etag-$USER_NAME-$ev" ifmatch="X-Publish: initial"
    [ -s "$etag_file" ] && ifmatch="SIP-If-Match: $(cat "$etag_file")"
    run_publish "$ev" "$exp" "$ifmatch" "$@"
    if [ "$RESULT_CODE" = 412 ] && [ "$exp" != 0 ]; then
        # the server does not know the kept ETag (expired, new DB): publish anew
        rm -f "$etag_file"
        run_publish "$ev" "$exp" "X-Publish: initial" "$@"
    fi
    if [ "$RESULT_CODE" = 200 ]; then
        if [ "$exp" = 0 ]; then
            rm -f "$etag_file"
        elif [ -n "$RESULT_ETAG" ]; then
            printf '%s\n' "$RESULT_ETAG" >"$etag_file"
        fi
    elif [ "$exp" = 0 ] && [ "$RESULT_CODE" = 412 ]; then
        rm -f "$etag_file"   # nothing left to remove on the server
    fi
    echo "PUBLISH-RESULT $RESULT_CODE"
    [ "$RESULT_CODE" = 200 ]
}

# dialog keys for USER: one dialog per call (d-USER-N), version counted up
# per publish. Kamailio refuses to modify a publication whose dialog is
# terminated ("Trying to update an already terminated state. Skipping
# update."), so a terminated dialog ends the call: end_call drops the ETag and
# the next dialog command publishes call N+1 anew (the terminated one stays
# until it expires; watchers leave terminated dialogs out).
dialog_keys() {
    local state=$1 direction=$2 hold=$3 vfile="$KDIR/dialog-version-$USER_NAME" version=0 peer=bob params=""
    local call
    call=$(current_call)
    [ -s "$vfile" ] && version=$(cat "$vfile")
    version=$((version + 1))
    echo "$version" >"$vfile"
    [ "$USER_NAME" = bob ] && peer=alice
    [ "$hold" = hold ] && params='<param pname="+sip.rendering" pvalue="no"/>'
    DKEYS=(-key state "$state" -key direction "$direction" -key peer "$peer"
           -key dialog_id "d-$USER_NAME-$call" -key version "$version"
           -key target_params "$params")
}
current_call() {
    local cfile="$KDIR/dialog-call-$USER_NAME"
    if [ -s "$cfile" ]; then cat "$cfile"; else echo 1; fi
}
end_call() {
    local call
    call=$(current_call)
    echo $((call + 1)) >"$KDIR/dialog-call-$USER_NAME"
    rm -f "$KDIR/etag-$USER_NAME-dialog"
}

CMD=$1; shift
case "$CMD" in
    presence)
        [ $# -eq 3 ] || usage
        case "$1" in open|closed) ;; *) echo "publish.sh: BASIC must be open or closed" >&2; exit 2 ;; esac
        [[ "$2" =~ ^[A-Za-z][A-Za-z0-9-]*$ ]] || { echo "publish.sh: bad ACTIVITY '$2'" >&2; exit 2; }
        publish presence "$EXPIRES" -key basic "$1" -key activity "$2" -key note "$(xml_text "$3")"
        ;;
    dialog)
        [ $# -eq 2 ] || [ $# -eq 3 ] || usage
        case "$1" in trying|proceeding|early|confirmed|terminated) ;; *) echo "publish.sh: bad STATE '$1'" >&2; exit 2 ;; esac
        case "$2" in initiator|recipient) ;; *) echo "publish.sh: DIRECTION must be initiator or recipient" >&2; exit 2 ;; esac
        [ $# -eq 2 ] || [ "$3" = hold ] || usage
        dialog_keys "$1" "$2" "${3:-}"
        publish dialog "$EXPIRES" "${DKEYS[@]}"
        [ "$1" != terminated ] || end_call
        ;;
    unpublish)
        [ $# -eq 1 ] || usage
        [ -s "$KDIR/etag-$USER_NAME-$1" ] || { echo "publish.sh: no kept ETag for $USER_NAME/$1: nothing published by this script" >&2; exit 1; }
        case "$1" in
            presence) publish presence 0 -key basic closed -key activity away -key note "" ;;
            dialog) dialog_keys terminated recipient ""; publish dialog 0 "${DKEYS[@]}" ;;
            *) usage ;;
        esac
        ;;
    *)
        echo "publish.sh: unknown command '$CMD'" >&2
        usage
        ;;
esac
