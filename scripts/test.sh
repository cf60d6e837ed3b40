#!/usr/bin/env bash
# Runs every test; extra arguments go to `dotnet test` (./scripts/test.sh --filter "FullyQualifiedName~WebhookTests").
# It says what it does before each step, then prints a line for each test as it finishes:
#   1. PostgreSQL: ConnectionStrings__Orders when set (each test run creates and drops its own databases there),
#      otherwise a throwaway cluster from this machine's binaries, or one in Docker.
#   2. The .NET local tools (Kiota and NSwag generate typed clients at build time), from .config/dotnet-tools.json.
#   3. npm ci in tools/openapi (Spectral, Redocly, openapi-typescript) and clients/typescript (the TypeScript client's
#      openapi-fetch, typescript), from their lock files.
#   4. The servers and browser the tests drive, Debian's packages, installed with apt-get when missing, which needs root
#      or sudo: chromium for the Swagger UI browser test (never a browser a test tool downloads; CHROMIUM_PATH names
#      another instead), haproxy for the tests of instances behind a load balancer, pgbouncer for PgBouncerTests
#      (PGBOUNCER names another binary instead), redis-server for SharedRateLimitTests, which start a throwaway one on a
#      free port of their own (REDIS_SERVER names another binary instead; the script tells the tests which to run), and
#      postgresql-<version>-auto-failover (pg_auto_failover, for the machine's PostgreSQL) for FailoverTests, which start
#      a formation of their own with ./scripts/cluster.sh db on free ports.
#   5. Build, then the tests: one line each, each test assembly's summary ("Passed!  - Failed: 0, ...") and a total.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh

started_at=$SECONDS
step() { echo "==> $* [$((SECONDS - started_at)) s]"; }

cleanup() { :; }
trap 'cleanup' EXIT

# Said first, so whoever cannot or will not install a system package knows before anything else runs.
# has PROGRAM: whether it is on PATH or in /usr/sbin (where Debian puts the servers, often off a user's PATH).
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
packages=()
if [ -z "${CHROMIUM_PATH:-}" ] && ! has chromium; then packages+=(chromium); fi
has haproxy || packages+=(haproxy)
if [ -z "${PGBOUNCER:-}" ] && [ ! -x /usr/sbin/pgbouncer ]; then packages+=(pgbouncer); fi
if [ -z "${REDIS_SERVER:-}" ] && ! has redis-server && [ ! -x /usr/bin/redis-server ]; then packages+=(redis-server); fi
# pg_auto_failover is built for one PostgreSQL version: the machine's (15 where there is none yet; the package brings it).
pg_version=$(basename "$(dirname "$(pg_bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)")")
case "$pg_version" in '' | *[!0-9]*) pg_version=15 ;; esac
if ! has pg_autoctl || [ ! -f "/usr/share/postgresql/$pg_version/extension/pgautofailover.control" ]; then
  packages+=("postgresql-$pg_version-auto-failover")
fi
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then sudo="" as="you are root"; else sudo="sudo" as="it runs sudo apt-get, which may ask for your password"; fi
  echo "Not installed: ${packages[*]}. Step 4 installs Debian's packages with apt-get, which needs root ($as)."
  echo "Why: the tests drive the real programs: a browser for Swagger UI (only a system package, never a browser a test"
  echo "tool downloads; CHROMIUM_PATH=/path/to/chromium uses another), HAProxy in front of several instances, PgBouncer"
  echo "in front of the database (PGBOUNCER=/path/to/pgbouncer uses another), a throwaway Redis that several instances"
  echo "share a rate limit through (REDIS_SERVER=/path/to/redis-server uses another), and pg_auto_failover, for a"
  echo "PostgreSQL primary and standby that fail over under the service."
  if [ -n "$sudo" ] && ! command -v sudo >/dev/null 2>&1; then
    echo "Installing them needs root or sudo, and there is no sudo here: run as root, or install: ${packages[*]}." >&2
    exit 1
  fi
fi

if [ -z "${ConnectionStrings__Orders:-}" ]; then
  db_port=$(free_port)
  if pg_bindir >/dev/null; then
    data=$(mktemp -d /tmp/ordercancel-test-pg.XXXXXX)
    step "1/5 PostgreSQL: starting a throwaway cluster in $data on port $db_port (removed at the end)"
    # Durability is pointless for a throwaway cluster; these settings only make it faster.
    pg_start "$data" "$db_port" fsync=off synchronous_commit=off full_page_writes=off max_connections=300
    cleanup() { pg_stop "$data"; rm -rf "$data"; }
    export ConnectionStrings__Orders="Host=127.0.0.1;Port=$db_port;Database=postgres;Username=postgres"
    # SchemaTests dumps the schema with the server's own pg_dump (the test adds the database's name).
    export PG_DUMP="${PG_DUMP:-$(pg_bindir)/pg_dump -h 127.0.0.1 -p $db_port -U postgres}"
  elif has_docker_engine; then
    step "1/5 PostgreSQL: starting a throwaway one in Docker (postgres:15) on port $db_port (removed at the end)"
    container=$(docker run -d --rm -e POSTGRES_PASSWORD=test -p "127.0.0.1:$db_port:5432" postgres:15 -c fsync=off -c max_connections=300)
    cleanup() { docker stop "$container" >/dev/null 2>&1 || true; }
    until docker exec "$container" pg_isready -U postgres >/dev/null 2>&1; do sleep 1; done
    export ConnectionStrings__Orders="Host=127.0.0.1;Port=$db_port;Database=postgres;Username=postgres;Password=test"
    export PG_DUMP="${PG_DUMP:-docker exec $container pg_dump -U postgres}"
  else
    echo "Need PostgreSQL binaries (initdb, pg_ctl) or a Docker engine, or set ConnectionStrings__Orders." >&2
    exit 1
  fi
else
  step "1/5 PostgreSQL: the server of ConnectionStrings__Orders (each test class creates and drops a database of its own there)"
fi

step "2/5 .NET local tools: dotnet tool restore (Kiota, NSwag, dotnet-ef)"
dotnet tool restore >/dev/null

if ! command -v npm >/dev/null 2>&1; then
  echo "Need Node.js and npm for the OpenAPI linters (tools/openapi)." >&2
  exit 1
fi
step "3/5 npm ci in tools/openapi (Spectral, Redocly, openapi-typescript) and clients/typescript, from their lock files"
npm ci --prefix tools/openapi --no-audit --no-fund --loglevel=error >/dev/null
npm ci --prefix clients/typescript --no-audit --no-fund --loglevel=error >/dev/null

if [ ${#packages[@]} -gt 0 ]; then
  step "4/5 System packages: installing ${packages[*]} ($as): apt-get update, then apt-get install"
  $sudo apt-get update -qq >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
else
  step "4/5 System packages: chromium (${CHROMIUM_PATH:-$(command -v chromium)}), haproxy, pgbouncer (${PGBOUNCER:-/usr/sbin/pgbouncer}), redis-server, postgresql-$pg_version-auto-failover: installed"
fi
# SharedRateLimitTests run this redis-server (without the script they look on PATH, then at /usr/bin/redis-server).
export REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}"

# A line per finished test comes from the console logger's normal verbosity; test-progress.awk drops what else it
# prints. Whoever passes a --logger of their own gets dotnet test's output as it is.
own_logger=false
for argument in "$@"; do
  case "$argument" in --logger | --logger:* | --logger=* | -l) own_logger=true ;; esac
done
step "5/5 Building (Release), then the tests: one line as each finishes"
if $own_logger; then
  dotnet test OrderCancel.sln -c Release "$@"
else
  # stderr too: a failed run's summary and xUnit's failures outside any test are written there.
  dotnet test OrderCancel.sln -c Release --logger "console;verbosity=normal" "$@" 2>&1 | awk -f scripts/lib/test-progress.awk
fi
