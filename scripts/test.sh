#!/usr/bin/env bash
# Runs every test. Uses ConnectionStrings__Orders when set (each test run creates and drops its own
# database there); otherwise starts a throwaway PostgreSQL from this machine's binaries, or in Docker.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh

cleanup() { :; }
trap 'cleanup' EXIT

if [ -z "${ConnectionStrings__Orders:-}" ]; then
  db_port=$(free_port)
  if pg_bindir >/dev/null; then
    data=$(mktemp -d /tmp/ordercancel-test-pg.XXXXXX)
    echo "Starting a throwaway PostgreSQL in $data on port $db_port..."
    # Durability is pointless for a throwaway cluster; these settings only make it faster.
    pg_start "$data" "$db_port" fsync=off synchronous_commit=off full_page_writes=off max_connections=300
    cleanup() { pg_stop "$data"; rm -rf "$data"; }
    export ConnectionStrings__Orders="Host=127.0.0.1;Port=$db_port;Database=postgres;Username=postgres"
  elif has_docker_engine; then
    echo "Starting a throwaway PostgreSQL in Docker on port $db_port..."
    container=$(docker run -d --rm -e POSTGRES_PASSWORD=test -p "127.0.0.1:$db_port:5432" postgres:15 -c fsync=off -c max_connections=300)
    cleanup() { docker stop "$container" >/dev/null 2>&1 || true; }
    until docker exec "$container" pg_isready -U postgres >/dev/null 2>&1; do sleep 1; done
    export ConnectionStrings__Orders="Host=127.0.0.1;Port=$db_port;Database=postgres;Username=postgres;Password=test"
  else
    echo "Need PostgreSQL binaries (initdb, pg_ctl) or a Docker engine, or set ConnectionStrings__Orders." >&2
    exit 1
  fi
fi

# What the OpenAPI tests need besides .NET: Kiota (local tool manifest, run at build time), Spectral, Redocly and
# openapi-typescript (tools/openapi, from its lock file), and a browser for Swagger UI (Debian's chromium, never one
# a test tool downloads).
dotnet tool restore >/dev/null
if ! command -v npm >/dev/null 2>&1; then
  echo "Need Node.js and npm for the OpenAPI linters (tools/openapi)." >&2
  exit 1
fi
npm ci --prefix tools/openapi --no-audit --no-fund --loglevel=error >/dev/null
if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Chromium (Debian package) for the Swagger UI browser test..." >&2
  if [ "$(id -u)" = "0" ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq chromium >/dev/null
fi

dotnet test OrderCancel.sln -c Release "$@"
