#!/usr/bin/env bash
# One command for the benchmarks: a throwaway PostgreSQL, the service and the raw baseline
# built in Release and started as processes on loopback, then the load generator. Prints the table
# and keeps it in bench/results/latest.md. Not part of the test command.
# --old REF also builds the service of that commit (a git worktree) and measures it beside this one, on the same
# database: the commit must have the same migrations (the newer build refuses a database an unknown migration made).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source bench/lib/wrk.sh

old_ref=""
bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --old) old_ref=${2:?--old needs a commit}; shift 2 ;;
    *) bench_args+=("$1"); shift ;;
  esac
done
set -- ${bench_args[@]+"${bench_args[@]}"}

install_wrk

data=$(mktemp -d /tmp/ordercancel-bench-pg.XXXXXX)
db_port=$(free_port)
service_port=$(free_port)
raw_port=$(free_port)
old_port=$(free_port)
old_tree=""
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  pg_stop "$data"
  rm -rf "$data"
  if [ -n "$old_tree" ]; then git worktree remove --force "$old_tree" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

echo "PostgreSQL on port $db_port (synchronous_commit=off: the comparison is about the code, not the disk; autovacuum off: the load generator vacuums after seeding)..." >&2
pg_start "$data" "$db_port" shared_buffers=1GB max_connections=300 synchronous_commit=off autovacuum=off
as_postgres psql -h "$data" -p "$db_port" -U postgres -qc "CREATE DATABASE bench"
# Both targets get the same connection settings: Npgsql's safe defaults, as the service uses them (Persistence/Database.cs).
# ORDERCANCEL_BENCH_SERVICE_CONN_EXTRA adds settings to the service's alone, e.g. to measure what a faster one would save.
conn="Host=127.0.0.1;Port=$db_port;Database=bench;Username=postgres;Maximum Pool Size=128"
# The events feed and the bulk job have no baseline to share settings with: the service runs as README.md's connection
# budget tells an operator to size it, a pool of about the database's cores when it shares them (here with the service
# and wrk). Background work's batches have a pool of their own beside it (Persistence/Database.cs).
if [[ " $* " == *" --only events "* || " $* " == *" --only bulk "* ]] && [ -z "${ORDERCANCEL_BENCH_SERVICE_CONN_EXTRA+set}" ]; then
  ORDERCANCEL_BENCH_SERVICE_CONN_EXTRA="Maximum Pool Size=$(nproc)"
  echo "The service's pool: $(nproc) connections, the database's cores (set ORDERCANCEL_BENCH_SERVICE_CONN_EXTRA= for the bench's 128)." >&2
fi
service_conn="$conn${ORDERCANCEL_BENCH_SERVICE_CONN_EXTRA:+;$ORDERCANCEL_BENCH_SERVICE_CONN_EXTRA}"
raw_conn="$conn;Application Name=bench-raw"
# The outbox scenario's receivers are on loopback, over http; the events scenario recovers 100,000 deliveries to one
# endpoint (in capped calls following next_since), more than an endpoint may have pending by default.
service_env=()
if [[ " $* " == *" --only outbox "* ]]; then service_env+=(Webhooks__AllowInsecureLoopback=true); fi
if [[ " $* " == *" --only events "* ]]; then service_env+=(Webhooks__MaxPendingPerEndpoint=200000); fi

dotnet build -c Release bench/OrderCancel.Bench >/dev/null
dotnet build -c Release bench/OrderCancel.RawBaseline >/dev/null
dotnet build -c Release src/OrderCancel.Api >/dev/null
if [ -n "$old_ref" ]; then
  old_tree=/tmp/ordercancel-bench-old.$$
  echo "Building the service of $old_ref ($(git rev-parse --short "$old_ref")) in $old_tree to measure beside this one..." >&2
  git worktree add --detach "$old_tree" "$old_ref" >/dev/null
  dotnet build -c Release "$old_tree/src/OrderCancel.Api" >/dev/null
fi

mkdir -p bench/results
admin_key="oc_bench_admin_$RANDOM$RANDOM"
# From its output folder, so it reads its appsettings.json (logging included) as a deployment would.
# start_service FOLDER NAME PORT: a build of the service from its output folder, its log in bench/results/NAME.log; sets
# started_pid once it is ready.
start_service() {
  local folder=$1 name=$2 port=$3
  (cd "$folder/src/OrderCancel.Api/bin/Release/net10.0" && exec env ASPNETCORE_ENVIRONMENT=Benchmark \
    ConnectionStrings__Orders="$service_conn;Application Name=bench-$name" \
    Admin__ApiKey="$admin_key" RateLimiting__PermitsPerSecond=1000000 ${service_env[@]+"${service_env[@]}"} \
    dotnet OrderCancel.Api.dll --urls "http://127.0.0.1:$port") > "bench/results/$name.log" 2>&1 &
  started_pid=$!
  pids+=("$started_pid")
  until curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null; do
    if ! kill -0 "$started_pid" 2>/dev/null; then
      echo "The $name build stopped during start-up; its log: bench/results/$name.log" >&2
      exit 1
    fi
    sleep 0.5
  done
}
start_service . service "$service_port"
service_pid=$started_pid
old_args=()
if [ -n "$old_ref" ]; then
  start_service "$old_tree" old "$old_port"
  old_args=(--old "http://127.0.0.1:$old_port" --old-pid "$started_pid")
fi

ConnectionStrings__Orders="$raw_conn" \
  dotnet bench/OrderCancel.RawBaseline/bin/Release/net10.0/OrderCancel.RawBaseline.dll --urls "http://127.0.0.1:$raw_port" \
  > bench/results/raw.log 2>&1 &
raw_pid=$!
pids+=("$raw_pid")
until curl -s -o /dev/null "http://127.0.0.1:$raw_port/v1/orders/1"; do sleep 0.5; done

dotnet bench/OrderCancel.Bench/bin/Release/net10.0/OrderCancel.Bench.dll \
  --service "http://127.0.0.1:$service_port" --service-pid "$service_pid" \
  --raw "http://127.0.0.1:$raw_port" --raw-pid "$raw_pid" \
  ${old_args[@]+"${old_args[@]}"} --admin-key "$admin_key" --db "$conn" "$@" | tee bench/results/latest.md
