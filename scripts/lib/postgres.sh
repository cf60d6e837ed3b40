# Shared by scripts/run.sh, scripts/test.sh and scripts/cluster.sh: start PostgreSQL from the machine's binaries.
# PostgreSQL (and pg_auto_failover's pg_autoctl) refuse to run as root, so as root they run as the `postgres` user.

pg_bindir() {
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return 0
  fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

as_postgres() {
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( (RANDOM % 20000) + 30000 ))
    if ! port_in_use "$port"; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

# pg_own DIR: create DIR for PostgreSQL's use: as root, owned by the postgres user and private to it.
pg_own() {
  mkdir -p "$1"
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    chown postgres "$1"
    chmod 700 "$1"
  fi
}

# pg_start DATA_DIR PORT [extra postgres -c options...]: initdb when empty, then start (no-op when running).
pg_start() {
  local data=$1 port=$2
  shift 2
  local bin
  bin=$(pg_bindir) || { echo "PostgreSQL binaries (initdb, pg_ctl) not found" >&2; return 1; }
  pg_own "$data"
  if [ ! -s "$data/PG_VERSION" ]; then
    as_postgres "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    return 0
  fi
  local options="-p $port -k $data -c listen_addresses=127.0.0.1"
  for option in "$@"; do options="$options -c $option"; done
  as_postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -o "$options" -w -t 60 start >/dev/null \
    || { cat "$data/server.log" >&2; return 1; }
}

# pg_stop DATA_DIR [MODE]: immediate by default (a throwaway cluster); fast for one whose data is kept.
pg_stop() {
  local data=$1 mode=${2:-immediate} bin
  bin=$(pg_bindir) || return 0
  as_postgres "$bin/pg_ctl" -D "$data" -m "$mode" -w stop >/dev/null 2>&1 || true
}

# pg_running DATA_DIR: whether a server runs on that data folder.
pg_running() {
  local bin
  bin=$(pg_bindir) || return 1
  [ -s "$1/PG_VERSION" ] && as_postgres "$bin/pg_ctl" -D "$1" status >/dev/null 2>&1
}

# pg_port DATA_DIR: the port the server running on that data folder listens on (postmaster.pid's fourth line).
pg_port() {
  sed -n 4p "$1/postmaster.pid" 2>/dev/null
}

# pg_autoctl_in DIR ARGS...: pg_auto_failover's pg_autoctl as the postgres user, with its configuration and state
# kept under DIR/xdg rather than in that user's home, and PostgreSQL's sockets in DIR/sockets rather than in
# /var/run/postgresql, which only the postgres group may write to (pg_autoctl gives postgres PG_REGRESS_SOCK_DIR as -k,
# and connects through PGHOST).
pg_autoctl_in() {
  local dir=$1
  shift
  pg_autoctl_env "$dir" pg_autoctl "$@"
}

# pg_autoctl_env DIR COMMAND...: COMMAND as the postgres user, in the environment pg_autoctl_in gives pg_autoctl.
pg_autoctl_env() {
  local dir=$1
  shift
  as_postgres env XDG_CONFIG_HOME="$dir/xdg/config" XDG_DATA_HOME="$dir/xdg/share" XDG_RUNTIME_DIR="$dir/xdg/run" \
    PG_REGRESS_SOCK_DIR="$dir/sockets" PGHOST="$dir/sockets" "$@"
}

# pg_autoctl_running DIR PGDATA: whether `pg_autoctl run` serves that node.
pg_autoctl_running() {
  pg_autoctl_in "$1" status --pgdata "$2" >/dev/null 2>&1
}

# pg_autoctl_start DIR PGDATA LOG: `pg_autoctl run` for that node in the background, in a session of its own (so the
# whole node, its keeper and its PostgreSQL, is one process group), its output appended to LOG. No-op when running.
pg_autoctl_start() {
  local dir=$1 pgdata=$2 log=$3
  pg_autoctl_running "$dir" "$pgdata" && return 0
  pg_autoctl_env "$dir" setsid -f pg_autoctl run --pgdata "$pgdata" >>"$log" 2>&1 </dev/null
}

# postmaster_running PGDATA: whether a PostgreSQL still runs on that data folder (its postmaster.pid names a live
# process). A keeper can be gone while its PostgreSQL is not: killed alone, or still shutting down after it.
postmaster_running() {
  local pid
  pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# pg_autoctl_stop DIR PGDATA: stop that node's pg_autoctl and its PostgreSQL (fast shutdown), waiting up to a minute
# for both to be gone. A PostgreSQL whose keeper is already gone is stopped with pg_ctl.
pg_autoctl_stop() {
  local dir=$1 pgdata=$2
  if pg_autoctl_running "$dir" "$pgdata"; then
    pg_autoctl_in "$dir" stop --pgdata "$pgdata" >/dev/null 2>&1 || true
  fi
  for _ in $(seq 1 120); do
    if ! pg_autoctl_running "$dir" "$pgdata"; then
      postmaster_running "$pgdata" || return 0
      as_postgres "$(pg_bindir)/pg_ctl" stop -D "$pgdata" -m fast -w -t 5 >/dev/null 2>&1 || true
    fi
    sleep 0.5
  done
  return 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

has_docker_engine() {
  command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}
