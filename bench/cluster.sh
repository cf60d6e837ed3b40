#!/usr/bin/env bash
# The cluster scenario (issue 35): the topology of ./scripts/cluster.sh (a pg_auto_failover formation, Redis, three
# instances, HAProxy) under load, everything through HAProxy. It uses the cluster that runs, or starts one (with the
# rate limit raised out of the way) and stops it at the end. Not part of the test command; bench/README.md says how to
# read what it prints (also kept in bench/results/cluster.md).
#
#   1. Load: gets and cancels, bench/wrk's get.lua and cancel.lua driven by OrderCancel.Bench as bench/run.sh drives
#      them (a warm-up until the rate settles, then --seconds measured, a new partner's seeded orders), first with one
#      instance in rotation (the other two stopped, so that HAProxy takes them out), then with all three.
#   2. Failovers: --failovers times, the primary's whole node killed with kill -9 (bench/lib/formation.sh, as
#      `bench/failover.sh kill` does) while --writers clients create orders through HAProxy, each request with a key
#      and a customer ref of its own, not retried: for each, the seconds from the kill to the first 2xx of a create sent
#      after it, the requests answered 503, any other failure, and the acknowledged creates not in the database once
#      the killed node is back as the standby (must be 0); then the min / median / max.
#
#   bench/cluster.sh [--only load|failovers] [--concurrency 32] [--seconds 10] [--warmup 60] [--cancel-pool 250000]
#                    [--failovers 5] [--writers 8]
#
# --warmup 0 measures at once, with no warm-up: only to check that the script runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source scripts/lib/service.sh
source bench/lib/formation.sh
source bench/lib/wrk.sh

only=all concurrency=32 seconds=10 warmup=60 cancel_pool=250000 failovers=5 writers=8
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2 ;;
    --concurrency) concurrency=$2 ;;
    --seconds) seconds=$2 ;;
    --warmup) warmup=$2 ;;
    --cancel-pool) cancel_pool=$2 ;;
    --failovers) failovers=$2 ;;
    --writers) writers=$2 ;;
    *)
      echo "Usage: bench/cluster.sh [--only load|failovers] [--concurrency N] [--seconds S] [--warmup S] [--cancel-pool N] [--failovers N] [--writers N]" >&2
      exit 2
      ;;
  esac
  shift 2
done
case "$only" in all | load | failovers) ;; *) echo "--only load or --only failovers" >&2; exit 2 ;; esac

# What the instances are started with, when this script starts them (the cluster, or instances 2 and 3 again): a limit
# the load never meets, as bench/run.sh gives the service.
export RateLimiting__PermitsPerSecond=${RateLimiting__PermitsPerSecond:-1000000}

started_here=false
stopped_instances=false
out=$(mktemp -d /tmp/ordercancel-cluster-bench.XXXXXX)
cleanup() {
  touch "$out/stop"
  wait
  if [ "$started_here" = true ]; then
    ./scripts/cluster.sh stop >/dev/null || echo "./scripts/cluster.sh stop failed: stop the cluster yourself." >&2
  elif [ "$stopped_instances" = true ]; then
    echo "Starting instances 2 and 3 again..." >&2
    start_instances || true
  fi
  rm -rf "$out"
}
trap cleanup EXIT

cluster_dir=${ORDERCANCEL_CLUSTER_DIR:-$(cat .data/started-cluster 2>/dev/null || true)}
if [ -z "$cluster_dir" ] || ! pg_autoctl_running "$cluster_dir" "$cluster_dir/monitor" 2>/dev/null; then
  echo "No cluster runs: starting one with ./scripts/cluster.sh (stopped again at the end)..." >&2
  started_here=true
  ./scripts/cluster.sh >&2
fi
formation_find
api=http://127.0.0.1:$lb_port
npgsql="Host=127.0.0.1:$node1_port,127.0.0.1:$node2_port;Target Session Attributes=read-write;Database=ordercancel;Username=postgres"

# The instances' limit must be out of the load's way, or the figures are the limiter's: read from instance 1's environment.
limit=$(tr '\0' '\n' <"/proc/$(cat "$dir/pids/api1.pid")/environ" 2>/dev/null | sed -n 's/^RateLimiting__PermitsPerSecond=//p')
if [ "${limit:-100}" -lt 100000 ]; then
  echo "The running cluster's instances let a partner make ${limit:-100 (the default)} requests a second" \
    "(RateLimiting__PermitsPerSecond), which the load would meet: stop it (./scripts/cluster.sh stop) and run this" \
    "again, which starts one with the limit raised." >&2
  exit 1
fi

# start_instances: ./scripts/cluster.sh starts whatever of the cluster is not running (here instances 2 and 3).
start_instances() {
  ORDERCANCEL_CLUSTER_DIR=$dir ORDERCANCEL_CLUSTER_PORT=$lb_port ./scripts/cluster.sh >"$out/cluster.log" 2>&1 \
    || { cat "$out/cluster.log" >&2; return 1; }
  stopped_instances=false
}

# stop_instance N: SIGTERM, as an orchestrator stops one; the instance drains and exits.
stop_instance() {
  local pid
  pid=$(cat "$dir/pids/api$1.pid" 2>/dev/null) || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "Instance $1 did not stop within a minute." >&2
    return 1
  fi
  rm -f "$dir/pids/api$1.pid"
}

# rotation: the instances HAProxy sends requests to (its statistics, status UP), e.g. "api1 api2 api3".
rotation() {
  curl -fsS "http://127.0.0.1:$stats_port/;csv" | awk -F, '$1 == "instances" && $2 ~ /^api[0-9]+$/ && $18 == "UP" { printf "%s%s", sep, $2; sep = " " }'
}

wait_rotation() {
  for _ in $(seq 1 240); do
    [ "$(rotation)" = "$1" ] && return 0
    sleep 0.5
  done
  echo "HAProxy sends requests to '$(rotation)', not '$1', after 2 minutes." >&2
  return 1
}

commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- src bench scripts || commit="$commit with uncommitted changes"
cores=$(nproc)
machine="$cores cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM"
mkdir -p bench/results
report=bench/results/cluster.md
: >"$report"
say() { echo "$@" | tee -a "$report"; }

say "# bench/cluster.sh"
say
say "$(date -u '+%Y-%m-%d %H:%M') UTC, commit $commit, $machine; cluster in $dir."
say

if [ "$only" != failovers ]; then
  install_wrk
  dotnet build -c Release bench/OrderCancel.Bench >/dev/null
  bench=(dotnet bench/OrderCancel.Bench/bin/Release/net10.0/OrderCancel.Bench.dll --only cluster --service "$api"
    --service-pid "$(cat "$dir/pids/api1.pid")" --admin-key "$admin_key" --db "$npgsql" --concurrency "$concurrency"
    --seconds "$seconds" --warmup "$warmup" --cancel-pool "$cancel_pool")

  echo "One instance in rotation: stopping instances 2 and 3..." >&2
  stopped_instances=true
  stop_instance 2
  stop_instance 3
  wait_rotation "api1"
  "${bench[@]}" --label "1 instance" >"$out/load-1"

  echo "Three instances in rotation: starting instances 2 and 3 again..." >&2
  start_instances
  wait_rotation "api1 api2 api3"
  "${bench[@]}" --label "3 instances" >"$out/load-3"

  say "## Load through HAProxy: gets and cancels"
  say
  if [ "$warmup" = 0 ]; then warmed="no warm-up (a check that it runs, not a figure)"; else warmed="a warm-up of at least $warmup s until three 5-s windows agree within 3 %"; fi
  say "wrk, one thread, $concurrency connections; $seconds s measured after $warmed; a partner of its own each time."
  say
  say "| scenario | in rotation | warm-up s | requests/s | p50 ms | p99 ms | errors | instance 1's peak RSS MB |"
  say "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  sort -s -t'|' -k2,2r "$out/load-1" "$out/load-3" | tee -a "$report"
  say
  if [ "$cores" -le 4 ]; then
    say "On $cores cores, three instances cannot serve more than one: they share the cores with each other, HAProxy, both"
    say "PostgreSQL nodes (the standby replays every write), Redis and wrk. The 3-instance rows show what spreading the"
    say "load costs here (more processes for the same cores), not how the service scales; that takes instances on cores"
    say "(or machines) of their own."
  else
    say "The instances, HAProxy, both PostgreSQL nodes, Redis and wrk share these $cores cores: read the 3-instance rows"
    say "against the 1-instance rows of the same run, not as a scaling figure."
  fi
  say
fi

if [ "$only" != load ]; then
  order() {
    printf '{"kind": "one_time", "currency": "EUR", "customer": {"ref": "%s", "email": "bench@example.com", "first_name": "Cluster", "last_name": "Bench"}, "lines": [{"sku": "BENCH", "name": "Bench", "quantity": 1, "unit_price": 1}]}' "$1"
  }

  # writer FILE PREFIX: creates through HAProxy, one after the other, until $out/stop exists; a line
  # "<sent> <answered> <status> <customer ref>" each (status 000: no answer).
  writer() {
    local n=0 sent status
    while [ ! -e "$out/stop" ]; do
      n=$((n + 1))
      sent=$(date +%s.%N)
      status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST "$api/v1/orders" \
        -H "Authorization: Bearer $partner_key" -H "Content-Type: application/json" -H "Idempotency-Key: $2-$n" \
        -d "$(order "$2-$n")" || true)
      echo "$sent $(date +%s.%N) $status $2-$n" >>"$1"
      case "$status" in 2??) ;; *) sleep 0.1 ;; esac
    done
  }

  # first_write_after KILLED FILES...: seconds from KILLED to the first 2xx answer to a create sent after it; empty if none.
  first_write_after() {
    local killed=$1
    shift
    awk -v t="$killed" '$1 > t && $3 ~ /^2/ && (first == "" || $2 < first) { first = $2 } END { if (first != "") printf "%.1f", first - t }' "$@"
  }

  # stats VALUES...: "min / median / max" of numbers.
  stats() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
      if (NR == 0) { print "-"; exit }
      median = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%g / %g / %g", v[1], median, v[NR] }'
  }

  partner_key=$(curl -fsS -X POST "$api/v1/admin/partners" -H "Authorization: Bearer $admin_key" -H "Content-Type: application/json" \
    -d '{"name": "cluster-bench"}' | sed -n 's/.*"key" *: *"\([^"]*\)".*/\1/p')
  [ -n "$partner_key" ] || { echo "Could not create the bench's partner with the admin key." >&2; exit 1; }

  say "## Failovers under load: the primary's node killed (kill -9), $writers writers"
  say
  say "| failover | node killed | first 2xx write after the kill, s | requests answered 503 | other failures | creates acknowledged | acknowledged, not found afterwards |"
  say "| ---: | --- | ---: | ---: | --- | ---: | ---: |"
  wait_for_standby
  gaps=() unavailable=() lost_total=0
  for run in $(seq 1 "$failovers"); do
    primary=$(primary_node)
    prefix="cb$$-r$run"
    rm -f "$out/stop" "$out"/w*
    for w in $(seq 1 "$writers"); do writer "$out/w$w" "$prefix-w$w" & done
    sleep 5
    killed=$(date +%s.%N)
    kill_node "$primary"
    for _ in $(seq 1 240); do
      [ -n "$(first_write_after "$killed" "$out"/w*)" ] && break
      sleep 0.5
    done
    sleep 5
    touch "$out/stop"
    wait
    gap=$(first_write_after "$killed" "$out"/w*)
    answered_503=$(cat "$out"/w* | awk '$3 == 503' | wc -l)
    others=$(cat "$out"/w* | awk '$3 !~ /^2/ && $3 != 503 { n[$3]++ } END { for (s in n) printf "%s%d × %s", (sep++ ? ", " : ""), n[s], s }')
    cat "$out"/w* | awk '$3 ~ /^2/ { print $4 }' | sort >"$out/acknowledged"

    restart_node "$primary"
    wait_for_standby
    psql "$orders_database" -XAt -c "SELECT customer_ref FROM orders WHERE customer_ref LIKE '$prefix-%'" | sort >"$out/found"
    lost=$(comm -23 "$out/acknowledged" "$out/found" | wc -l)
    lost_total=$((lost_total + lost))
    [ -n "$gap" ] && gaps+=("$gap")
    unavailable+=("$answered_503")
    say "| $run | $primary | ${gap:-no write in 2 min} | $answered_503 | ${others:-none} | $(wc -l <"$out/acknowledged") | $lost |"
  done
  say "| min / median / max | | $(stats ${gaps[@]+"${gaps[@]}"}) | $(stats "${unavailable[@]}") | | | total $lost_total |"
  say
  [ "$lost_total" = 0 ] || say "**$lost_total acknowledged creates were lost.**"
fi
