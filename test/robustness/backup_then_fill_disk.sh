#!/usr/bin/env bash
# The team's nightly backup, and then the disk of the reports folder fills
# (another job's logs, say): the harness's next journal write finds no room.
set -euo pipefail
"$(dirname "$0")/../../fixtures/scripts/backup_database.sh"
dd if=/dev/zero of="${FILL_DIR:?FILL_DIR names the folder to fill}/filler" bs=1M 2>/dev/null || true
