#!/usr/bin/env bash
# Make the real Supabase CLI available to tests without making it a dependency of the package.
#
#   scripts/supabase-cli.sh [CACHE_DIR]    prints the path of a working `supabase` binary on stdout
#
# CACHE_DIR defaults to $SUPABASE_CLI_DIR, else <repo>/.tmp/supabase-cli (git-ignored). If no working
# CLI 3.x is there it runs `npm install --no-save --prefix CACHE_DIR supabase@3` (about 140 MB: the Go
# binary comes as the optional dependency @supabase/cli-<os>-<arch>; no Docker, no download outside
# the npm registry). $SUPABASE_CLI, when it names a working binary, is used as is. Exits 1 with a
# one-line reason on stderr when no CLI can be had (offline registry, unsupported platform, ...):
# callers then skip what needs it and say so. `.ci/run` exports the path as SUPABASE_CLI.
#
# What we found about `supabase db push` (CLI 3.1.0, checked by hand on PostgreSQL 15 started by
# scripts/pg-cluster.sh):
# - Works against any plain PostgreSQL without Docker and without logging in or linking:
#     supabase db push --remote='postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable' --yes
#   run in (or with --workdir pointing at) the folder that holds supabase/migrations/. `--db-url URL`
#   still works in 3.x but prints "--db-url is deprecated and will be removed in v4. Use
#   --remote=<db-url>": prefer --remote=URL.
# - It needs only supabase/migrations/*.sql; supabase/config.toml is optional (the one `supabase init`
#   writes, with db.major_version = 17, does not stop a push to a 15 server). `supabase init` does not
#   create supabase/migrations/; with no migrations folder a push says "Remote database is up to date"
#   and creates nothing.
# - It never asks when stdout is not a terminal: without --yes (or SUPABASE_YES=1 in the environment)
#   it prints "Confirmation required ... Nothing was changed. Re-run with --yes" and exits 1. Piping
#   "y" into stdin does not confirm. `--dry-run` lists what it would apply and exits 0.
# - Without sslmode=disable (URL or PGSSLMODE=disable) it first tries TLS and prints a warning
#   "Connected to 127.0.0.1 without TLS" on stderr; the push still works.
# - Ledger: it creates schema supabase_migrations and table supabase_migrations.schema_migrations
#   (version text primary key, statements text[], name text): version = the file name's numeric
#   prefix, name = the rest without .sql, statements = the file split into statements (its splitter
#   handles $$ / $tag$ bodies, comments and quoted semicolons).
# - Each migration file runs in its own transaction: a failing file is rolled back whole (its
#   ledger row too), the files after it are not applied, exit code 1, the error and statement on
#   stderr. Earlier files stay applied.
# - A second push with nothing new prints "Remote database is up to date." and exits 0. A local file
#   older than the newest applied version is refused ("Found local migration files to be inserted
#   before the last migration on remote database", exit 1) unless --include-all is given.
# - It takes ~0.7 s for a small push here; it writes supabase/.temp/ in the project folder.
set -euo pipefail

say() { printf 'supabase-cli: %s\n' "$*" >&2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${1:-${SUPABASE_CLI_DIR:-$ROOT/.tmp/supabase-cli}}
SPEC=${SUPABASE_CLI_SPEC:-supabase@3}

works() { # a binary that answers --version with 3.x
  local v
  [[ -n ${1:-} && -x $1 ]] || return 1
  v=$(timeout 30 "$1" --version 2>/dev/null | tail -1) || return 1
  [[ $v =~ ^v?3\. ]]
}

find_in() {
  local b
  for b in "$1"/node_modules/@supabase/cli-*/bin/supabase; do
    works "$b" && { echo "$b"; return 0; }
  done
  works "$1/node_modules/.bin/supabase" && { echo "$1/node_modules/.bin/supabase"; return 0; }
  return 1
}

if [[ -n ${SUPABASE_CLI:-} ]] && works "$SUPABASE_CLI"; then
  echo "$SUPABASE_CLI"
  exit 0
fi

mkdir -p "$DIR" || { say "cannot create $DIR"; exit 1; }
DIR=$(cd "$DIR" && pwd)
command -v npm >/dev/null || { say "npm not found: cannot install the Supabase CLI"; exit 1; }

# one installer at a time per cache folder (parallel test files may call this together)
exec 9>"$DIR/.lock"
if command -v flock >/dev/null; then flock -w 600 9 || { say "timed out waiting for another install in $DIR"; exit 1; }; fi

if bin=$(find_in "$DIR"); then
  echo "$bin"
  exit 0
fi

say "installing $SPEC into $DIR (about 140 MB, once)"
if ! timeout 600 npm install --no-save --no-audit --no-fund --no-package-lock --loglevel=error \
    --prefix "$DIR" "$SPEC" >"$DIR/install.log" 2>&1; then
  tail -5 "$DIR/install.log" >&2 || true
  say "npm install $SPEC failed (log: $DIR/install.log): the Supabase CLI is not available"
  exit 1
fi
if bin=$(find_in "$DIR"); then
  say "ready: $bin ($("$bin" --version 2>/dev/null | tail -1))"
  echo "$bin"
  exit 0
fi
say "installed $SPEC but found no working binary for $(uname -s)-$(uname -m) (its optional dependency @supabase/cli-* is missing or does not run)"
exit 1
