#!/usr/bin/env bash
# Throw-away PostgreSQL cluster for tests and CI.
#
#   scripts/pg-cluster.sh start [DIR]   init + start a cluster in DIR (default: a new temp folder);
#                                       prints `export DATABASE_URL=...` (and only that) on stdout
#   scripts/pg-cluster.sh env DIR       prints the export line of a running cluster again
#   scripts/pg-cluster.sh restart DIR   restarts the running cluster (fast: open sessions are ended),
#                                       on the same port (fault tests)
#   scripts/pg-cluster.sh stop DIR      stops the cluster and removes DIR
#
# The cluster listens only on 127.0.0.1 at a free non-default port (from $PG_CLUSTER_PORT, default
# 54329, upwards), keeps its unix socket in DIR, and uses trust authentication: it is for local
# testing only and never outlives the run that started it (fsync is off as well). Its superuser is
# `postgres`, its URL postgres://postgres@127.0.0.1:PORT/postgres.
# As root the server runs as the `postgres` system user (PostgreSQL refuses to run as root); as any
# other user it runs as that user.
#
# Exit codes: 0 ok, 1 failure, 2 usage, 3 PostgreSQL binaries absent (callers fall back to PGlite).
# Progress and errors go to stderr, so `eval "$(scripts/pg-cluster.sh start "$dir")"` is safe.
set -euo pipefail

MARKER=.xms-pg-cluster
PORT_FROM=${PG_CLUSTER_PORT:-54329}
PORT_TRIES=${PG_CLUSTER_PORT_TRIES:-40}

say() { printf 'pg-cluster: %s\n' "$*" >&2; }
die() { say "$1"; exit "${2:-1}"; }
usage() { die "usage: $0 start [DIR] | env DIR | restart DIR | stop DIR" 2; }

# --- find binaries: PostgreSQL 15 from Debian first, then PATH, then any Debian version -----------
find_bindir() {
  local d
  if [[ -n ${PG_BINDIR:-} ]]; then
    [[ -x $PG_BINDIR/initdb && -x $PG_BINDIR/pg_ctl && -x $PG_BINDIR/postgres ]] && { echo "$PG_BINDIR"; return 0; }
    return 1
  fi
  for d in /usr/lib/postgresql/15/bin; do
    [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] && { echo "$d"; return 0; }
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null && command -v postgres >/dev/null; then
    d=$(dirname "$(readlink -f "$(command -v initdb)")")
    [[ -x $d/pg_ctl && -x $d/postgres ]] && { echo "$d"; return 0; }
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] && { echo "$d"; return 0; }
  done
  return 1
}

# run a command as the cluster's owner (postgres when we are root, else ourselves)
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    (cd "$DIR" && runuser -u postgres -- env "PATH=$BINDIR:$PATH" "$@")
  else
    (cd "$DIR" && env "PATH=$BINDIR:$PATH" "$@")
  fi
}

port_in_use() {
  # something accepts connections there (the server will also fail to bind: we retry then)
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

url_for() { echo "postgres://postgres@127.0.0.1:$1/postgres"; }

need_dir() {
  [[ -n ${1:-} ]] || usage
  DIR=$(cd "$1" 2>/dev/null && pwd) || die "no such folder: $1"
  [[ -f $DIR/$MARKER ]] || die "$DIR was not made by $0 (no $MARKER): refusing to touch it"
}

cmd_start() {
  BINDIR=$(find_bindir) || die "PostgreSQL binaries (initdb, pg_ctl, postgres) not found on PATH nor in /usr/lib/postgresql/*/bin; tests that need a server run on PGlite instead" 3

  if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    say "creating the postgres system user"
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres >/dev/null 2>&1 \
      || die "running as root and there is no postgres user to run the server as (useradd failed)"
  fi

  local made_dir=0
  if [[ -n ${1:-} ]]; then
    [[ -e $1 ]] || made_dir=1
    mkdir -p "$1"
    DIR=$(cd "$1" && pwd)
    [[ -z $(ls -A "$DIR") || -f $DIR/$MARKER ]] || die "$DIR is not empty: give an empty or new folder"
    [[ -f $DIR/$MARKER && -f $DIR/data/PG_VERSION ]] && die "$DIR already holds a cluster (stop it first)"
  else
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/xms-pg.XXXXXX")
    made_dir=1
  fi
  touch "$DIR/$MARKER"
  # on any failure from here: stop what may have started, and leave nothing behind
  MADE_DIR=$made_dir
  trap 'start_failed $?' EXIT
  chmod 700 "$DIR"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$DIR" "$DIR/$MARKER"
    # the server must be able to reach DIR: every parent needs o+x
    local p=$DIR
    while [[ $p != / ]]; do
      p=$(dirname "$p")
      runuser -u postgres -- test -x "$p" || die "the postgres user cannot enter $p; use a folder under /tmp"
    done
  fi

  say "initdb ($("$BINDIR/postgres" --version)) in $DIR/data"
  if ! as_owner initdb -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C \
      --no-sync --no-instructions >"$DIR/initdb.log" 2>&1; then
    cat "$DIR/initdb.log" >&2
    die "initdb failed"
  fi
  cat >>"$DIR/data/postgresql.conf" <<EOF

# --- throw-away test cluster (scripts/pg-cluster.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
logging_collector = off
EOF

  local port=$PORT_FROM last=$((PORT_FROM + PORT_TRIES - 1))
  while ((port <= last)); do
    if port_in_use "$port"; then port=$((port + 1)); continue; fi
    if as_owner pg_ctl -D "$DIR/data" -l "$DIR/postgres.log" -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
      echo "$port" >"$DIR/port"
      # pg_ctl -w waits for "ready"; one real round-trip confirms it
      if [[ -x $BINDIR/pg_isready ]]; then
        "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port" -t 10 || { tail -20 "$DIR/postgres.log" >&2; die "server started but does not answer on 127.0.0.1:$port"; }
      fi
      trap - EXIT
      say "ready on 127.0.0.1:$port (data in $DIR/data, log $DIR/postgres.log)"
      echo "export DATABASE_URL=$(url_for "$port")"
      return 0
    fi
    if grep -qiE 'could not (bind|create listen)|address already in use' "$DIR/postgres.log" 2>/dev/null; then
      say "port $port is taken, trying the next one"
      : >"$DIR/postgres.log"
      port=$((port + 1))
      continue
    fi
    tail -30 "$DIR/postgres.log" >&2 || true
    die "the server did not start (log above)"
  done
  die "no free port in $PORT_FROM..$last"
}

start_failed() {
  [[ $1 -ne 0 ]] || return 0
  if [[ -f $DIR/data/postmaster.pid ]]; then
    as_owner pg_ctl -D "$DIR/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  if [[ $MADE_DIR -eq 1 ]]; then rm -rf -- "$DIR"; else find "$DIR" -mindepth 1 -delete 2>/dev/null || true; fi
}

cmd_env() {
  need_dir "${1:-}"
  [[ -f $DIR/port ]] || die "no running cluster in $DIR"
  echo "export DATABASE_URL=$(url_for "$(cat "$DIR/port")")"
}

cmd_restart() {
  need_dir "${1:-}"
  [[ -f $DIR/port ]] || die "no running cluster in $DIR"
  BINDIR=$(find_bindir) || die "PostgreSQL binaries not found" 3
  # pg_ctl restart reuses the options of the last start (postmaster.opts): the same port
  as_owner pg_ctl -D "$DIR/data" -l "$DIR/postgres.log" -m fast -w -t 60 restart >/dev/null 2>&1 \
    || { tail -20 "$DIR/postgres.log" >&2; die "restart failed"; }
  say "restarted on 127.0.0.1:$(cat "$DIR/port")"
}

cmd_stop() {
  need_dir "${1:-}"
  if [[ -f $DIR/data/postmaster.pid ]]; then
    if BINDIR=$(find_bindir); then
      as_owner pg_ctl -D "$DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
        || as_owner pg_ctl -D "$DIR/data" -m immediate -w -t 30 stop >/dev/null 2>&1 \
        || say "pg_ctl stop failed"
    fi
    # last resort: the postmaster's pid is the first line of postmaster.pid
    if [[ -f $DIR/data/postmaster.pid ]]; then
      local pid
      pid=$(head -1 "$DIR/data/postmaster.pid" 2>/dev/null || true)
      [[ $pid =~ ^[0-9]+$ ]] && kill -QUIT "$pid" 2>/dev/null && sleep 1
    fi
  fi
  rm -rf -- "$DIR"
  say "stopped and removed $DIR"
}

cmd=${1:-}
shift || true
case $cmd in
  start) cmd_start "$@" ;;
  env) cmd_env "$@" ;;
  restart) cmd_restart "$@" ;;
  stop) cmd_stop "$@" ;;
  *) usage ;;
esac
