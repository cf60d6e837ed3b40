#!/usr/bin/env bash
# Runs the service in Development on a local PostgreSQL it sets up itself (data kept between runs).
# Uses ConnectionStrings__Orders when set; otherwise this machine's PostgreSQL binaries; otherwise Docker.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh

port=${ORDERCANCEL_PORT:-5080}
db_port=${ORDERCANCEL_DB_PORT:-55432}
demo_key=${Demo__ApiKey:-oc_demo_key_for_local_use_only}

if [ -z "${ConnectionStrings__Orders:-}" ]; then
  if pg_bindir >/dev/null; then
    if [ "$(id -u)" = "0" ]; then data=${ORDERCANCEL_PGDATA:-/var/lib/postgresql/ordercancel-dev}; else data=${ORDERCANCEL_PGDATA:-$PWD/.data/postgres}; fi
    echo "Starting PostgreSQL (data in $data, port $db_port)..."
    pg_start "$data" "$db_port"
    as_postgres psql -h "$data" -p "$db_port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ordercancel'" | grep -q 1 \
      || as_postgres psql -h "$data" -p "$db_port" -U postgres -qc "CREATE DATABASE ordercancel"
    export ConnectionStrings__Orders="Host=127.0.0.1;Port=$db_port;Database=ordercancel;Username=postgres"
  elif has_docker_engine; then
    echo "Starting PostgreSQL in Docker (volume ordercancel-pgdata)..."
    docker compose up -d --wait db
    export ConnectionStrings__Orders="Host=127.0.0.1;Port=5432;Database=ordercancel;Username=ordercancel;Password=ordercancel"
  else
    echo "Need PostgreSQL binaries (initdb, pg_ctl) or a Docker engine, or set ConnectionStrings__Orders." >&2
    exit 1
  fi
fi

export ASPNETCORE_ENVIRONMENT=${ASPNETCORE_ENVIRONMENT:-Development}
export Demo__ApiKey=$demo_key

cat <<BANNER

  OrderCancel is starting on http://localhost:$port
  Swagger UI:  http://localhost:$port/swagger
  Demo key:    $demo_key      (Authorize → paste it; or curl -H "Authorization: Bearer $demo_key")

BANNER
exec dotnet run --project src/OrderCancel.Api -c Release --no-launch-profile -- --urls "http://localhost:$port"
