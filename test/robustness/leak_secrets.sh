#!/usr/bin/env bash
# A careless team script: it prints every secret it was given, on stdout and
# stderr, and tells the test what they were (LEAK_FILE, outside the reports).
# As a backup script it then really backs up (a passing script's output is
# recorded too); as a restore script it fails, so its output lands in every
# place the harness reports a failure.
set -euo pipefail
printf '%s\n' "$PGPASSWORD" >> "${LEAK_FILE:?LEAK_FILE names where the secrets go}"
echo "connecting with password $PGPASSWORD"
echo "PGPASSWORD=$PGPASSWORD" >&2
echo "url postgresql://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$PGDATABASE" >&2
if [ -n "${BACKUP_DIR:-}" ] && [ -z "${BACKUP_FILE:-}" ]; then
  exec "$(dirname "$0")/../../fixtures/scripts/backup_database.sh"
fi
echo "restore failed for $PGPASSWORD" >&2
exit 3
