#!/usr/bin/env bash
# Build an image of restore-drill itself, without any image registry: the
# local server image (PostgreSQL, its tools, pgBackRest, and TimescaleDB when
# the base has it) plus this machine's Node binary and the package as npm
# would publish it (`npm pack`) with its production dependencies. Inside, the
# drills run on the native engine, as on a runner: one container per CI job
# or Kubernetes pod, e.g.
#   docker run --rm -v "$PWD/drills:/drills:ro" -v "$PWD/reports:/reports" \
#     restore-drill/tool:local run /drills --shard 2/3 --reports-dir /reports
#
# usage: build-tool-image.sh [--base IMAGE] [--force] [IMAGE]
#   --base IMAGE  the server image to build on (default:
#                 restore-drill/timescaledb:2.28.3-pg15-local, built by
#                 build-local-image.sh and build-timescaledb-image.sh)
#   IMAGE         image name:tag (default: restore-drill/tool:local)
#   --force       rebuild even if IMAGE was built from the same inputs
# Needs docker (its daemon running), node and npm; npm fetches the
# production dependencies from the registry npm is set up with.
set -euo pipefail

log() { printf '[build-tool-image %3ss] %s\n' "$SECONDS" "$*"; }
die() { printf '[build-tool-image] error: %s\n' "$*" >&2; exit 1; }

base=restore-drill/timescaledb:2.28.3-pg15-local
force=0
image=restore-drill/tool:local
while [ "$#" -gt 0 ]; do
	case "$1" in
	--base) [ "$#" -ge 2 ] || die "--base needs a value"; base=$2; shift ;;
	--base=*) base=${1#--base=} ;;
	--force) force=1 ;;
	-h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	-*) die "unknown option $1 (try --help)" ;;
	*) image=$1 ;;
	esac
	shift
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "docker daemon not reachable (docker info fails)"
base_id=$(docker image inspect -f '{{.Id}}' "$base" 2>/dev/null) ||
	die "base image $base is not present; build it first: scripts/docker/build-local-image.sh, then scripts/docker/build-timescaledb-image.sh (or pass --base)"
node_bin=$(readlink -f "$(command -v node)") || die "node not found"

work=$(mktemp -d "${TMPDIR:-/tmp}/restore-drill-tool-image.XXXXXX")
smoke=
cleanup() {
	local rc=$?
	[ -z "$smoke" ] || docker rm -f "$smoke" >/dev/null 2>&1 || :
	rm -rf "$work"
	[ "$rc" = 0 ] || log "failed (exit $rc)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The package exactly as published (package.json "files": dist, drills, fixtures, templates), built fresh.
log "npm pack (its prepare script builds dist/)"
(cd "$root" && npm pack --silent --pack-destination "$work" >/dev/null)
mkdir "$work/app"
tar -xzf "$work"/restore-drill-*.tgz -C "$work/app" --strip-components=1
rm "$work"/restore-drill-*.tgz
cp "$root/package-lock.json" "$work/app/"
cp "$node_bin" "$work/node"

# Reused when nothing that goes into it changed: this script, the base, Node and the package.
recipe=$({ sha256sum <"${BASH_SOURCE[0]}"; echo "$base_id"; sha256sum <"$node_bin"; (cd "$work/app" && find . -type f -print0 | sort -z | xargs -0 sha256sum); } | sha256sum | cut -c1-16)
if have=$(docker image inspect -f '{{index .Config.Labels "restore-drill.recipe"}}' "$image" 2>/dev/null); then
	if [ "$force" = 0 ] && [ "$have" = "$recipe" ]; then
		log "image $image already exists, built from the same inputs (--force rebuilds)"
		exit 0
	fi
fi

log "production dependencies (npm ci --omit=dev)"
(cd "$work/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

cat >"$work/Dockerfile" <<-EOF
	FROM $base
	COPY node /usr/local/bin/node
	COPY app/ /opt/restore-drill/
	RUN ln -s /opt/restore-drill/dist/cli/main.js /usr/local/bin/restore-drill && chmod 0755 /opt/restore-drill/dist/cli/main.js
	WORKDIR /work
	# The tool, not the server image's entrypoint: arguments are restore-drill's.
	ENTRYPOINT ["/usr/local/bin/node", "/opt/restore-drill/dist/cli/main.js"]
	CMD ["--help"]
	LABEL restore-drill.recipe=$recipe restore-drill.base=$base
EOF

old_id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || :)
log "docker build -> $image (on $base)"
# (-q and 2>&1: hide the CLI's "legacy builder is deprecated" banner unless it fails)
out=$(DOCKER_BUILDKIT=0 docker build -q -t "$image" "$work" 2>&1) || die "docker build failed: $out"

log "smoke test: restore-drill --version and a drill file validated in a container of $image"
said=$(docker run --rm --network none "$image" --version 2>&1) || die "$image: restore-drill --version failed: $said"
[ "$said" = "$(node -p "require('$root/package.json').version")" ] || die "$image: restore-drill --version said '$said'"
said=$(docker run --rm --network none "$image" validate /opt/restore-drill/drills 2>&1) || die "$image: validating the shipped drills failed: $said"

if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect -f '{{.Id}}' "$image")" ]; then
	if docker image rm "$old_id" >/dev/null 2>&1; then log "removed superseded image ${old_id:7:12}"; fi
fi
log "built $image: restore-drill $(docker run --rm --network none "$image" --version) with Node $("$node_bin" --version) ($(docker image inspect -f '{{.Id}}' "$image" | cut -c8-19))"
