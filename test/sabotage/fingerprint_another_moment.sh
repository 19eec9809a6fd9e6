#!/usr/bin/env bash
# Lies: takes the fingerprint, then the dump a moment later, apart. The
# workload writes in between, so the sidecar does not describe the dump.
set -euo pipefail
BACKUP_FILE="$BACKUP_DIR/${PGDATABASE}_apart.dump"
"$RESTORE_DRILL" fingerprint --out "$BACKUP_FILE.fingerprint.json"
sleep 1
pg_dump --format=custom --file="$BACKUP_FILE" "$PGDATABASE"
(cd "$BACKUP_DIR" && sha256sum "$(basename "$BACKUP_FILE")" > "$(basename "$BACKUP_FILE").sha256")
