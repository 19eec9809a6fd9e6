#!/usr/bin/env bash
# Lies: ignores BACKUP_FILE and restores the dump at a fixed path (an older one: another run's).
set -euo pipefail
stale=${1:?the fixed dump path}
psql -X -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS \"$PGDATABASE\" WITH (FORCE);" -c "CREATE DATABASE \"$PGDATABASE\";"
pg_restore --exit-on-error --dbname="$PGDATABASE" "$stale"
