#!/usr/bin/env bash
# Runs the service in Development on a local PostgreSQL it sets up itself (data kept between runs).
# Uses ConnectionStrings__Orders when set; otherwise this machine's PostgreSQL binaries; otherwise Docker.
#
#   ./scripts/run.sh          check the ports, build, start PostgreSQL if needed, run the service; Ctrl+C stops the service
#   ./scripts/run.sh db       only start PostgreSQL (to run the service from an IDE) and print its connection string
#   ./scripts/run.sh stop     stop the local PostgreSQL this script started (its data stays)
#   ./scripts/run.sh reset    drop the local database and create it empty (its orders, partners and keys are gone)
#
# ORDERCANCEL_PORT (5080), ORDERCANCEL_DB_PORT (55432) and ORDERCANCEL_PGDATA choose the ports and the data folder.
# What it started is written to .data/started-postgres, so `stop` needs none of them again.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source scripts/lib/service.sh

command=${1:-run}
case "$command" in
  run | db | stop | reset) ;;
  *)
    echo "Usage: ./scripts/run.sh [db|stop|reset]" >&2
    exit 2
    ;;
esac

port=${ORDERCANCEL_PORT:-5080}
db_port=${ORDERCANCEL_DB_PORT:-55432}
if [ "$(id -u)" = "0" ]; then default_data=/var/lib/postgresql/ordercancel-dev; else default_data=$PWD/.data/postgres; fi
data=${ORDERCANCEL_PGDATA:-$default_data}

# One line per PostgreSQL this script started, tab-separated: local <data folder> <port>, or docker - <port>.
started=$PWD/.data/started-postgres

remember() {
  mkdir -p "$(dirname "$started")"
  { [ -f "$started" ] && awk -F '\t' -v kind="$1" -v where="$2" '!($1 == kind && $2 == where)' "$started"; printf '%s\t%s\t%s\n' "$@"; } >"$started.new"
  mv "$started.new" "$started"
}

forget() {
  [ -f "$started" ] || return 0
  awk -F '\t' -v where="$1" '$2 != where' "$started" >"$started.new"
  mv "$started.new" "$started"
  [ -s "$started" ] || rm -f "$started"
}

stop_local() {
  local where=$1 at
  if ! pg_running "$where"; then
    echo "The local PostgreSQL in $where is not running."
    return 0
  fi
  at=$(pg_port "$where")
  pg_stop "$where" fast
  if pg_running "$where"; then
    echo "The local PostgreSQL in $where did not stop; its log is $where/server.log." >&2
    return 1
  fi
  echo "Stopped the local PostgreSQL on port $at (data kept in $where)."
}

if [ "$command" = "stop" ]; then
  status=0
  if [ -n "${ORDERCANCEL_PGDATA:-}" ]; then
    stop_local "$ORDERCANCEL_PGDATA" && forget "$ORDERCANCEL_PGDATA" || status=1
  elif [ -s "$started" ]; then
    # The list on descriptor 3, so what runs in the loop cannot read it as its input.
    while IFS=$'\t' read -r kind where at <&3; do
      case "$kind" in
        local) stop_local "$where" && forget "$where" || status=1 ;;
        docker)
          if ORDERCANCEL_DB_PORT=$at docker compose stop db; then
            echo "Stopped PostgreSQL in Docker (its data stays in the volume ordercancel-pgdata)."
            forget -
          else
            status=1
          fi
          ;;
      esac
    done 3<"$started"
  elif pg_bindir >/dev/null && pg_running "$default_data"; then
    stop_local "$default_data" || status=1
  elif has_docker_engine && [ -n "$(docker compose ps -q db 2>/dev/null)" ]; then
    docker compose stop db
  else
    echo "No local PostgreSQL to stop."
  fi
  exit "$status"
fi

# Where the database comes from, and every port it needs checked before the build, so a busy port costs no build.
if [ -n "${ConnectionStrings__Orders:-}" ]; then
  if [ "$command" = "reset" ]; then
    echo "ConnectionStrings__Orders names your own PostgreSQL: reset only drops the local database this script manages." >&2
    exit 1
  fi
  database=yours
elif pg_bindir >/dev/null; then
  database=local
elif has_docker_engine; then
  database=docker
else
  echo "Need PostgreSQL binaries (initdb, pg_ctl) or a Docker engine, or set ConnectionStrings__Orders." >&2
  exit 1
fi

busy=0
if [ "$command" = "run" ] && port_in_use "$port"; then
  echo "Port $port (for the service) is already in use. Stop what uses it, or choose another: ORDERCANCEL_PORT=$((port + 1)) ./scripts/run.sh" >&2
  busy=1
fi
case "$database" in
  local)
    if pg_running "$data"; then
      running_port=$(pg_port "$data")
      if [ -n "$running_port" ] && [ "$running_port" != "$db_port" ]; then
        echo "PostgreSQL in $data is already running on port $running_port: using it."
        db_port=$running_port
      fi
    elif port_in_use "$db_port"; then
      echo "Port $db_port (for PostgreSQL) is already in use. Stop what uses it, or choose another: ORDERCANCEL_DB_PORT=$((db_port + 1)) ./scripts/run.sh" >&2
      busy=1
    fi
    ;;
  docker)
    if [ -z "$(docker compose ps -q --status running db 2>/dev/null)" ] && port_in_use "$db_port"; then
      echo "Port $db_port (for PostgreSQL) is already in use. Stop what uses it, or choose another: ORDERCANCEL_DB_PORT=$((db_port + 1)) ./scripts/run.sh" >&2
      busy=1
    fi
    ;;
esac
[ "$busy" = 0 ] || exit 1

if [ "$command" = "run" ]; then
  build_service || exit 1
fi

stop_hint="PostgreSQL is yours (ConnectionStrings__Orders)."
case "$database" in
  local)
    stop_hint="PostgreSQL keeps running: ./scripts/run.sh stop stops it (its data stays in $data)."
    echo "Starting PostgreSQL (data in $data, port $db_port)..."
    pg_start "$data" "$db_port"
    remember local "$data" "$db_port"
    as_postgres psql -h "$data" -p "$db_port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ordercancel'" | grep -q 1 \
      || as_postgres psql -h "$data" -p "$db_port" -U postgres -qc "CREATE DATABASE ordercancel"
    export ConnectionStrings__Orders="Host=127.0.0.1;Port=$db_port;Database=ordercancel;Username=postgres"
    ;;
  docker)
    stop_hint="PostgreSQL keeps running in Docker: ./scripts/run.sh stop stops it (its data stays in the volume ordercancel-pgdata)."
    echo "Starting PostgreSQL in Docker (volume ordercancel-pgdata, port $db_port)..."
    ORDERCANCEL_DB_PORT=$db_port docker compose up -d --wait db
    remember docker - "$db_port"
    export ConnectionStrings__Orders="Host=127.0.0.1;Port=$db_port;Database=ordercancel;Username=ordercancel;Password=ordercancel"
    ;;
esac

if [ "$command" = "reset" ]; then
  case "$database" in
    local) as_postgres psql -h "$data" -p "$db_port" -U postgres -d postgres -q -c "DROP DATABASE ordercancel WITH (FORCE)" -c "CREATE DATABASE ordercancel" ;;
    docker) docker compose exec -T db psql -U ordercancel -d postgres -q -c "DROP DATABASE ordercancel WITH (FORCE)" -c "CREATE DATABASE ordercancel" ;;
  esac
  echo "The database ordercancel is empty again: ./scripts/run.sh migrates it and seeds the demo partner."
  exit 0
fi

if [ "$command" = "db" ]; then
  echo "PostgreSQL is ready: ConnectionStrings__Orders=\"$ConnectionStrings__Orders\""
  echo "$stop_hint"
  exit 0
fi

export ASPNETCORE_ENVIRONMENT=${ASPNETCORE_ENVIRONMENT:-Development}
export Demo__ApiKey=$demo_key
export Admin__ApiKey=$admin_key

echo "Starting the service (migrations run on the first start)..."
dotnet run --project src/OrderCancel.Api -c Release --no-build --no-launch-profile -- --urls "http://localhost:$port" &
service=$!
trap 'kill "$service" 2>/dev/null || true; wait "$service" 2>/dev/null || true' INT TERM EXIT

# The banner only once the service answers: a newcomer should never open the URL before it works.
command -v curl >/dev/null 2>&1 || { echo "curl is needed to wait for the service (apt-get install curl)." >&2; exit 1; }
until curl -sf "http://localhost:$port/health/ready" >/dev/null 2>&1; do
  if ! kill -0 "$service" 2>/dev/null; then
    echo "The service stopped during start-up; its log is above." >&2
    exit 1
  fi
  sleep 0.5
done

cat <<BANNER

  OrderCancel is ready on http://localhost:$port
  Swagger UI:  http://localhost:$port/swagger
  Demo key:    $demo_key      (Authorize → paste it; or curl -H "Authorization: Bearer $demo_key")
  Admin key:   $admin_key      (admin routes only; Development)
  Metrics:     http://localhost:$port/metrics
  Stop:        Ctrl+C stops the service. $stop_hint

BANNER
wait "$service"
