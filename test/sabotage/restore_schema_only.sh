#!/usr/bin/env bash
# Lies: restores the tables, none of their rows.
set -euo pipefail
psql -X -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS \"$PGDATABASE\" WITH (FORCE);" -c "CREATE DATABASE \"$PGDATABASE\";"
pg_restore --exit-on-error --schema-only --dbname="$PGDATABASE" "$BACKUP_FILE"
