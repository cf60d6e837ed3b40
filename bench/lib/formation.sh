# shellcheck shell=bash
# Shared by bench/failover.sh and bench/cluster.sh: the running cluster of ./scripts/cluster.sh, and what they do to
# its pg_auto_failover formation. Source it from the repository's root, after scripts/lib/postgres.sh.

# formation_find: sets dir (where the running cluster keeps everything, from ORDERCANCEL_CLUSTER_DIR or
# .data/started-cluster), monitor_port, node1_port, node2_port, redis_port, lb_port (HAProxy's), stats_port (HAProxy's
# statistics) and orders_database (a libpq string for the service's database that finds the node taking writes); exits when no
# cluster runs.
formation_find() {
  dir=${ORDERCANCEL_CLUSTER_DIR:-$(cat .data/started-cluster 2>/dev/null || true)}
  if [ -z "$dir" ] || ! pg_autoctl_running "$dir" "$dir/monitor"; then
    echo "No cluster runs: ./scripts/cluster.sh starts one." >&2
    exit 1
  fi
  # shellcheck disable=SC2034 # read by the scripts that source this file
  read -r monitor_port node1_port node2_port redis_port <"$dir/ports"
  # shellcheck disable=SC2034
  read -r lb_port stats_port <"$dir/lb-ports"
  # shellcheck disable=SC2034
  orders_database="postgresql://postgres@127.0.0.1:$node1_port,127.0.0.1:$node2_port/ordercancel?target_session_attrs=read-write&connect_timeout=2"
}

monitor_sql() {
  as_postgres psql "postgres://postgres@127.0.0.1:$monitor_port/pg_auto_failover" -XqAt -v ON_ERROR_STOP=1 -c "$1"
}

# wait_for_standby: until the formation has a primary and a synchronous secondary again (at most 3 minutes).
wait_for_standby() {
  for _ in $(seq 1 360); do
    [ "$(monitor_sql "SELECT count(*) FILTER (WHERE reportedstate = 'primary' AND goalstate = 'primary') || ' ' || count(*) FILTER (WHERE reportedstate = 'secondary' AND goalstate = 'secondary') FROM pgautofailover.node")" = "1 1" ] && return 0
    sleep 0.5
  done
  echo "No primary and secondary after 3 minutes:" >&2
  pg_autoctl_in "$dir" show state --pgdata "$dir/monitor" >&2
  return 1
}

# primary_node: the name (node1, node2) of the node now primary.
primary_node() {
  monitor_sql "SELECT nodename FROM pgautofailover.node WHERE reportedstate = 'primary'"
}

# kill_node NAME: kill -9 of that node's whole process group, its pg_autoctl keeper and its PostgreSQL, as when its
# machine dies (cluster.sh runs each node in a session of its own).
kill_node() {
  local pgid
  pgid=$(ps -eo pgid=,args= | awk -v node="$dir/$1" '$2 == "pg_autoctl" && $3 == "run" && $5 == node { print $1; exit }')
  [ -n "$pgid" ] || { echo "No pg_autoctl runs $dir/$1." >&2; return 1; }
  kill -9 -- "-$pgid"
}

# restart_node NAME: starts a killed node again; it rejoins as the standby (wait_for_standby waits for that).
restart_node() {
  pg_autoctl_start "$dir" "$dir/$1" "$dir/logs/$1.log"
}
