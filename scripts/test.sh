#!/usr/bin/env bash
# The test suite, in a temp folder of its own that goes when it ends: vitest
# writes transformed modules to a folder it makes in TMPDIR and never removes
# (vitest-dev/vitest#11228), and the drills' own temp folders go there too.
# The servers run as the postgres user when the tests run as root, so the
# folder is readable by it.
set -u
root=$(mktemp -d "${TMPDIR:-/tmp}/rd-tests-XXXXXX")
chmod 755 "$root"
trap 'rm -rf "$root"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
TMPDIR=$root npx vitest run "$@"
