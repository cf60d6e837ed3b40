#!/usr/bin/env bash
# Runs OrderCancel on this machine as it runs in production: a pg_auto_failover formation (a monitor, a primary and a
# synchronous standby), Redis for the rate limit shared by instances, three instances of the service, and HAProxy in
# front of them (docs/operations.md, "Running several instances"). The data is kept between runs, as run.sh keeps it.
#
#   ./scripts/cluster.sh          install what is missing (it says so first), build, start whatever is not running,
#                                 and print the load balancer's URL and the demo key; running it again changes nothing
#   ./scripts/cluster.sh db       only the pg_auto_failover formation (install what it needs, start what is not running,
#                                 wait for a primary and its synchronous standby), and print its connection string: to run
#                                 the service from an IDE, or instances of a test's own against it
#   ./scripts/cluster.sh status   the formation's nodes and which instances HAProxy sends requests to
#   ./scripts/cluster.sh stop     stop everything it started (the data stays)
#
# Ports, all on 127.0.0.1: ORDERCANCEL_CLUSTER_PORT (5090) is HAProxy's; the three instances listen on the next three
# (5091-5093) and HAProxy's statistics page on the one after (5094). ORDERCANCEL_CLUSTER_DB_PORT (55440) is the
# monitor's; the two PostgreSQL nodes take the next two (55441, 55442), Redis the one after (55443); the formation's
# ports are chosen when it is created, and kept. ORDERCANCEL_CLUSTER_DIR chooses the folder that holds the data, the
# logs and what runs (default .data/cluster; as root /var/lib/postgresql/ordercancel-cluster, where the postgres user
# may go); `stop` finds it again without being told.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source scripts/lib/service.sh

command=${1:-start}
case "$command" in
  start | db | status | stop) ;;
  *)
    echo "Usage: ./scripts/cluster.sh [db|status|stop]" >&2
    exit 2
    ;;
esac

repo=$PWD
# Where the last start put its data, so that `stop` and `status` need no variable again.
pointer=$repo/.data/started-cluster
if [ "$(id -u)" = "0" ]; then default_dir=/var/lib/postgresql/ordercancel-cluster; else default_dir=$repo/.data/cluster; fi
if [ -n "${ORDERCANCEL_CLUSTER_DIR:-}" ]; then
  dir=$ORDERCANCEL_CLUSTER_DIR
elif [ "$command" != "start" ] && [ "$command" != "db" ] && [ -s "$pointer" ]; then
  dir=$(cat "$pointer")
else
  dir=$default_dir
fi
case "$dir" in /*) ;; *) dir=$repo/$dir ;; esac
logs=$dir/logs
pids=$dir/pids
monitor=$dir/monitor
nodes=("$dir/node1" "$dir/node2")

# The formation's ports are chosen once, when it is created; the others on every start.
lb_port=${ORDERCANCEL_CLUSTER_PORT:-5090}
api_ports=($((lb_port + 1)) $((lb_port + 2)) $((lb_port + 3)))
stats_port=$((lb_port + 4))
if [ -s "$dir/ports" ]; then
  read -r monitor_port node1_port node2_port redis_port <"$dir/ports"
else
  monitor_port=${ORDERCANCEL_CLUSTER_DB_PORT:-55440}
  node1_port=$((monitor_port + 1)) node2_port=$((monitor_port + 2)) redis_port=$((monitor_port + 3))
fi
node_ports=("$node1_port" "$node2_port")

monitor_sql() {
  as_postgres psql "postgres://postgres@127.0.0.1:$monitor_port/pg_auto_failover" -XqAt -v ON_ERROR_STOP=1 "$@"
}

# pid_running NAME: whether the process whose pid is in pids/NAME.pid still runs.
pid_running() {
  local pid
  pid=$(cat "$pids/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# stop_pid NAME WHAT: TERM, then KILL after 30 s, the process of pids/NAME.pid.
stop_pid() {
  local name=$1 what=$2 pid
  if ! pid_running "$name"; then
    rm -f "$pids/$name.pid"
    return 0
  fi
  pid=$(cat "$pids/$name.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$what did not stop within 30 s: killed."
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pids/$name.pid"
  echo "Stopped $what."
}

# The node now primary (its folder), when the monitor answers; empty otherwise.
primary_node() {
  local name
  name=$(monitor_sql -c "SELECT nodename FROM pgautofailover.node WHERE reportedstate IN ('primary', 'wait_primary', 'single') ORDER BY nodeid LIMIT 1" 2>/dev/null) || true
  if [ -n "$name" ]; then echo "$dir/$name"; fi
}

# Whether anything of the cluster in $dir runs.
anything_running() {
  local name node
  for name in haproxy api1 api2 api3 redis; do pid_running "$name" && return 0; done
  for node in "$monitor" "${nodes[@]}"; do
    pg_autoctl_running "$dir" "$node" && return 0
    postmaster_running "$node" && return 0
  done
  return 1
}

if [ "$command" = "status" ]; then
  if ! pg_autoctl_running "$dir" "$monitor" 2>/dev/null; then
    echo "The cluster in $dir is not running: ./scripts/cluster.sh starts it."
    exit 1
  fi
  pg_autoctl_in "$dir" show state --pgdata "$monitor"
  echo
  if pid_running haproxy; then
    echo "HAProxy (http://127.0.0.1:$(cut -d' ' -f1 "$dir/lb-ports")/), server by server:"
    curl -fsS "http://127.0.0.1:$(cut -d' ' -f2 "$dir/lb-ports")/;csv" \
      | awk -F, '$1 == "instances" && $2 ~ /^api[0-9]+$/ { printf "  %-5s %s\n", $2, $18 }'
  else
    echo "HAProxy is not running."
  fi
  exit 0
fi

if [ "$command" = "stop" ]; then
  if [ ! -d "$dir" ] || ! anything_running; then
    echo "No cluster runs in $dir."
    rm -f "$pointer"
    exit 0
  fi
  stop_pid haproxy "HAProxy"
  for i in 1 2 3; do stop_pid "api$i" "instance $i"; done
  stop_pid redis "Redis"
  # The standby before the primary, and the monitor last: a primary stopped while the monitor watches and a standby
  # is ready would be failed over.
  primary=$(primary_node)
  status=0
  for node in "${nodes[@]}"; do
    [ "$node" = "$primary" ] && continue
    pg_autoctl_stop "$dir" "$node" || { echo "PostgreSQL node $(basename "$node") did not stop; its log: $logs/$(basename "$node").log" >&2; status=1; }
  done
  if [ -n "$primary" ]; then
    pg_autoctl_stop "$dir" "$primary" || { echo "PostgreSQL node $(basename "$primary") did not stop; its log: $logs/$(basename "$primary").log" >&2; status=1; }
  fi
  pg_autoctl_stop "$dir" "$monitor" || { echo "The monitor did not stop; its log: $logs/monitor.log" >&2; status=1; }
  [ "$status" = 0 ] && echo "Stopped the pg_auto_failover formation (data kept in $dir)."
  rm -f "$pointer"
  exit "$status"
fi

# Said first, so whoever cannot or will not install a system package knows before anything else runs.
pg_version=$(basename "$(dirname "$(pg_bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)")")
case "$pg_version" in '' | *[!0-9]*) pg_version=15 ;; esac
missing=()
command -v pg_autoctl >/dev/null 2>&1 && [ -f "/usr/share/postgresql/$pg_version/extension/pgautofailover.control" ] \
  || missing+=("postgresql-$pg_version-auto-failover")
if [ "$command" = "start" ]; then
  command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then sudo="" as="you are root"; else sudo="sudo" as="it runs sudo apt-get, which may ask for your password"; fi
  echo "Not installed: ${missing[*]}. This script installs Debian's packages with apt-get, which needs root ($as)."
  if [ -n "$sudo" ] && ! command -v sudo >/dev/null 2>&1; then
    echo "Installing them needs root or sudo, and there is no sudo here: run as root, or install them yourself." >&2
    exit 1
  fi
  echo "Installing: apt-get update, then apt-get install ${missing[*]}"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
PATH=$PATH:/usr/sbin
bin=$(pg_bindir) || { echo "PostgreSQL binaries (initdb, pg_ctl) not found" >&2; exit 1; }

# Every port checked before the build, so a busy one costs no build; what already runs is kept, not checked.
busy=0
check_port() { # PORT WHAT RUNNING
  if [ "$3" = false ] && port_in_use "$1"; then
    echo "Port $1 ($2) is already in use: stop what uses it, or move the cluster's ports (ORDERCANCEL_CLUSTER_PORT, ORDERCANCEL_CLUSTER_DB_PORT)." >&2
    busy=1
  fi
}
running() { if "$@" 2>/dev/null; then echo true; else echo false; fi; }
check_port "$monitor_port" "the pg_auto_failover monitor" "$(running pg_autoctl_running "$dir" "$monitor")"
for i in 0 1; do check_port "${node_ports[$i]}" "PostgreSQL node $((i + 1))" "$(running pg_autoctl_running "$dir" "${nodes[$i]}")"; done
if [ "$command" = "start" ]; then
  check_port "$redis_port" "Redis" "$(running pid_running redis)"
  for i in 0 1 2; do check_port "${api_ports[$i]}" "instance $((i + 1))" "$(running pid_running "api$((i + 1))")"; done
  check_port "$lb_port" "HAProxy" "$(running pid_running haproxy)"
  check_port "$stats_port" "HAProxy's statistics" "$(running pid_running haproxy)"
fi
[ "$busy" = 0 ] || exit 1

# Instances that run keep running what they run: the build is for those about to start (stop, then start, to run a new one).
if [ "$command" = "start" ] && { ! pid_running api1 || ! pid_running api2 || ! pid_running api3; }; then
  build_service || exit 1
fi

mkdir -p "$dir" "$logs" "$pids" "$repo/.data"
[ "$(id -u)" = "0" ] && chown postgres "$dir"
for folder in xdg sockets; do pg_own "$dir/$folder"; done
echo "$dir" >"$pointer"
echo "$monitor_port $node1_port $node2_port $redis_port" >"$dir/ports"
echo "$lb_port $stats_port" >"$dir/lb-ports"
touch "$logs/monitor.log" "$logs/node1.log" "$logs/node2.log"
[ "$(id -u)" = "0" ] && chown postgres "$logs/monitor.log" "$logs/node1.log" "$logs/node2.log"

# pg_autoctl's settings for a node of this script's: trust on 127.0.0.1 only (a development cluster), no TLS.
common=(--pgctl "$bin/pg_ctl" --hostname 127.0.0.1 --auth trust --no-ssl)

if pg_autoctl_running "$dir" "$monitor"; then
  echo "The pg_auto_failover monitor runs (port $monitor_port; data in $dir)."
else
  echo "Starting the pg_auto_failover monitor (port $monitor_port; data in $dir)..."
fi
if ! pg_autoctl_in "$dir" config get --pgdata "$monitor" pg_autoctl.role >/dev/null 2>&1; then
  pg_autoctl_in "$dir" create monitor --pgdata "$monitor" --pgport "$monitor_port" "${common[@]}" >>"$logs/monitor.log" 2>&1 \
    || { tail -n 20 "$logs/monitor.log" >&2; exit 1; }
  pg_autoctl_in "$dir" config set --pgdata "$monitor" postgresql.listen_addresses 127.0.0.1 >/dev/null
fi
# The failure detection of scripts/cluster/monitor.conf, included last so that it wins; copied at each start, so an
# edit there takes effect with the next start.
as_postgres tee "$monitor/ordercancel-monitor.conf" <scripts/cluster/monitor.conf >/dev/null
grep -q "^include 'ordercancel-monitor.conf'" "$monitor/postgresql.conf" \
  || echo "include 'ordercancel-monitor.conf'" | as_postgres tee -a "$monitor/postgresql.conf" >/dev/null
pg_autoctl_start "$dir" "$monitor" "$logs/monitor.log"
for _ in $(seq 1 120); do monitor_sql -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.5; done
monitor_sql -c "SELECT pg_reload_conf()" >/dev/null || { tail -n 20 "$logs/monitor.log" >&2; exit 1; }

# A node is created once, then run. The first becomes the primary; the second copies it and becomes its synchronous
# standby (pg_auto_failover sets synchronous_standby_names to it while it is healthy).
monitor_uri="postgres://autoctl_node@127.0.0.1:$monitor_port/pg_auto_failover?sslmode=disable"
for i in 0 1; do
  node=${nodes[$i]} name=node$((i + 1))
  if pg_autoctl_running "$dir" "$node"; then
    echo "PostgreSQL $name runs (port ${node_ports[$i]})."
  else
    echo "Starting PostgreSQL $name (port ${node_ports[$i]})..."
  fi
  if ! pg_autoctl_in "$dir" config get --pgdata "$node" pg_autoctl.role >/dev/null 2>&1; then
    pg_autoctl_in "$dir" create postgres --pgdata "$node" --pgport "${node_ports[$i]}" --listen 127.0.0.1 --name "$name" \
      --dbname ordercancel --username postgres --monitor "$monitor_uri" "${common[@]}" >>"$logs/$name.log" 2>&1 \
      || { tail -n 20 "$logs/$name.log" >&2; exit 1; }
    # A primary cut off from the monitor and its standby stops itself after this long (default 20 s); it must stay
    # below the monitor's primary_demote_timeout (scripts/cluster/monitor.conf).
    pg_autoctl_in "$dir" config set --pgdata "$node" timeout.network_partition_timeout 10 >/dev/null
  fi
  pg_autoctl_start "$dir" "$node" "$logs/$name.log"
done

echo "Waiting for a primary and its synchronous standby..."
for attempt in $(seq 1 360); do
  states=$(monitor_sql -c "SELECT count(*) FILTER (WHERE reportedstate = 'primary' AND goalstate = 'primary') || ' ' || count(*) FILTER (WHERE reportedstate = 'secondary' AND goalstate = 'secondary') FROM pgautofailover.node" 2>/dev/null || true)
  [ "$states" = "1 1" ] && break
  if [ "$attempt" = 360 ]; then
    pg_autoctl_in "$dir" show state --pgdata "$monitor" >&2 || true
    echo "The formation did not reach a primary and a secondary in 3 minutes; logs in $logs." >&2
    exit 1
  fi
  sleep 0.5
done

# Npgsql tries the hosts in turn for one that takes writes. read-write, not primary: a standby being promoted is out of
# recovery (a primary) several seconds before pg_auto_failover lets it take writes (default_transaction_read_only
# stays on until the old primary is known to be demoted), and every write there would fail. The pool's defaults otherwise.
orders="Host=127.0.0.1:$node1_port,127.0.0.1:$node2_port;Target Session Attributes=read-write;Host Recheck Seconds=1;Database=ordercancel;Username=postgres"
if [ "$command" = "db" ]; then
  echo "The formation is ready: ConnectionStrings__Orders=\"$orders\""
  echo "Its state: ./scripts/cluster.sh status; stop it: ./scripts/cluster.sh stop (the data stays in $dir)"
  exit 0
fi

if ! pid_running redis; then
  echo "Starting Redis (port $redis_port, nothing kept on disk)..."
  mkdir -p "$dir/redis"
  redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$dir/redis" --daemonize yes \
    --pidfile "$pids/redis.pid" --logfile "$logs/redis.log"
  for _ in $(seq 1 40); do [ -s "$pids/redis.pid" ] && break; sleep 0.25; done
fi

export ASPNETCORE_ENVIRONMENT=${ASPNETCORE_ENVIRONMENT:-Development}
export Demo__ApiKey=$demo_key Admin__ApiKey=$admin_key
export ConnectionStrings__Orders=$orders
export ConnectionStrings__Redis=127.0.0.1:$redis_port
# HAProxy reaches the instances from 127.0.0.1: its X-Forwarded-For is believed, and no one else's.
export ForwardedHeaders__KnownProxies=127.0.0.1

# start_instance N: instance N in the background in a session of its own, from the build's folder.
start_instance() {
  local n=$1 port=${api_ports[$(($1 - 1))]}
  pid_running "api$n" && return 0
  echo "Starting instance $n (port $port)..."
  (cd "$service_bin" && exec setsid dotnet OrderCancel.Api.dll --urls "http://127.0.0.1:$port" >>"$logs/api$n.log" 2>&1 </dev/null) &
  echo $! >"$pids/api$n.pid"
}

# wait_ready N: until instance N answers /health/ready.
wait_ready() {
  local n=$1 port=${api_ports[$(($1 - 1))]}
  for _ in $(seq 1 240); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && return 0
    if ! pid_running "api$n"; then
      tail -n 30 "$logs/api$n.log" >&2
      echo "Instance $n stopped during start-up; its log: $logs/api$n.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "Instance $n is not ready after 2 minutes; its log: $logs/api$n.log" >&2
  return 1
}

# The first alone, so that migrations and the demo partner are done once; then the other two.
start_instance 1
wait_ready 1
start_instance 2
start_instance 3
wait_ready 2
wait_ready 3

if ! pid_running haproxy; then
  echo "Starting HAProxy (port $lb_port)..."
  export OC_LB_BIND=127.0.0.1:$lb_port OC_STATS_BIND=127.0.0.1:$stats_port
  export OC_API1=127.0.0.1:${api_ports[0]} OC_API2=127.0.0.1:${api_ports[1]} OC_API3=127.0.0.1:${api_ports[2]}
  haproxy -c -q -f scripts/cluster/haproxy.cfg
  setsid haproxy -db -f scripts/cluster/haproxy.cfg >>"$logs/haproxy.log" 2>&1 </dev/null &
  echo $! >"$pids/haproxy.pid"
fi
for _ in $(seq 1 40); do curl -sf "http://127.0.0.1:$lb_port/health/ready" >/dev/null 2>&1 && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$lb_port/health/ready" >/dev/null || { tail -n 20 "$logs/haproxy.log" >&2; echo "HAProxy does not answer; its log: $logs/haproxy.log" >&2; exit 1; }

cat <<BANNER

  OrderCancel is ready on http://localhost:$lb_port (HAProxy, in front of 3 instances)
  Swagger UI:  http://localhost:$lb_port/swagger
  Demo key:    $demo_key      (Authorize → paste it; or curl -H "Authorization: Bearer $demo_key")
  Admin key:   $admin_key      (admin routes only; Development)
  HAProxy:     http://localhost:$stats_port/ (which instances are in rotation)
  Database:    postgres://postgres@127.0.0.1:$node1_port,127.0.0.1:$node2_port/ordercancel?target_session_attrs=read-write
  Formation:   ./scripts/cluster.sh status;  logs in $logs
  Stop:        ./scripts/cluster.sh stop (the data stays in $dir)

BANNER
