#!/usr/bin/env bash
# Development database server: PostgreSQL 17 + Apache AGE + plpython3u (numpy, ONNX Runtime) +
# pgvector + pg_cron.
#
# Debian 12 ships none of these, so the server runs from a Debian 13 (trixie) root filesystem under
# chroot. The host's own packages are never touched; `destroy` removes everything it made.
#
# Usage: scripts/db_server.sh up|start|stop|restart|status|psql|pgbench|destroy      (needs root)
#   up       build the root filesystem if missing, start the server, create the roles, the database
#            and its extensions. Idempotent: about a second when everything is already there.
#   psql     open psql as the superuser inside the chroot (extra arguments are passed on).
#   pgbench DIR ARGS...   the server's pgbench, run in host directory DIR (its scripts, its logs;
#            DIR must be writable by the chroot's postgres user): the benchmarks' load generator.
#
# Settings (environment): RAGNAROK_PG_ROOT (default /opt/ragnarok-pg17), RAGNAROK_PG_PORT (5433),
# RAGNAROK_PG_MIRROR (Debian archive for the root filesystem; default: the one apt uses here).
set -euo pipefail

ROOT=${RAGNAROK_PG_ROOT:-/opt/ragnarok-pg17}
PORT=${RAGNAROK_PG_PORT:-5433}
# The Debian archive this machine's apt already uses: the first source whose URI ends in /debian.
host_mirror() {
  { sed -n 's|^URIs:[[:space:]]*\([^[:space:]]*/debian\)/\{0,1\}[[:space:]]*$|\1|p' \
      /etc/apt/sources.list.d/*.sources 2>/dev/null
    sed -n 's|^deb[[:space:]]\{1,\}\([^[:space:]]*/debian\)/\{0,1\}[[:space:]].*|\1|p' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
  } | head -n 1 || true  # a missing sources file is no error here
}
MIRROR=${RAGNAROK_PG_MIRROR:-$(host_mirror)}
DB=ragnarok_ml
PKGS=postgresql-17,postgresql-17-age,postgresql-plpython3-17,postgresql-17-pgvector,postgresql-17-cron,python3-numpy
BIN=/usr/lib/postgresql/17/bin
PGDATA_IN=/var/lib/postgresql/17/data
SOCK_IN=/run/postgresql
HERE=$(cd "$(dirname "$0")" && pwd)

# Run a command inside the chroot as user postgres, in a private mount namespace: the /dev and
# /proc mounts live only as long as the processes using them, so nothing leaks onto the host.
inroot() { inroot_in "" "$@"; }

# The same, with host directory $1 (when not empty) mounted at /mnt/work as the working directory:
# how `pgbench` reads its scripts and writes its logs where the caller reads them.
inroot_in() {
  unshare --mount --propagation private -- sh -ec '
    R=$1; D=$2; W=/; shift 2
    mount --rbind /dev "$R/dev"
    mount -t proc proc "$R/proc" 2>/dev/null || mount --rbind /proc "$R/proc"
    if [ -n "$D" ]; then mkdir -p "$R/mnt/work"; mount --bind "$D" "$R/mnt/work"; W=/mnt/work; fi
    exec chroot "$R" setpriv --reuid=postgres --regid=postgres --init-groups \
      env -i -C "$W" PATH=/usr/bin:/bin LANG=C.UTF-8 LC_ALL=C.UTF-8 HOME=/var/lib/postgresql "$@"
  ' sh "$ROOT" "$@"
}

# ONNX Runtime in the server's own Python (3.13), for inline decisions (docs/inline_serving.md): the
# version the worker pins in constraints.txt, its manylinux wheel unpacked into the interpreter's
# /usr/local site directory by the host's pip (Debian's numpy, already there, is its only need).
ORT_VERSION=$(sed -n 's/^onnxruntime==\([0-9.]*\).*/\1/p' "$HERE/../constraints.txt")
SERVER_SITE=/usr/local/lib/python3.13/dist-packages

install_onnxruntime() {
  local site=$ROOT$SERVER_SITE pip
  [ -f "$site/onnxruntime-$ORT_VERSION.dist-info/METADATA" ] && return 0
  if [ -x "$HERE/../.venv/bin/python" ]; then pip="$HERE/../.venv/bin/python -m pip"
  elif python3 -m pip --version >/dev/null 2>&1; then pip="python3 -m pip"
  else echo "no pip here to fetch onnxruntime==$ORT_VERSION for the server's Python" >&2; exit 1
  fi
  echo "installing onnxruntime $ORT_VERSION into the server's Python ($SERVER_SITE)"
  rm -rf "$site.tmp"
  $pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.13 --implementation cp --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --target "$site.tmp" "onnxruntime==$ORT_VERSION"
  mkdir -p "$site"
  rm -rf "$site"/onnxruntime "$site"/onnxruntime-*.dist-info
  mv "$site.tmp"/onnxruntime "$site.tmp"/onnxruntime-*.dist-info "$site"/
  rm -rf "$site.tmp"
}

pidfile() { echo "$ROOT$PGDATA_IN/postmaster.pid"; }
running() { [ -f "$(pidfile)" ] && kill -0 "$(head -1 "$(pidfile)")" 2>/dev/null; }
spsql() { inroot "$BIN/psql" -X -q -h "$SOCK_IN" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }

rootfs_complete() {
  local lib=$ROOT/usr/lib/postgresql/17/lib
  [ -x "$ROOT$BIN/postgres" ] && [ -f "$ROOT/usr/share/postgresql/17/extension/age.control" ] &&
    [ -f "$lib/plpython3.so" ] && [ -f "$lib/vector.so" ] && [ -f "$lib/pg_cron.so" ]
}

build_rootfs() {
  rootfs_complete && return 0
  if ! command -v mmdebstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
  fi
  if [ -z "$MIRROR" ]; then
    echo "no Debian archive among apt's sources here: set RAGNAROK_PG_MIRROR" >&2
    exit 1
  fi
  echo "building the PostgreSQL 17 root filesystem in $ROOT (once, about a minute)"
  rm -rf "$ROOT.tmp"
  mmdebstrap --quiet --mode=root --variant=apt --include="$PKGS" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --setup-hook='mkdir -p "$1/etc/postgresql-common"; echo "create_main_cluster = false" > "$1/etc/postgresql-common/createcluster.conf"' \
    trixie "$ROOT.tmp" "$MIRROR"
  rm -rf "$ROOT"
  mv "$ROOT.tmp" "$ROOT"
}

init_cluster() {
  local u g
  u=$(chroot "$ROOT" id -u postgres)
  g=$(chroot "$ROOT" id -g postgres)
  install -d -o "$u" -g "$g" -m 2775 "$ROOT$SOCK_IN" "$ROOT/var/lib/postgresql/17"
  install -d -o "$u" -g "$g" -m 0700 "$ROOT$PGDATA_IN"
  [ -f "$ROOT$PGDATA_IN/PG_VERSION" ] && return 0
  inroot "$BIN/initdb" -D "$PGDATA_IN" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >/dev/null
  cat "$HERE/postgresql.dev.conf" >>"$ROOT$PGDATA_IN/postgresql.conf"
  sed -i "s/^port = .*/port = $PORT/" "$ROOT$PGDATA_IN/postgresql.conf"
}

# Settings added to the development configuration after a cluster was first made: appended to an
# existing cluster's postgresql.conf, which then needs a restart to take them.
ensure_settings() {
  local conf=$ROOT$PGDATA_IN/postgresql.conf changed=1
  # pg_cron runs its jobs in background workers: no connection (and no password) needed.
  if ! grep -q '^cron.use_background_workers' "$conf"; then
    printf '%s\n' "cron.use_background_workers = on" "max_worker_processes = 16" >>"$conf"
    changed=0
  fi
  # No log lines for every pg_cron run (postgresql.dev.conf says why).
  if ! grep -q '^cron.log_statement' "$conf"; then
    printf '%s\n' "cron.log_statement = off" >>"$conf"
    changed=0
  fi
  # Queue tables' statistics within seconds (postgresql.dev.conf says why).
  if ! grep -q '^autovacuum_naptime' "$conf"; then
    printf '%s\n' "autovacuum_naptime = 1s" >>"$conf"
    changed=0
  fi
  return $changed
}

start() {
  init_cluster
  if ensure_settings && running; then
    inroot "$BIN/pg_ctl" -D "$PGDATA_IN" -m fast -w stop >/dev/null
  fi
  running && return 0
  inroot "$BIN/pg_ctl" -D "$PGDATA_IN" -l /var/lib/postgresql/17/server.log -w -t 60 start >/dev/null
}

stop() {
  running || return 0
  inroot "$BIN/pg_ctl" -D "$PGDATA_IN" -m fast -w stop >/dev/null
}

# Roles, database and extensions: every statement is idempotent, so `up` can run every time.
bootstrap() {
  inroot "$BIN/psql" -X -q -h "$SOCK_IN" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    ${ML_USER_CONNECTION_LIMIT:+-v ml_user_connection_limit="$ML_USER_CONNECTION_LIMIT"} \
    ${ML_USER_STATEMENT_TIMEOUT:+-v ml_user_statement_timeout="$ML_USER_STATEMENT_TIMEOUT"} \
    ${ML_USER_LOCK_TIMEOUT:+-v ml_user_lock_timeout="$ML_USER_LOCK_TIMEOUT"} \
    ${ML_USER_IDLE_IN_TRANSACTION_TIMEOUT:+-v ml_user_idle_in_transaction_timeout="$ML_USER_IDLE_IN_TRANSACTION_TIMEOUT"} \
    -f - <"$HERE/bootstrap_cluster.sql"
  spsql -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 ||
    spsql -d postgres -c "CREATE DATABASE $DB OWNER ml_admin"
  inroot "$BIN/psql" -X -q -h "$SOCK_IN" -p "$PORT" -U postgres -d "$DB" -v ON_ERROR_STOP=1 \
    -f - <"$HERE/bootstrap_database.sql"
}

case "${1:-}" in
  up)
    build_rootfs
    install_onnxruntime
    start
    bootstrap
    echo "database server up: postgresql://ml_admin@127.0.0.1:$PORT/$DB" ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if running; then echo "running (pid $(head -1 "$(pidfile)"), port $PORT)"; else echo "not running"; exit 3; fi ;;
  psql) shift; spsql -d "$DB" "$@" ;;
  pgbench) shift; dir=$(cd "$1" && pwd); shift; inroot_in "$dir" "$BIN/pgbench" "$@" ;;
  destroy) stop || true; rm -rf "$ROOT" "$ROOT.tmp" ;;
  *) echo "usage: $0 up|start|stop|restart|status|psql|pgbench|destroy" >&2; exit 2 ;;
esac
