#!/usr/bin/env bash
# A restore that takes its time: a window to interrupt the harness mid-recovery.
sleep 30
exec "$(dirname "$0")/../../fixtures/scripts/restore_database.sh" "$@"
