#!/usr/bin/env bash
# Entrypoint of the locally built restore-drill PostgreSQL images (any major;
# scripts/docker/build-local-image.sh copies it to
# /usr/local/bin/docker-entrypoint.sh; the image PATH picks the major).
#
# It honours the environment contract of the official `postgres` image, so the
# same `docker run -e ...` lines work against either image:
#   POSTGRES_USER (default postgres), POSTGRES_PASSWORD (required unless
#   POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_DB (default = user),
#   POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD, PGDATA, the *_FILE
#   variants of the first four, and /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz.
# Deliberately not copied from upstream: nss_wrapper for arbitrary --user uids,
# POSTGRES_INITDB_WALDIR.
set -Eeuo pipefail

die() { echo "docker-entrypoint: error: $*" >&2; exit 1; }
log() { echo "docker-entrypoint: $*"; }

# No arguments at all behaves like the image's CMD.
[ "$#" -gt 0 ] || set -- postgres
# `docker run IMAGE -c work_mem=64MB` means `postgres -c work_mem=64MB`.
if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi
# Any other command (pg_dump, psql, bash, ...) runs untouched, as whichever
# user the container was started with, and never initialises a cluster.
if [ "$1" != 'postgres' ]; then
	exec "$@"
fi

# VAR_FILE=/run/secrets/x sets VAR from a file (Docker secrets), as upstream.
# Runs before the privilege drop so root-only secret files are readable; the
# value travels on in the environment and the *_FILE variable is dropped.
file_env() {
	local var=$1 file_var="${1}_FILE" def=${2:-}
	local val=$def
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		die "both $var and $file_var are set (but are exclusive)"
	fi
	if [ -n "${!var:-}" ]; then
		val=${!var}
	elif [ -n "${!file_var:-}" ]; then
		val=$(<"${!file_var}")
	fi
	export "$var"="$val"
	unset "$file_var"
}
file_env POSTGRES_PASSWORD
file_env POSTGRES_USER postgres
file_env POSTGRES_DB "$POSTGRES_USER"
file_env POSTGRES_INITDB_ARGS
export POSTGRES_HOST_AUTH_METHOD="${POSTGRES_HOST_AUTH_METHOD:-}"
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"

if [ "$(id -u)" = 0 ]; then
	# Started as root (no --user): volumes and bind mounts usually arrive
	# root-owned, but postgres refuses to run as root and refuses a data
	# directory it does not own or that is group/world accessible. Fix that,
	# then re-run this script as the postgres OS user. setpriv (util-linux,
	# always present) instead of gosu: one package less, same effect.
	mkdir -p "$PGDATA" /var/run/postgresql
	chmod 0700 "$PGDATA"
	find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
	chown postgres:postgres /var/run/postgresql
	chmod 3775 /var/run/postgresql
	export HOME=/var/lib/postgresql USER=postgres LOGNAME=postgres
	exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

# From here on we are the postgres OS user (or whatever --user said).
mkdir -p "$PGDATA" 2>/dev/null || :
chmod 0700 "$PGDATA" 2>/dev/null || :

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
		die "database is uninitialized and POSTGRES_PASSWORD is not set;" \
			"set it, or set POSTGRES_HOST_AUTH_METHOD=trust to allow passwordless connections (unsafe)"
	fi
	host_auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}

	# POSTGRES_INITDB_ARGS is a shell-quoted string in the upstream contract
	# (e.g. "--data-checksums --locale='C'"), hence eval into an array.
	initdb_extra=()
	eval "initdb_extra=( ${POSTGRES_INITDB_ARGS} )"
	initdb_args=(--username="$POSTGRES_USER" --auth-local=trust --auth-host="$host_auth")
	log "initialising $PGDATA (user $POSTGRES_USER, host auth $host_auth)"
	if [ -n "$POSTGRES_PASSWORD" ]; then
		# Process substitution: the password never lands on disk or in argv.
		initdb --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") "${initdb_args[@]}" "${initdb_extra[@]}"
	else
		initdb "${initdb_args[@]}" "${initdb_extra[@]}"
	fi
	# initdb only allows 127.0.0.1/::1 over TCP; a container is reached from
	# outside through the Docker bridge, so allow every address (with auth).
	printf '\n# added by docker-entrypoint.sh\nhost all all all %s\n' "$host_auth" >>"$PGDATA/pg_hba.conf"

	# Temporary server on the unix socket only, so nothing outside can connect
	# (and a readiness probe cannot succeed) before init scripts are done.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
	export PGHOST=/var/run/postgresql PGUSER="$POSTGRES_USER" PGDATABASE="$POSTGRES_DB"
	psql_init=(psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc)

	if [ "$POSTGRES_DB" != 'postgres' ]; then
		log "creating database $POSTGRES_DB"
		"${psql_init[@]}" --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			SELECT format('CREATE DATABASE %I', :'db')
			WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
		EOSQL
	fi

	shopt -s nullglob
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh)
			# Executable scripts run in their own process, others are sourced
			# (upstream behaviour: sourced ones can see our variables).
			# shellcheck disable=SC1090
			if [ -x "$f" ]; then log "running $f"; "$f"; else log "sourcing $f"; . "$f"; fi ;;
		*.sql) log "running $f"; "${psql_init[@]}" -f "$f" ;;
		*.sql.gz) log "running $f"; gunzip -c "$f" | "${psql_init[@]}" ;;
		*) log "ignoring $f" ;;
		esac
	done
	shopt -u nullglob

	pg_ctl -D "$PGDATA" -m fast -w stop
	unset PGHOST PGUSER PGDATABASE
	log "init complete; starting postgres"
fi

# exec, so postgres is PID 1 and receives docker stop's SIGINT (fast
# shutdown) directly. listen_addresses on the command line rather than in
# postgresql.conf, so it also applies to a PGDATA restored from elsewhere;
# user arguments come after it and therefore win.
shift
exec postgres -c listen_addresses='*' "$@"
