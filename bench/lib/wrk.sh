# shellcheck shell=bash
# Shared by bench/run.sh and bench/cluster.sh: wrk, the load generator of bench/wrk/*.lua.

# install_wrk: installs Debian's wrk when it is missing.
install_wrk() {
  command -v wrk >/dev/null 2>&1 && return 0
  echo "Installing wrk (Debian package) for the load..." >&2
  # A fresh machine's package lists may be empty or stale: update them first.
  local sudo=sudo
  if [ "$(id -u)" = "0" ]; then sudo=""; fi
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq wrk >/dev/null
}
