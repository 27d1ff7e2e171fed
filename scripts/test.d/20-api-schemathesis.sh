#!/usr/bin/env bash
# Property-based fuzzing of the task API from its own served OpenAPI document: no server
# errors, and every response (status, headers, content type, body) conforms to the document.
# Runs on SQLite and on PostgreSQL.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
source "$(dirname "$0")/../lib/api.sh"
cd "$WATCHPOST_ROOT"

binary="${CARGO_TARGET_DIR:-$WATCHPOST_ROOT/target}/debug/task-api"
make_scratch st
on_exit stop_api
secret="schemathesis-secret-of-at-least-32-bytes"
token=$(hs256_token "$secret" schemathesis)

run_schemathesis() {
  local label=$1 database_url=$2
  log "schemathesis against task-api on $label"
  start_api "$binary" "$database_url" "$scratch/api-$label.log" AUTH_JWT_SECRET="$secret" RUST_LOG=warn
  "$SCHEMATHESIS" run "$API_URL/api/v1/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --header "Authorization: Bearer $token" \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-60}" \
    --seed 20261123 \
    --report-dir "$scratch/report-$label"
  stop_api
  if grep -q '"level":"ERROR"' "$scratch/api-$label.log"; then
    echo "task-api logged errors during the $label run:" >&2
    grep '"level":"ERROR"' "$scratch/api-$label.log" >&2
    exit 1
  fi
}

run_schemathesis sqlite "sqlite://$scratch/tasks.db"
run_schemathesis postgres "$(create_database "$WATCHPOST_TEST_POSTGRES_URL" "schemathesis_$$")"
