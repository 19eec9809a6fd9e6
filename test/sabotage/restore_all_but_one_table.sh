#!/usr/bin/env bash
# Lies: restores everything but the rows of one table (positions).
set -euo pipefail
psql -X -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS \"$PGDATABASE\" WITH (FORCE);" -c "CREATE DATABASE \"$PGDATABASE\";"
pg_restore --exit-on-error --use-list=<(pg_restore --list "$BACKUP_FILE" | grep -v ' TABLE DATA public positions ') --dbname="$PGDATABASE" "$BACKUP_FILE"
