# shellcheck shell=bash
# Idempotent installers for the real components the tests run against.
# Sourced by scripts/test and the benchmark scripts; every function says what it does.

WATCHPOST_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS_DIR="$WATCHPOST_ROOT/.tools"

log() { printf '==> %s\n' "$*" >&2; }

_exit_commands=()
# make_scratch NAME: a private directory for this run, /tmp/watchpost-NAME.XXXXXX, in
# $scratch; removed when the script exits (error, signal or success), after the commands
# given to on_exit, which stop what runs in it.
make_scratch() {
  scratch=$(mktemp -d -t "watchpost-$1.XXXXXX")
  trap _on_exit EXIT
}

# on_exit COMMAND [ARG...]: runs COMMAND when the script exits, before its scratch
# directory is removed; commands run in the order given, and a failing one does not stop
# the others. Arguments are expanded now; a function named here sees the values of the
# moment it runs (a list of pids that grew, say).
on_exit() { _exit_commands+=("$(printf '%q ' "$@")"); }

# kill_pids: kills the processes in the script's array `pids` and waits for them (a
# command for on_exit).
kill_pids() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

_on_exit() {
  local command
  for command in "${_exit_commands[@]}"; do eval "$command" || true; done
  if [ -n "${scratch:-}" ]; then rm -rf "$scratch"; fi
}

_apt_updated=0
# apt_install BINARY PACKAGE: install PACKAGE from Debian unless BINARY is already on PATH.
apt_install() {
  local binary=$1 package=$2
  if command -v "$binary" >/dev/null 2>&1; then return 0; fi
  log "installing $package (for $binary) with apt-get"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ "$_apt_updated" -eq 0 ]; then
    $sudo apt-get update -qq
    _apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$package" >/dev/null
}

# venv_install NAME PACKAGE...: a virtualenv of its own under .tools/NAME (tools pin conflicting deps).
venv_install() {
  local name=$1
  shift
  local venv="$TOOLS_DIR/$name"
  local stamp="$venv/.installed-$(printf '%s ' "$@" | sha1sum | cut -c1-12)"
  if [ -f "$stamp" ]; then return 0; fi
  log "installing $* into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$@"
  touch "$stamp"
}

# free_port: a free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# ensure_postgres_binaries: initdb/pg_ctl on PATH (Debian keeps them out of PATH).
ensure_postgres_binaries() {
  if ! command -v initdb >/dev/null 2>&1; then
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    if [ -z "$dir" ]; then
      apt_install initdb postgresql
      dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    fi
    export PATH="$dir:$PATH"
  fi
}

# start_postgres DIR: a throwaway cluster in DIR on a free loopback port; prints its URL.
# PostgreSQL refuses to run as root, so as root it runs as the 'postgres' (or 'nobody') user,
# which must be able to reach DIR: its parent (a private mktemp dir) is opened for traversal.
start_postgres() {
  local dir=$1 port
  port=$(free_port)
  ensure_postgres_binaries
  local run=()
  if [ "$(id -u)" -eq 0 ]; then
    local user=postgres
    getent passwd postgres >/dev/null || user=nobody
    chmod o+x "$(dirname "$dir")"
    chown -R "$user" "$dir"
    run=(runuser -u "$user" --)
  fi
  "${run[@]}" initdb -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 || {
    echo "initdb failed:" >&2
    cat "$dir/initdb.log" >&2
    return 1
  }
  "${run[@]}" pg_ctl -D "$dir/data" -l "$dir/postgres.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400" start >/dev/null || {
    echo "PostgreSQL did not start:" >&2
    cat "$dir/postgres.log" >&2
    return 1
  }
  printf 'postgres://postgres@127.0.0.1:%s/postgres\n' "$port"
}

stop_postgres() {
  local dir=$1
  local run=()
  [ "$(id -u)" -eq 0 ] && run=(runuser -u "$(stat -c %U "$dir/data")" --)
  "${run[@]}" pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
}
