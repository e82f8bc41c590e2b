#!/usr/bin/env bash
# Makes docs/screenshots/aspire-genai-span.png: runs the AppHost, submits support_triage (its LLM steps call the mock
# provider), finds the job's trace through the Aspire dashboard's telemetry API, and screenshots that trace in the
# dashboard with the first `chat ` span (an LLM call, with its gen_ai.* attributes) clicked open. Then Ctrl+C.
# Usage: docs/screenshots/tools/aspire-genai-span.sh [out.png]   (needs node 20+, chromium, curl, jq; ports 5080/15080 free)
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=${1:-docs/screenshots/aspire-genai-span.png}
export AppHost__DashboardApiKey=screenshot-$RANDOM$RANDOM
log=$(mktemp /tmp/aspire-genai-span.XXXXXX.log)
trap '[ -n "${apphost_group:-}" ] && kill -INT -- "-$apphost_group" 2> /dev/null; wait; rm -f "$log"' EXIT

source tools/apphost.sh
apphost_start "$log" "dotnet run --project LlmWorkflow.AppHost" || { cat "$log"; exit 1; }
login_url=$(apphost_dashboard "$log")
dashboard=${login_url%%/login*}

# A ticket id of its own each time, so the mock is called rather than the response cache answering.
input=$(jq --arg id "T-$RANDOM$RANDOM" '.ticket_id = $id' workflows/examples/support_triage.json)
job_id=$(curl -s -X POST http://localhost:5080/api/v1/workflow -H 'Content-Type: application/json' -H 'X-API-Key: dev-api-key' \
  -d "{\"workflow_name\": \"support_triage\", \"input_data\": $input}" | jq -r .job_id)
until [ "$(curl -s -H 'X-API-Key: dev-api-key' "http://localhost:5080/api/v1/status/$job_id" | jq -r .status)" = completed ]; do sleep 1; done
# The trace whose spans carry the job id, once its chat span has reached the dashboard.
until trace_id=$(curl -s -H "x-api-key: $AppHost__DashboardApiKey" "$dashboard/api/telemetry/spans" \
    | jq -er --arg job "$job_id" '[.. | objects | select(has("traceId") and any(.attributes[]?; .value.stringValue? == $job)) | .traceId][0]') \
  && curl -s -H "x-api-key: $AppHost__DashboardApiKey" "$dashboard/api/telemetry/traces/$trace_id" | grep -q '"name":"chat '; do
  sleep 2
done
echo "job $job_id, trace $dashboard/traces/detail/$trace_id"
node --experimental-websocket docs/screenshots/tools/aspire-span.mjs "$login_url" "$trace_id" "chat " "$out" 1280
apphost_stop || true
