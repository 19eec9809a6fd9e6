#!/usr/bin/env bash
# Build a local PostgreSQL image without any image registry: debootstrap a
# minimal Debian rootfs with the suite's own postgresql-<major> and pgbackrest
# (pgBackRest runs beside the server, inside the container), add
# scripts/docker/entrypoint.sh, and `docker import` it with the metadata a
# Dockerfile would have set. Only a Debian apt mirror is needed.
#
# usage: build-local-image.sh [--suite SUITE] [--force] [--no-cache] [IMAGE]
#   --suite SUITE  Debian suite, which fixes the PostgreSQL major:
#                  bookworm -> 15 (default), trixie -> 17
#   IMAGE          image name:tag (default: $RESTORE_DRILL_IMAGE or
#                  restore-drill/postgres:<major>-local, e.g. 15-local)
#   --force        rebuild even if IMAGE exists (reuses the cached rootfs)
#   --no-cache     also re-run debootstrap instead of using the cached rootfs
#                  (implies --force; use it to pick up new Debian updates)
# An existing IMAGE that holds another PostgreSQL major is never overwritten.
# env:
#   RESTORE_DRILL_SUITE           same as --suite (the option wins)
#   RESTORE_DRILL_CACHE           cache folder (default /var/cache/restore-drill);
#                                 rootfs tarballs and .debs are kept per suite
#   RESTORE_DRILL_MIRROR          Debian mirror (default: the host's apt mirror
#                                 for SUITE, else the host's mirror for its own
#                                 release, else http://deb.debian.org/debian)
#   RESTORE_DRILL_SECURITY_MIRROR security mirror (default: likewise, else
#                                 http://deb.debian.org/debian-security)
# Needs root (debootstrap, chroot, ownership-preserving tar), docker,
# debootstrap; the docker daemon must be running.
set -euo pipefail

log() { printf '[build-local-image %3ss] %s\n' "$SECONDS" "$*"; }
die() { printf '[build-local-image] error: %s\n' "$*" >&2; exit 1; }

# The PostgreSQL major each supported suite ships as its (only) default. A
# fixed table rather than a mirror lookup: the default image tag depends on
# it, and "image already exists" must stay an offline, sub-second answer.
# build_rootfs warns if the suite's `postgresql` metapackage disagrees.
suite_pg_major() {
	case "$1" in
	bookworm) echo 15 ;;
	trixie) echo 17 ;;
	*) return 1 ;;
	esac
}

force=0
no_cache=0
suite=${RESTORE_DRILL_SUITE:-bookworm}
image_arg=
while [ "$#" -gt 0 ]; do
	case "$1" in
	--force) force=1 ;;
	--no-cache) force=1 no_cache=1 ;;
	--suite) [ "$#" -ge 2 ] || die "--suite needs a value (bookworm or trixie)"; suite=$2; shift ;;
	--suite=*) suite=${1#--suite=} ;;
	-h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	-*) die "unknown option $1 (try --help)" ;;
	*) image_arg=$1 ;;
	esac
	shift
done

SUITE=$suite
PG_MAJOR=$(suite_pg_major "$SUITE") ||
	die "unsupported suite '$SUITE' (supported: bookworm = PostgreSQL 15, trixie = PostgreSQL 17)"
DEFAULT_IMAGE=restore-drill/postgres:$PG_MAJOR-local
image=${image_arg:-${RESTORE_DRILL_IMAGE:-$DEFAULT_IMAGE}}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
entrypoint_src=$script_dir/entrypoint.sh
[ -r "$entrypoint_src" ] || die "missing $entrypoint_src"
command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "docker daemon not reachable (docker info fails)"

# Fingerprint of both scripts, stored as an image label so an existing image
# built from older scripts can be spotted.
recipe=$(cat "${BASH_SOURCE[0]}" "$entrypoint_src" | sha256sum | cut -c1-16)

# One inspect answers "exists?", "which major?" and "which recipe?".
if info=$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}recipe={{index .Config.Labels "restore-drill.recipe"}}' "$image" 2>/dev/null); then
	have_major=$(sed -n 's/^PG_MAJOR=//p' <<<"$info")
	have=$(sed -n 's/^recipe=//p' <<<"$info")
	# Neither report a PostgreSQL 15 image as the 17 one nor (with --force)
	# replace one with the other, e.g. under a stray $RESTORE_DRILL_IMAGE.
	if [ -n "$have_major" ] && [ "$have_major" != "$PG_MAJOR" ]; then
		die "image $image holds PostgreSQL $have_major, but suite $SUITE builds $PG_MAJOR; name another IMAGE (default for $SUITE: $DEFAULT_IMAGE)"
	fi
	if [ "$force" = 0 ]; then
		log "image $image already exists, not rebuilding (--force rebuilds)"
		if [ "$have" != "$recipe" ]; then
			log "warning: $image was built from different scripts (recipe ${have:-none}, now $recipe); run with --force"
		fi
		exit 0
	fi
fi

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, tar with owners)"
command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"

# First URI the host's apt sources use for suite $1 (one-line *.list and
# deb822 *.sources formats), so we use the same, reachable, mirror.
host_mirror() {
	local suite=$1 f
	{
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -r "$f" ] || continue
			awk -v s="$suite" '$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) == s) print $i
			}' "$f"
		done
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -r "$f" ] || continue
			awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" }
			{
				types = ""; uris = ""; suites = ""; enabled = "yes"
				for (j = 1; j <= NF; j++) {
					if ($j ~ /^[ \t]*#/ || !match($j, /^[A-Za-z-]+:/)) continue
					key = tolower(substr($j, 1, RLENGTH - 1)); val = substr($j, RLENGTH + 1)
					if (key == "types") types = val
					else if (key == "uris") uris = val
					else if (key == "suites") suites = val
					else if (key == "enabled") enabled = tolower(val)
				}
				if (enabled ~ /no/ || (" " types " ") !~ /[ \t]deb[ \t]/) next
				if ((" " suites " ") !~ ("[ \t]" s "[ \t]")) next
				n = split(uris, u, /[ \t]+/)
				for (k = 1; k <= n; k++) if (u[k] != "") { print u[k]; break }
			}' "$f"
		done
	} | head -n1 | sed 's:/*$::'
}

# A host on bookworm usually has no trixie sources; its bookworm mirror (a
# proxy, a local mirror, deb.debian.org) is then the best guess, as it is the
# one known to be reachable. build_rootfs checks the suite is really there.
host_suite=$(sed -n 's/^VERSION_CODENAME=["'\'']\{0,1\}\([a-z]*\).*/\1/p' /etc/os-release 2>/dev/null || :)
mirror=${RESTORE_DRILL_MIRROR:-$(host_mirror "$SUITE")}
[ -n "$mirror" ] || [ -z "$host_suite" ] || mirror=$(host_mirror "$host_suite")
mirror=${mirror:-http://deb.debian.org/debian}
security_mirror=${RESTORE_DRILL_SECURITY_MIRROR:-$(host_mirror "$SUITE-security")}
[ -n "$security_mirror" ] || [ -z "$host_suite" ] || security_mirror=$(host_mirror "$host_suite-security")
security_mirror=${security_mirror:-http://deb.debian.org/debian-security}
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)

cache=${RESTORE_DRILL_CACHE:-/var/cache/restore-drill}
debs=$cache/debs/$SUITE
mkdir -p "$debs"
cache=$(cd "$cache" && pwd) # debootstrap --cache-dir wants an absolute path
debs=$cache/debs/$SUITE
# Older versions of this script (bookworm only) kept the .debs in debs/ itself.
if [ "$SUITE" = bookworm ]; then
	find "$cache/debs" -maxdepth 1 -type f -name '*.deb' -exec mv -t "$debs" {} +
fi
# The rootfs depends on this script (package list, tweaks) and the mirrors,
# not on the entrypoint, which is added at import time: editing the
# entrypoint costs an import (seconds), not a debootstrap (minutes).
rootfs_key=$(printf '%s\n' "$(sha256sum <"${BASH_SOURCE[0]}")" "$SUITE" "$arch" "$mirror" "$security_mirror" | sha256sum | cut -c1-16)
rootfs_tar=$cache/rootfs-$SUITE-pg$PG_MAJOR-$arch-$rootfs_key.tar

# Everything temporary lives in one folder. /var/tmp rather than /tmp:
# debootstrap creates device nodes, which a nodev tmpfs /tmp would break.
work=$(mktemp -d "${TMPDIR:-/var/tmp}/restore-drill-rootfs.XXXXXX")
root=$work/rootfs
cleanup() {
	local rc=$? m
	# debootstrap or our chroot steps may leave proc/sys/dev mounted inside
	# the rootfs if interrupted; unmount (deepest first) before deleting, and
	# never let rm cross into another filesystem (e.g. a bind-mounted /dev).
	if [ -d "$root" ]; then
		awk -v r="$root" 'index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r |
			while read -r m; do umount -l "$m" 2>/dev/null || :; done
	fi
	rm -rf --one-file-system "$work"
	rm -f "$rootfs_tar.partial.$$"
	[ "$rc" = 0 ] || log "failed (exit $rc)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The rootfs as a tar stream; dev/proc/sys stay empty (docker mounts its own).
tar_root() { tar --numeric-owner -C "$root" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf - .; }

# Does URL answer (HTTP 200)? wget comes with debootstrap; curl as a fallback.
url_ok() {
	if command -v wget >/dev/null; then
		wget -q -T 30 -t 2 -O /dev/null "$1"
	elif command -v curl >/dev/null; then
		curl -fsS -m 30 -o /dev/null "$1" 2>/dev/null
	fi
}

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

build_rootfs() {
	# Redis and openssl: the tool's own image (built on this one) runs the whole-system drills' Redis and secrets parts.
	local include=postgresql-$PG_MAJOR,postgresql-client-$PG_MAJOR,pgbackrest,locales,redis-server,openssl
	case "$mirror $security_mirror" in *https:*) include=$include,ca-certificates ;; esac

	# Fail early and plainly if the mirror lacks the suite (a bookworm-only
	# mirror, a typo, no network) rather than deep inside debootstrap or apt.
	local url
	for url in "$mirror/dists/$SUITE/Release" "$mirror/dists/$SUITE-updates/Release" \
		"$security_mirror/dists/$SUITE-security/Release"; do
		url_ok "$url" || die "Debian $SUITE is not reachable: $url fails; set RESTORE_DRILL_MIRROR / RESTORE_DRILL_SECURITY_MIRROR to a mirror that carries $SUITE"
	done

	log "debootstrap $SUITE ($arch, minbase, +$include) from $mirror (takes a few minutes)"
	debootstrap --variant=minbase --arch="$arch" --include="$include" \
		--cache-dir="$debs" "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
		tail -n 30 "$work/debootstrap.log" >&2
		die "debootstrap failed (log above)"
	}
	log "debootstrap done"

	# Pull in $SUITE-updates/-security: debootstrap only sees the point release.
	cat >"$root/etc/apt/sources.list" <<-EOF
		deb $mirror $SUITE main
		deb $mirror $SUITE-updates main
		deb $security_mirror $SUITE-security main
	EOF
	# Never start services inside the chroot, never let a package upgrade
	# create a cluster (the entrypoint owns initdb).
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' "$root/etc/postgresql-common/createcluster.conf"
	grep -q '^create_main_cluster = false' "$root/etc/postgresql-common/createcluster.conf" ||
		echo 'create_main_cluster = false' >>"$root/etc/postgresql-common/createcluster.conf"

	log "apt-get upgrade from $SUITE-updates and $SUITE-security"
	mount -t proc proc "$root/proc"
	# rm first: were it a symlink, writing through it would hit the host.
	rm -f "$root/etc/resolv.conf" && cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	if ! { in_root apt-get -qq update && in_root apt-get -qq -y -o Dpkg::Options::=--force-confold upgrade; } >"$work/apt.log" 2>&1; then
		tail -n 30 "$work/apt.log" >&2
		die "apt-get upgrade in the rootfs failed (log above)"
	fi
	# The table in suite_pg_major against the suite's own default major.
	local default_major
	default_major=$(in_root apt-cache depends postgresql 2>/dev/null |
		sed -n 's/^ *Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -n1)
	if [ "$default_major" != "$PG_MAJOR" ]; then
		log "warning: $SUITE's default PostgreSQL major is ${default_major:-unknown}, not $PG_MAJOR; building $PG_MAJOR anyway (update suite_pg_major)"
	fi
	# shellcheck disable=SC2016 # dpkg-query's own ${...} format
	in_root dpkg-query -W -f='${Package} ${Version}\n' "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR" pgbackrest |
		while read -r p v; do log "  $p $v"; done

	# postgresql-common's postinst created /etc/postgresql/$PG_MAJOR/main during
	# debootstrap; the image must start without any cluster.
	if [ -d "$root/etc/postgresql/$PG_MAJOR/main" ]; then
		in_root pg_dropcluster "$PG_MAJOR" main
	fi

	# Same uid/gid (999) as the official image: debootstrap hands out the next
	# free system id (100), and data directories shared between the two
	# images, or bind-mounted from the host, should keep one owner.
	local old_uid old_gid
	old_uid=$(in_root id -u postgres) old_gid=$(in_root id -g postgres)
	if [ "$old_uid:$old_gid" != 999:999 ]; then
		if in_root getent passwd 999 >/dev/null || in_root getent group 999 >/dev/null; then
			die "uid/gid 999 already taken in the rootfs"
		fi
		in_root groupmod -g 999 postgres
		in_root usermod -u 999 postgres
		find "$root" -xdev \( -uid "$old_uid" -o -gid "$old_gid" \) -print0 |
			while IFS= read -r -d '' f; do
				chown -h "$(stat -c %u "$f" | sed "s/^$old_uid\$/999/"):$(stat -c %g "$f" | sed "s/^$old_gid\$/999/")" "$f"
			done
	fi

	# en_US.UTF-8 as in the official image, so dumps that name that
	# collation (CREATE DATABASE ... LOCALE) restore unchanged.
	in_root localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8

	# Same paths as the official image. Inside the chroot on purpose: the
	# rootfs's /var/run is an absolute symlink to /run, which from the host
	# side would resolve to the HOST's /run.
	in_root mkdir -p /docker-entrypoint-initdb.d /var/lib/postgresql/data /var/run/postgresql
	in_root chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
	in_root chmod 0700 /var/lib/postgresql/data
	in_root chmod 3775 /var/run/postgresql

	umount "$root/proc"
	# Trim and drop host-specific or build-only files.
	in_root apt-get -qq clean
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
		"$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/var/log/apt/* \
		"$root/usr/sbin/policy-rc.d"
	find "$root/usr/share/doc" -type f ! -name copyright -delete
	# docker bind-mounts its own resolv.conf/hostname; keep the host's out.
	rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
	: >"$root/etc/resolv.conf"
	echo localhost >"$root/etc/hostname"

	log "caching rootfs as $rootfs_tar"
	tar_root >"$rootfs_tar.partial.$$"
	mv "$rootfs_tar.partial.$$" "$rootfs_tar"
}

if [ "$no_cache" = 0 ] && [ -s "$rootfs_tar" ]; then
	log "using cached rootfs $rootfs_tar"
	mkdir "$root"
	tar --numeric-owner -C "$root" -xpf "$rootfs_tar"
else
	build_rootfs
	# Older rootfs tarballs of this suite (other keys) are dead weight now;
	# other suites' tarballs stay.
	find "$cache" -maxdepth 1 -name "rootfs-$SUITE-pg$PG_MAJOR-$arch-*.tar" ! -path "$rootfs_tar" -delete
fi

install -m 0755 "$entrypoint_src" "$root/usr/local/bin/docker-entrypoint.sh"

# STOPSIGNAL SIGINT makes `docker stop` a fast shutdown (default SIGTERM is
# "smart": waits for clients, then gets SIGKILLed). Docker daemons before 23
# (Debian 12's docker.io is 20.10) reject STOPSIGNAL in `import --change`;
# probe with an empty tarball, and if rejected set it with a one-line legacy
# build FROM the imported image (local, so still no registry).
old_id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || :)

probe=restore-drill/stopsignal-probe:$$
if tar -cf - -T /dev/null | docker import --change 'STOPSIGNAL SIGINT' - "$probe" >/dev/null 2>&1; then
	docker image rm "$probe" >/dev/null
	import_tag=$image stopsignal=(--change 'STOPSIGNAL SIGINT')
else
	import_tag=restore-drill/import-tmp:$$ stopsignal=()
fi

log "docker import -> $import_tag"
tar_root | docker import \
	--change "ENV PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
	--change 'ENV PGDATA=/var/lib/postgresql/data' \
	--change "ENV PG_MAJOR=$PG_MAJOR" \
	--change 'ENV LANG=en_US.utf8' \
	--change "LABEL restore-drill.recipe=$recipe" \
	--change "LABEL restore-drill.rootfs=$(basename "$rootfs_tar")" \
	--change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
	--change 'CMD ["postgres"]' \
	--change 'EXPOSE 5432' \
	"${stopsignal[@]}" \
	--message "restore-drill local PostgreSQL $PG_MAJOR ($SUITE, recipe $recipe)" \
	- "$import_tag" >/dev/null

if [ "$import_tag" != "$image" ]; then
	log "daemon rejects STOPSIGNAL in import; adding it with a legacy build -> $image"
	# (-q and 2>&1: hide the CLI's "legacy builder is deprecated" banner unless it fails)
	out=$(printf 'FROM %s\nSTOPSIGNAL SIGINT\n' "$import_tag" | DOCKER_BUILDKIT=0 docker build -q -t "$image" - 2>&1) ||
		die "docker build failed: $out"
	docker image rm "$import_tag" >/dev/null
fi

[ "$(docker image inspect -f '{{.Config.StopSignal}}' "$image")" = SIGINT ] || die "$image lacks STOPSIGNAL SIGINT"
docker run --rm --network none --user postgres --entrypoint pgbackrest "$image" version >/dev/null || die "$image cannot run pgbackrest as its postgres user"
# The image a --force rebuild replaced is now untagged; drop it unless a
# container still uses it (then docker refuses, which is fine).
if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect -f '{{.Id}}' "$image")" ]; then
	if docker image rm "$old_id" >/dev/null 2>&1; then log "removed superseded image ${old_id:7:12}"; fi
fi
log "built $image ($(docker image inspect -f '{{.Id}} {{.Size}}' "$image" | awk '{ printf "%s, %.0f MB", substr($1, 8, 12), $2 / 1e6 }'))"
