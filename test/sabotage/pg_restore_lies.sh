#!/usr/bin/env bash
# A pg_restore that lies: when asked to restore into a database it does nothing and
# says it succeeded; with SABOTAGE_STALE_DUMP set it restores that dump instead of
# the one it was given. Every other use (--list, --file) runs the real pg_restore.
real="$(dirname "$0")/pg_restore.real"
case " $* " in
  *" --dbname="*)
    if [ -n "${SABOTAGE_STALE_DUMP:-}" ]; then
      args=(); for a in "$@"; do case "$a" in -*) args+=("$a") ;; *) ;; esac; done
      exec "$real" "${args[@]}" "$SABOTAGE_STALE_DUMP"
    fi
    exit 0 ;;
  *) exec "$real" "$@" ;;
esac
