# shellcheck shell=bash
# Start and stop a task-api binary for scripts (schemathesis, benchmarks, Prometheus).
# Needs tools.sh sourced first.

# hs256_token SECRET SUB: a JWT for SUB valid for a day, made with the standard library only.
hs256_token() {
  python3 - "$1" "$2" <<'PY'
import base64, hashlib, hmac, json, sys, time
secret, sub = sys.argv[1].encode(), sys.argv[2]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": sub, "exp": int(time.time()) + 86400}).encode())
sig = b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
}

# start_api BINARY DATABASE_URL LOGFILE [VAR=VALUE...]: starts the API on free loopback
# ports and waits for /readyz. Sets API_PID, API_URL, API_ADMIN_URL.
start_api() {
  local binary=$1 database_url=$2 logfile=$3
  shift 3
  local port admin_port
  port=$(free_port)
  admin_port=$(free_port)
  env LISTEN_ADDR="127.0.0.1:$port" ADMIN_LISTEN_ADDR="127.0.0.1:$admin_port" \
    DATABASE_URL="$database_url" SHUTDOWN_DRAIN_DELAY=0s "$@" "$binary" >"$logfile" 2>&1 &
  API_PID=$!
  API_URL="http://127.0.0.1:$port"
  API_ADMIN_URL="http://127.0.0.1:$admin_port"
  for _ in $(seq 1 100); do
    if curl -fsS "$API_ADMIN_URL/readyz" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "task-api did not become ready; its log:" >&2
  cat "$logfile" >&2
  return 1
}

stop_api() {
  kill -TERM "$API_PID" 2>/dev/null || true
  wait "$API_PID" 2>/dev/null || true
}

# create_database ADMIN_URL NAME: a fresh database on the test cluster; prints its URL.
create_database() {
  local admin_url=$1 name=$2
  psql -q "$admin_url" -c "CREATE DATABASE $name" >/dev/null
  printf '%s/%s\n' "${admin_url%/*}" "$name"
}
