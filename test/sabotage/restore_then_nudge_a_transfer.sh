#!/usr/bin/env bash
# Lies: a real restore, every row back, then one amount changed by a cent and one audit note by a dot.
set -euo pipefail
psql -X -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS \"$PGDATABASE\" WITH (FORCE);" -c "CREATE DATABASE \"$PGDATABASE\";"
pg_restore --exit-on-error --no-owner --no-acl --dbname="$PGDATABASE" "$BACKUP_FILE"
psql -X -v ON_ERROR_STOP=1 -c "update transfers set amount = amount + 0.01 where id = (select min(id) from transfers);"
psql -X -v ON_ERROR_STOP=1 -c "update audit.events set note = note || '.' where id = 1;"
