#!/usr/bin/env bash
# The scale scenario: one partner with 5,000,000 orders and one with 10,000 on one database, every
# partner-facing read measured for both at concurrency 8; prints the table, then table sizes. Not part of
# bench/run.sh or the test command: seeding alone takes minutes. Extra arguments go to OrderCancel.Scale
# (--big 5000000 --small 10000 --requests 400). It cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh

data=$(mktemp -d /tmp/ordercancel-scale-pg.XXXXXX)
db_port=$(free_port)
service_port=$(free_port)
service_pid=""
cleanup() {
  [ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null || true
  pg_stop "$data"
  rm -rf "$data"
}
trap cleanup EXIT

echo "PostgreSQL on port $db_port (durability off: the comparison is about query shapes, not the disk)..." >&2
pg_start "$data" "$db_port" shared_buffers=2GB max_connections=100 fsync=off synchronous_commit=off full_page_writes=off \
  autovacuum=off max_wal_size=16GB checkpoint_timeout=30min maintenance_work_mem=1GB work_mem=64MB
as_postgres psql -h "$data" -p "$db_port" -U postgres -qc "CREATE DATABASE scale"
conn="Host=127.0.0.1;Port=$db_port;Database=scale;Username=postgres"

dotnet build -c Release bench/OrderCancel.Scale >/dev/null
dotnet build -c Release src/OrderCancel.Api >/dev/null

mkdir -p bench/results
admin_key="oc_scale_admin_$RANDOM$RANDOM"
(cd src/OrderCancel.Api/bin/Release/net10.0 && exec env ASPNETCORE_ENVIRONMENT=Benchmark ConnectionStrings__Orders="$conn" \
  Admin__ApiKey="$admin_key" RateLimiting__PermitsPerSecond=1000000 Scheduling__PollInterval=01:00:00 \
  dotnet OrderCancel.Api.dll --urls "http://127.0.0.1:$service_port") > bench/results/scale-service.log 2>&1 &
service_pid=$!
until curl -sf "http://127.0.0.1:$service_port/health/ready" >/dev/null; do sleep 0.5; done

dotnet bench/OrderCancel.Scale/bin/Release/net10.0/OrderCancel.Scale.dll \
  --service "http://127.0.0.1:$service_port" --admin-key "$admin_key" --db "$conn" "$@" | tee bench/results/scale.md
