# Shared by scripts/run.sh and scripts/test.sh: start a PostgreSQL cluster from the machine's binaries.
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.

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

# pg_start DATA_DIR PORT [extra postgres -c options...]: initdb when empty, then start (no-op when running).
pg_start() {
  local data=$1 port=$2
  shift 2
  local bin
  bin=$(pg_bindir) || { echo "PostgreSQL binaries (initdb, pg_ctl) not found" >&2; return 1; }
  mkdir -p "$data"
  [ "$(id -u)" = "0" ] && { id postgres >/dev/null 2>&1 || useradd --system postgres; chown postgres "$data"; chmod 700 "$data"; }
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

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

has_docker_engine() {
  command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}
