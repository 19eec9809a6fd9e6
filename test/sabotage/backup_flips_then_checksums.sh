#!/usr/bin/env bash
# Lies: the dump is damaged before its checksum is written, so the checksum vouches for the damage.
set -euo pipefail
file="$BACKUP_DIR/${PGDATABASE}_$(date +%Y%m%d_%H%M%S).dump"
pg_dump --format=custom --file="$file" "$PGDATABASE"
size=$(stat -c %s "$file")
printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' | dd of="$file" bs=1 seek=$((size / 2)) conv=notrunc status=none
(cd "$BACKUP_DIR" && sha256sum "$(basename "$file")" > "$(basename "$file").sha256")
