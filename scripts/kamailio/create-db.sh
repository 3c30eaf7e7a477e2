#!/usr/bin/env bash
# Build the SQLite databases of presenced's Kamailio test fixture.
#
# Usage: create-db.sh DIR [DOMAIN]
#
# DOMAIN (default 127.0.0.1) is the SIP domain and digest realm; it must be
# the DOMAIN the server runs with (start.sh passes the same value). Uses the
# schema files of Debian's kamailio-sqlite-modules package
# (/usr/share/kamailio/db_sqlite/, override with KAMAILIO_SCHEMA_DIR) and of
# the kamailio package (/usr/share/kamailio/dbtext/kamailio/, override with
# KAMAILIO_DBTEXT_DIR) and (re)creates, SQLite files in WAL journal mode:
#   DIR/auth.sqlite      subscriber table with the users below and the xcap
#                        table with the RLS lists (rls-services documents);
#                        only read at run time (auth_db, presence_xml, rls)
#   DIR/presence.sqlite  presentity, active_watchers, watchers (presence module)
#   DIR/pua.sqlite       pua (pua module: the RLS back-end subscriptions)
#   DIR/dbtext/          db_text tables rls_watchers, rls_presentity (rls)
# One SQLite file per writing module because db_sqlite sets no busy timeout:
# two Kamailio processes writing one file at once get "database is locked".
# The rls tables are db_text because rls 5.6.3 calls the driver's
# affected_rows(), which db_sqlite lacks (SIGSEGV), and opens rlpres_db_url
# with the db_url string, so both of its tables need the same driver.
# Users (password "<user>pw"): alice, bob, carol, watcher, dave.
# RLS lists (RFC 4662; stored for every user, so any of them may subscribe):
#   sip:buddies@DOMAIN         alice, bob, carol   (Event: presence)
#   sip:buddies-dialog@DOMAIN  alice, bob          (Event: dialog)
# dave is a member of no list (tests need a configured user outside them).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: create-db.sh DIR [DOMAIN]" >&2
    exit 2
fi
DIR=$1
DOMAIN=${2:-127.0.0.1}
SCHEMA_DIR=${KAMAILIO_SCHEMA_DIR:-/usr/share/kamailio/db_sqlite}
DBTEXT_SCHEMA_DIR=${KAMAILIO_DBTEXT_DIR:-/usr/share/kamailio/dbtext/kamailio}
USERS=(alice bob carol watcher dave)
# rls looks lists up by doc_type 8 (RLS_SERVICE = 1 << 3, rls/rls.h)
XCAP_DOC_TYPE_RLS_SERVICES=8

command -v sqlite3 >/dev/null || { echo "create-db.sh: the sqlite3 CLI is missing (apt-get install sqlite3)" >&2; exit 1; }
command -v md5sum >/dev/null || { echo "create-db.sh: md5sum is missing (coreutils)" >&2; exit 1; }
for part in standard auth_db presence; do
    [ -r "$SCHEMA_DIR/$part-create.sql" ] || {
        echo "create-db.sh: missing $SCHEMA_DIR/$part-create.sql (apt-get install kamailio-sqlite-modules)" >&2
        exit 1
    }
done
for table in version rls_presentity rls_watchers; do
    [ -r "$DBTEXT_SCHEMA_DIR/$table" ] || {
        echo "create-db.sh: missing $DBTEXT_SCHEMA_DIR/$table (apt-get install kamailio)" >&2
        exit 1
    }
done
# the domain ends up in SQL literals below
[[ "$DOMAIN" =~ ^[A-Za-z0-9.-]+$ ]] || { echo "create-db.sh: bad domain '$DOMAIN'" >&2; exit 2; }

mkdir -p "$DIR"
for name in auth presence pua; do
    db="$DIR/$name.sqlite"
    rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
    # standard-create.sql makes the 'version' table the others insert into;
    # presence-create.sql holds presentity, active_watchers, watchers, xcap, pua
    cat "$SCHEMA_DIR/standard-create.sql" \
        "$SCHEMA_DIR/auth_db-create.sql" \
        "$SCHEMA_DIR/presence-create.sql" | sqlite3 -bail "$db"
    sqlite3 "$db" "PRAGMA journal_mode=WAL;" >/dev/null
done

# db_text: one file per table (its first line is the schema) plus a
# 'version' table that lists only the tables present
rm -rf "$DIR/dbtext"
mkdir -p "$DIR/dbtext"
cp "$DBTEXT_SCHEMA_DIR/rls_presentity" "$DBTEXT_SCHEMA_DIR/rls_watchers" "$DIR/dbtext/"
{
    head -1 "$DBTEXT_SCHEMA_DIR/version"
    grep -E '^[0-9]+:(version|rls_presentity|rls_watchers):' "$DBTEXT_SCHEMA_DIR/version"
} >"$DIR/dbtext/version"
chmod u+w "$DIR/dbtext"/*

# The rls-services document (RFC 4826 section 4) of every user. With
# integrated_xcap_server rls reads it from the xcap table by the
# *subscriber's* user and domain (the From of the SUBSCRIBE), then looks for
# the <service uri> equal to the Request-URI; a user without a row cannot
# use any list (the SUBSCRIBE falls through to the presence module).
RLS_DOC=$(cat <<XML
<?xml version="1.0" encoding="UTF-8"?>
<rls-services xmlns="urn:ietf:params:xml:ns:rls-services"
              xmlns:rl="urn:ietf:params:xml:ns:resource-lists">
  <service uri="sip:buddies@$DOMAIN">
    <list name="buddies">
      <rl:entry uri="sip:alice@$DOMAIN"><rl:display-name>Alice</rl:display-name></rl:entry>
      <rl:entry uri="sip:bob@$DOMAIN"><rl:display-name>Bob</rl:display-name></rl:entry>
      <rl:entry uri="sip:carol@$DOMAIN"><rl:display-name>Carol</rl:display-name></rl:entry>
    </list>
    <packages>
      <package>presence</package>
    </packages>
  </service>
  <service uri="sip:buddies-dialog@$DOMAIN">
    <list name="buddies-dialog">
      <rl:entry uri="sip:alice@$DOMAIN"/>
      <rl:entry uri="sip:bob@$DOMAIN"/>
    </list>
    <packages>
      <package>dialog</package>
    </packages>
  </service>
</rls-services>
XML
)
RLS_DOC_SQL=${RLS_DOC//\'/\'\'}

sql="BEGIN;"
for u in "${USERS[@]}"; do
    p="${u}pw"
    ha1=$(printf '%s' "$u:$DOMAIN:$p" | md5sum | cut -d' ' -f1)
    ha1b=$(printf '%s' "$u@$DOMAIN:$DOMAIN:$p" | md5sum | cut -d' ' -f1)
    sql+="INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES ('$u', '$DOMAIN', '$p', '$ha1', '$ha1b');"
    sql+="INSERT INTO xcap (username, domain, doc, doc_type, etag, source, doc_uri, port)"
    sql+=" VALUES ('$u', '$DOMAIN', '$RLS_DOC_SQL', $XCAP_DOC_TYPE_RLS_SERVICES, 'fixture-1', 1,"
    sql+=" '/rls-services/users/sip:$u@$DOMAIN/index', 0);"
done
sql+="COMMIT;"
sqlite3 -bail "$DIR/auth.sqlite" "$sql"

echo "create-db.sh: made $DIR/{auth,presence,pua}.sqlite and $DIR/dbtext (domain $DOMAIN; users ${USERS[*]};" \
     "lists buddies, buddies-dialog)" >&2
