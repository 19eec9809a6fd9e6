#!/usr/bin/env bash
# Lies: a real restore, then one reference row of the team's that the dump never had.
set -euo pipefail
psql -X -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS \"$PGDATABASE\" WITH (FORCE);" -c "CREATE DATABASE \"$PGDATABASE\";"
pg_restore --exit-on-error --no-owner --no-acl --dbname="$PGDATABASE" "$BACKUP_FILE"
psql -X -v ON_ERROR_STOP=1 -c "insert into rd_reference values (1004, 'desk D', false);"
