#!/usr/bin/env bash
# Build a local TimescaleDB image without any image registry: FROM the local
# PostgreSQL image (scripts/docker/build-local-image.sh), plus the files of a
# TimescaleDB build made for the same PostgreSQL major (a private copy of the
# host's PostgreSQL with TimescaleDB built into it, e.g. by the team's
# build-timescaledb.sh into /opt/restore-drill-timescaledb/<version>-pg<major>).
# The files are copied from that build when the image is built; nothing of
# TimescaleDB is kept in this repository.
#
# What goes in, found with the build's own pg_config:
#   --pkglibdir:          timescaledb.so (the loader) and timescaledb*-<version>.so
#   --sharedir/extension: timescaledb.control and timescaledb--*.sql
# and, as the official timescale/timescaledb image does, postgresql.conf.sample
# gets shared_preload_libraries = 'timescaledb', so every cluster the
# entrypoint initialises preloads it (no -c needed). Unlike the official
# image: telemetry is off (no network here), and the extension is not created
# in template1/postgres at initdb (a drill creates it where it needs it).
#
# usage: build-timescaledb-image.sh [--version V] [--pg-bin DIR] [--base IMAGE] [--force] [IMAGE]
#   --version V    TimescaleDB version (default 2.28.3)
#   --pg-bin DIR   bin folder of the PostgreSQL copy TimescaleDB V was built into
#                  (default /opt/restore-drill-timescaledb/V-pg<major>/usr/lib/postgresql/<major>/bin)
#   --base IMAGE   the PostgreSQL image to build on (default restore-drill/postgres:15-local)
#   IMAGE          default restore-drill/timescaledb:V-pg<major>-local
#   --force        rebuild even if IMAGE exists and was built from the same inputs
# An existing IMAGE is reused when its recipe (this script, the base image, the
# TimescaleDB files) is unchanged; otherwise it is rebuilt (seconds). Each build
# ends with a smoke test: a container from the image runs `create extension
# timescaledb` and must report version V.
# Needs docker (daemon running) and the base image; no network.
set -euo pipefail

log() { printf '[build-timescaledb-image %3ss] %s\n' "$SECONDS" "$*"; }
die() { printf '[build-timescaledb-image] error: %s\n' "$*" >&2; exit 1; }

version=2.28.3
pg_bin=
base=restore-drill/postgres:15-local
force=0
image_arg=
while [ "$#" -gt 0 ]; do
	case "$1" in
	--version) [ "$#" -ge 2 ] || die "--version needs a value"; version=$2; shift ;;
	--version=*) version=${1#--version=} ;;
	--pg-bin) [ "$#" -ge 2 ] || die "--pg-bin needs a value"; pg_bin=$2; shift ;;
	--pg-bin=*) pg_bin=${1#--pg-bin=} ;;
	--base) [ "$#" -ge 2 ] || die "--base needs a value"; base=$2; shift ;;
	--base=*) base=${1#--base=} ;;
	--force) force=1 ;;
	-h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	-*) die "unknown option $1 (try --help)" ;;
	*) image_arg=$1 ;;
	esac
	shift
done
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--version must look like 2.28.3, not '$version'"

command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "docker daemon not reachable (docker info fails)"
base_info=$(docker image inspect -f '{{.Id}} {{range .Config.Env}}{{println .}}{{end}}' "$base" 2>/dev/null) ||
	die "base image $base is not present; build it first: scripts/docker/build-local-image.sh"
base_id=${base_info%% *}
major=$(sed -n 's/^PG_MAJOR=//p' <<<"$base_info")
[ -n "$major" ] || die "base image $base does not say its PostgreSQL major (no PG_MAJOR); build it with scripts/docker/build-local-image.sh"
image=${image_arg:-restore-drill/timescaledb:$version-pg$major-local}

pg_bin=${pg_bin:-/opt/restore-drill-timescaledb/$version-pg$major/usr/lib/postgresql/$major/bin}
[ -x "$pg_bin/pg_config" ] ||
	die "no PostgreSQL copy with TimescaleDB $version at $pg_bin (no pg_config); build it first (the team's build-timescaledb.sh --version $version) or pass --pg-bin"
build_version=$("$pg_bin/postgres" --version)
build_major=$(sed -E 's/^[^0-9]*([0-9]+)\..*/\1/' <<<"$build_version")
[ "$build_major" = "$major" ] || die "$pg_bin is PostgreSQL $build_major, but $base is $major: TimescaleDB must be built for the server's major"
libdir=$("$pg_bin/pg_config" --pkglibdir)
extdir=$("$pg_bin/pg_config" --sharedir)/extension
for f in "$libdir/timescaledb.so" "$libdir/timescaledb-$version.so" "$extdir/timescaledb.control" "$extdir/timescaledb--$version.sql"; do
	[ -f "$f" ] || die "missing $f: is TimescaleDB $version built into $pg_bin?"
done
grep -q "^default_version = '$version'" "$extdir/timescaledb.control" ||
	die "$extdir/timescaledb.control does not default to $version: $(grep default_version "$extdir/timescaledb.control")"

# The image's inputs, fingerprinted: this script, the base image, the files copied.
shopt -s nullglob
libs=("$libdir"/timescaledb.so "$libdir"/timescaledb*-"$version".so)
exts=("$extdir"/timescaledb.control "$extdir"/timescaledb--*.sql)
shopt -u nullglob
recipe=$({ sha256sum <"${BASH_SOURCE[0]}"; echo "$base_id"; cat "${libs[@]}" "${exts[@]}" | sha256sum; } | sha256sum | cut -c1-16)

if have=$(docker image inspect -f '{{index .Config.Labels "restore-drill.recipe"}}' "$image" 2>/dev/null); then
	if [ "$force" = 0 ] && [ "$have" = "$recipe" ]; then
		log "image $image already exists, built from the same inputs (--force rebuilds)"
		exit 0
	fi
	[ "$have" = "$recipe" ] || log "image $image was built from other inputs (recipe ${have:-none}, now $recipe): rebuilding"
fi

# Where the base image's PostgreSQL looks for them (Debian: /usr/lib/postgresql/<major>/lib, /usr/share/postgresql/<major>).
in_base() { docker run --rm --network none --entrypoint "$1" "$base" "${@:2}"; }
image_libdir=$(in_base pg_config --pkglibdir)
image_sharedir=$(in_base pg_config --sharedir)
image_version=$(in_base postgres --version)
log "TimescaleDB $version from $pg_bin ($build_version)"
log "into $base ($image_version)"
if [ "${build_version#* (PostgreSQL) }" != "${image_version#* (PostgreSQL) }" ]; then
	# Extensions are built against a major's headers; minor releases keep that ABI. The smoke test below proves it loads.
	log "note: built against ${build_version#* (PostgreSQL) }, the image runs ${image_version#* (PostgreSQL) } (same major)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/restore-drill-tsdb-image.XXXXXX")
smoke=
cleanup() {
	local rc=$?
	[ -z "$smoke" ] || docker rm -f "$smoke" >/dev/null 2>&1 || :
	rm -rf "$work"
	[ "$rc" = 0 ] || log "failed (exit $rc)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/lib" "$work/extension"
cp "${libs[@]}" "$work/lib/"
cp "${exts[@]}" "$work/extension/"
chmod 0755 "$work"/lib/*.so
chmod 0644 "$work"/extension/*
cat >"$work/Dockerfile" <<-EOF
	FROM $base
	COPY lib/ $image_libdir/
	COPY extension/ $image_sharedir/extension/
	# As the official image: preloaded in every cluster initdb makes from the sample.
	RUN sed -r -i "s/[#]*\\s*(shared_preload_libraries)\\s*=\\s*'(.*)'/\\1 = 'timescaledb,\\2'/;s/,'/'/" $image_sharedir/postgresql.conf.sample \\
	 && grep -q "^shared_preload_libraries = 'timescaledb'" $image_sharedir/postgresql.conf.sample \\
	 && printf '%s\\n' "timescaledb.telemetry_level = off" >>$image_sharedir/postgresql.conf.sample
	ENV TIMESCALEDB_VERSION=$version
	LABEL restore-drill.recipe=$recipe restore-drill.timescaledb=$version restore-drill.base=$base
EOF

old_id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || :)
log "docker build -> $image"
# (-q and 2>&1: hide the CLI's "legacy builder is deprecated" banner unless it fails)
out=$(DOCKER_BUILDKIT=0 docker build -q -t "$image" "$work" 2>&1) || die "docker build failed: $out"

log "smoke test: create extension timescaledb in a container of $image"
smoke=$(docker run -d --network none -e POSTGRES_PASSWORD=smoke "$image")
# TCP only answers once the entrypoint's init (a socket-only server) is over.
for _ in $(seq 1 120); do
	docker exec -u postgres "$smoke" pg_isready -q -h 127.0.0.1 2>/dev/null && break
	sleep 0.5
done
said=$(docker exec -u postgres "$smoke" psql -XAtq -v ON_ERROR_STOP=1 \
	-c "select current_setting('shared_preload_libraries')" \
	-c 'create extension timescaledb' \
	-c "select extversion from pg_extension where extname = 'timescaledb'" 2>&1) || {
	docker logs --tail 30 "$smoke" >&2 || :
	die "create extension timescaledb failed in $image: $said"
}
[ "$(printf '%s\n' "$said" | tail -n1)" = "$version" ] || die "$image: expected timescaledb $version, got: $said"
[ "$(printf '%s\n' "$said" | head -n1)" = timescaledb ] || die "$image: shared_preload_libraries is '$(printf '%s\n' "$said" | head -n1)', not 'timescaledb'"

if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect -f '{{.Id}}' "$image")" ]; then
	if docker image rm "$old_id" >/dev/null 2>&1; then log "removed superseded image ${old_id:7:12}"; fi
fi
log "built $image: timescaledb $version preloaded and created ($(docker image inspect -f '{{.Id}}' "$image" | cut -c8-19))"
