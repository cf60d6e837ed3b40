#!/usr/bin/env bash
# How long writes stop when the formation of ./scripts/cluster.sh changes primary (docs/operations.md, "Running several
# instances", has the figures). Start the cluster first; each run leaves it with a primary and a synchronous standby.
#
#   bench/failover.sh kill [runs]        kill -9 the primary's whole node (its pg_autoctl keeper and its PostgreSQL),
#                                        then start it again, to come back as the standby
#   bench/failover.sh switchover [runs]  pg_autoctl perform switchover (planned)
#   bench/failover.sh failover [runs]    pg_autoctl perform failover (planned)
#
# During each run two probes write in a loop, and the run prints the longest time between two successful writes of each:
#   database  one INSERT per connection, through libpq's multi-host string with target_session_attrs=read-write
#   service   one POST /v1/orders through HAProxy with the demo key (each with an Idempotency-Key of its own), and
#             what the service answered meanwhile
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source scripts/lib/service.sh
source bench/lib/formation.sh

kind=${1:-}
runs=${2:-3}
case "$kind" in
  kill | switchover | failover) ;;
  *)
    echo "Usage: bench/failover.sh kill|switchover|failover [runs]" >&2
    exit 2
    ;;
esac

formation_find
database="postgresql://postgres@127.0.0.1:$node1_port,127.0.0.1:$node2_port/postgres?target_session_attrs=read-write&connect_timeout=2"
api=http://127.0.0.1:$lb_port
out=$(mktemp -d /tmp/ordercancel-failover.XXXXXX)
trap 'rm -rf "$out"' EXIT

# probe_database FILE: a line "<epoch> ok|fail" per attempt until the file FILE.stop exists.
probe_database() {
  while [ ! -e "$1.stop" ]; do
    if psql "$database" -XqAt -c "INSERT INTO failover_probe DEFAULT VALUES" >/dev/null 2>&1; then
      echo "$(date +%s.%N) ok" >>"$1"
    else
      echo "$(date +%s.%N) fail" >>"$1"
      sleep 0.1
    fi
  done
}

# probe_service FILE: a line "<epoch> <status>" per POST /v1/orders until FILE.stop exists.
probe_service() {
  local n=0 status
  while [ ! -e "$1.stop" ]; do
    n=$((n + 1))
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST "$api/v1/orders" \
      -H "Authorization: Bearer $demo_key" -H "Content-Type: application/json" -H "Idempotency-Key: failover-$$-$n" \
      -d '{"kind": "one_time", "currency": "EUR", "customer": {"ref": "failover-probe", "email": "probe@example.com", "first_name": "Failover", "last_name": "Probe"}, "lines": [{"sku": "PROBE", "name": "Probe", "quantity": 1, "unit_price": 1}]}' || true)
    echo "$(date +%s.%N) $status" >>"$1"
    [ "$status" = 201 ] || sleep 0.1
  done
}

# resumed FILE SUCCESS: whether a success follows a failure that came after $started.
resumed() {
  awk -v t="$started" -v success="$2" '$1 > t && $2 != success { failed = 1 } failed && $2 == success { found = 1 } END { exit !found }' "$1" 2>/dev/null
}

# gap FILE SUCCESS: the longest time between two successes, and what came between them.
gap() {
  awk -v success="$2" '
    $2 == success { if (last != "" && $1 - last > longest) { longest = $1 - last; answers = between } last = $1; between = ""; next }
    { between = between " " $2 }
    END {
      n = split(answers, list, " "); delete count
      for (i = 1; i <= n; i++) count[list[i]]++
      summary = ""; for (code in count) summary = summary sprintf(" %s×%d", code, count[code])
      printf "%.1f s%s", longest, (summary == "" ? "" : " (meanwhile" summary ")")
    }' "$1"
}

PGOPTIONS="-c client_min_messages=warning" psql "$database" -Xq -c "CREATE TABLE IF NOT EXISTS failover_probe (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())"
wait_for_standby
for run in $(seq 1 "$runs"); do
  primary=$(primary_node)
  rm -f "$out"/*
  probe_database "$out/database" &
  probe_service "$out/service" &
  sleep 5
  started=$(date +%s.%N)
  case "$kind" in
    kill) kill_node "$primary" ;;
    switchover | failover) pg_autoctl_in "$dir" perform "$kind" --pgdata "$dir/monitor" >/dev/null 2>&1 ;;
  esac
  # Until each probe has written again after failing, and 5 s more (or 2 minutes, if one never failed).
  until resumed "$out/database" ok && resumed "$out/service" 201; do
    sleep 0.5
    if awk -v t="$started" -v now="$(date +%s.%N)" 'BEGIN { exit !(now - t > 120) }'; then
      echo "Writes did not stop and resume within 2 minutes." >&2
      break
    fi
  done
  sleep 5
  touch "$out/database.stop" "$out/service.stop"
  wait
  echo "$kind $run (primary was $primary): database $(gap "$out/database" ok); service $(gap "$out/service" 201)"
  [ "$kind" = kill ] && restart_node "$primary"
  wait_for_standby
done
