#!/usr/bin/env bash
# Runs the service in Development on a local PostgreSQL it sets up itself (data kept between runs).
# Uses ConnectionStrings__Orders when set; otherwise this machine's PostgreSQL binaries; otherwise Docker.
#
#   ./scripts/run.sh          build, start PostgreSQL if needed, run the service; Ctrl+C stops the service
#   ./scripts/run.sh stop     stop the local PostgreSQL this script started (its data stays)
#
# ORDERCANCEL_PORT (5080), ORDERCANCEL_DB_PORT (55432) and ORDERCANCEL_PGDATA choose the ports and the data folder.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh

port=${ORDERCANCEL_PORT:-5080}
db_port=${ORDERCANCEL_DB_PORT:-55432}
demo_key=${Demo__ApiKey:-oc_demo_key_for_local_use_only}
admin_key=${Admin__ApiKey:-oc_admin_dev_only_change_me}
if [ "$(id -u)" = "0" ]; then data=${ORDERCANCEL_PGDATA:-/var/lib/postgresql/ordercancel-dev}; else data=${ORDERCANCEL_PGDATA:-$PWD/.data/postgres}; fi

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ "${1:-}" = "stop" ]; then
  if pg_bindir >/dev/null && [ -s "$data/PG_VERSION" ]; then
    pg_stop "$data"
    echo "Stopped the local PostgreSQL (data kept in $data)."
  elif has_docker_engine; then
    docker compose stop db
  else
    echo "No local PostgreSQL to stop."
  fi
  exit 0
fi

if port_in_use "$port"; then
  echo "Port $port is already in use. Stop what uses it, or choose another port: ORDERCANCEL_PORT=5081 ./scripts/run.sh" >&2
  exit 1
fi

echo "Building..."
build_log=$(mktemp)
if ! dotnet build src/OrderCancel.Api -c Release -nologo -v quiet -clp:ErrorsOnly >"$build_log" 2>&1; then
  cat "$build_log" >&2
  rm -f "$build_log"
  exit 1
fi
rm -f "$build_log"

stop_hint="PostgreSQL is yours (ConnectionStrings__Orders)."
if [ -z "${ConnectionStrings__Orders:-}" ]; then
  if pg_bindir >/dev/null; then
    stop_hint="PostgreSQL keeps running: ./scripts/run.sh stop stops it (its data stays in $data)."
    if ! as_postgres "$(pg_bindir)/pg_ctl" -D "$data" status >/dev/null 2>&1 && port_in_use "$db_port"; then
      echo "Port $db_port (for PostgreSQL) is already in use. Choose another: ORDERCANCEL_DB_PORT=55433 ./scripts/run.sh" >&2
      exit 1
    fi
    echo "Starting PostgreSQL (data in $data, port $db_port)..."
    pg_start "$data" "$db_port"
    as_postgres psql -h "$data" -p "$db_port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ordercancel'" | grep -q 1 \
      || as_postgres psql -h "$data" -p "$db_port" -U postgres -qc "CREATE DATABASE ordercancel"
    export ConnectionStrings__Orders="Host=127.0.0.1;Port=$db_port;Database=ordercancel;Username=postgres"
  elif has_docker_engine; then
    stop_hint="PostgreSQL keeps running in Docker: ./scripts/run.sh stop stops it (its data stays in the volume ordercancel-pgdata)."
    echo "Starting PostgreSQL in Docker (volume ordercancel-pgdata, port $db_port)..."
    ORDERCANCEL_DB_PORT=$db_port docker compose up -d --wait db
    export ConnectionStrings__Orders="Host=127.0.0.1;Port=$db_port;Database=ordercancel;Username=ordercancel;Password=ordercancel"
  else
    echo "Need PostgreSQL binaries (initdb, pg_ctl) or a Docker engine, or set ConnectionStrings__Orders." >&2
    exit 1
  fi
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
