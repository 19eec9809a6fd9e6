#!/usr/bin/env bash
# A pg_dump that lies: instead of dumping, it copies an old dump (SABOTAGE_STALE_DUMP)
# to the file it was asked to write, and exits 0.
for a in "$@"; do case "$a" in --file=*) cp "$SABOTAGE_STALE_DUMP" "${a#--file=}"; exit 0 ;; esac; done
exec "$(dirname "$0")/pg_dump.real" "$@"
