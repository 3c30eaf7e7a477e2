#!/usr/bin/env bash
# Build the SQLite databases of presenced's Kamailio test fixture.
#
# Usage: create-db.sh DIR [DOMAIN]
#
# DOMAIN (default 127.0.0.1) is the SIP domain and digest realm; it must be
# the DOMAIN the server runs with (start.sh passes the same value). Uses the
# schema files of Debian's kamailio-sqlite-modules package
# (/usr/share/kamailio/db_sqlite/, override with KAMAILIO_SCHEMA_DIR) and
# (re)creates, in WAL journal mode:
#   DIR/auth.sqlite      subscriber table with the users below (+ xcap, empty);
#                        only read at run time (auth_db, presence_xml)
#   DIR/presence.sqlite  presentity, active_watchers, watchers (presence module)
# Two files because db_sqlite sets no busy timeout: keeping the only writer
# (presence) alone in its file avoids "database is locked".
# Users (password "<user>pw"): alice, bob, carol, watcher.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: create-db.sh DIR [DOMAIN]" >&2
    exit 2
fi
DIR=$1
DOMAIN=${2:-127.0.0.1}
SCHEMA_DIR=${KAMAILIO_SCHEMA_DIR:-/usr/share/kamailio/db_sqlite}
USERS=(alice bob carol watcher)

command -v sqlite3 >/dev/null || { echo "create-db.sh: the sqlite3 CLI is missing (apt-get install sqlite3)" >&2; exit 1; }
command -v md5sum >/dev/null || { echo "create-db.sh: md5sum is missing (coreutils)" >&2; exit 1; }
for part in standard auth_db presence; do
    [ -r "$SCHEMA_DIR/$part-create.sql" ] || {
        echo "create-db.sh: missing $SCHEMA_DIR/$part-create.sql (apt-get install kamailio-sqlite-modules)" >&2
        exit 1
    }
done
# the domain ends up in SQL literals below
[[ "$DOMAIN" =~ ^[A-Za-z0-9.-]+$ ]] || { echo "create-db.sh: bad domain '$DOMAIN'" >&2; exit 2; }

mkdir -p "$DIR"
for name in auth presence; do
    db="$DIR/$name.sqlite"
    rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
    # standard-create.sql makes the 'version' table the others insert into
    cat "$SCHEMA_DIR/standard-create.sql" \
        "$SCHEMA_DIR/auth_db-create.sql" \
        "$SCHEMA_DIR/presence-create.sql" | sqlite3 -bail "$db"
    sqlite3 "$db" "PRAGMA journal_mode=WAL;" >/dev/null
done

sql="BEGIN;"
for u in "${USERS[@]}"; do
    p="${u}pw"
    ha1=$(printf '%s' "$u:$DOMAIN:$p" | md5sum | cut -d' ' -f1)
    ha1b=$(printf '%s' "$u@$DOMAIN:$DOMAIN:$p" | md5sum | cut -d' ' -f1)
    sql+="INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES ('$u', '$DOMAIN', '$p', '$ha1', '$ha1b');"
done
sql+="COMMIT;"
sqlite3 -bail "$DIR/auth.sqlite" "$sql"

echo "create-db.sh: made $DIR/auth.sqlite and $DIR/presence.sqlite (domain $DOMAIN; users ${USERS[*]})" >&2
