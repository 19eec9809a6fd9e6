#!/usr/bin/env bash
# Makes a TimescaleDB upgrade target for the version-mismatch drill
# (drills/timescaledb/version-mismatch.yaml): a copy of the NEW build's private
# PostgreSQL with the OLD version's extension files installed beside it, as a
# package upgrade leaves a server. TimescaleDB's documented path restores a dump
# at its own version there, then runs ALTER EXTENSION timescaledb UPDATE.
#
#   upgrade-target.sh OLD_PREFIX NEW_PREFIX [TARGET_PREFIX]
#
# The prefixes are what ../shared/tools/build-timescaledb.sh builds, e.g.
# /opt/restore-drill-timescaledb/2.17.2-pg15. Prints the target's bin folder.
# Reuses a target made from the same two builds.
set -euo pipefail
old=${1:?usage: upgrade-target.sh OLD_PREFIX NEW_PREFIX [TARGET_PREFIX]}
new=${2:?usage: upgrade-target.sh OLD_PREFIX NEW_PREFIX [TARGET_PREFIX]}
old_pg_config=$(ls "$old"/usr/lib/postgresql/*/bin/pg_config)
new_pg_config=$(ls "$new"/usr/lib/postgresql/*/bin/pg_config)
old_lib=$("$old_pg_config" --pkglibdir) new_lib=$("$new_pg_config" --pkglibdir)
old_ext=$("$old_pg_config" --sharedir)/extension new_ext=$("$new_pg_config" --sharedir)/extension
old_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$old_ext/timescaledb.control")
new_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$new_ext/timescaledb.control")
target=${3:-$(dirname "$new")/$new_version+$old_version-$(basename "$new" | sed 's/^[^-]*-//')}
stamp="$target/.upgrade-target-from-$old_version-to-$new_version"
bin=$(dirname "$new_pg_config" | sed "s#^$new#$target#")
if [ -f "$stamp" ]; then echo "$bin"; exit 0; fi
rm -rf "$target"
cp -a "$new" "$target"
target_lib=$(echo "$new_lib" | sed "s#^$new#$target#") target_ext=$(echo "$new_ext" | sed "s#^$new#$target#")
# The versioned libraries and the install script of the old version; the loader and the default stay the new one's.
cp -a "$old_lib/timescaledb-$old_version.so" "$old_lib/timescaledb-tsl-$old_version.so" "$target_lib/"
cp -a "$old_ext/timescaledb--$old_version.sql" "$target_ext/"
[ -f "$target_ext/timescaledb--$old_version--$new_version.sql" ] || { echo "upgrade-target: $new_version has no update script from $old_version" >&2; exit 1; }
touch "$stamp"
echo "$bin"
