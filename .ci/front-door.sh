#!/usr/bin/env bash
# The front door, exactly as a newcomer meets it on a fresh clone, before anything else is built:
#   1. run the README's run command (`dotnet run --project LlmWorkflow.AppHost`) in the background, bounded;
#   2. wait for the lines printed once everything runs, and open the Aspire dashboard's login URL printed there;
#   3. submit hello_transform with the README's own curl command and poll the README's status command until completed;
#   4. ask the Aspire dashboard's telemetry API for the worker's spans: the job's span (tagged with its id) must be there;
#   5. press Ctrl+C (SIGINT to the whole process group, as a terminal does) and check that every process it started
#      (the orchestrator runs detached: found as the process watching the AppHost) is gone, that the run command
#      exited with code 0 and that the console showed no error-level line and no warning while stopping.
# Any failure prints the AppHost's log and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

START_TIMEOUT=${FRONT_DOOR_START_TIMEOUT:-900}   # first start restores and builds AppHost, Api and Worker
JOB_TIMEOUT=60
TRACE_TIMEOUT=60
# The key of the dashboard's telemetry API: set here so the script can read it, instead of one Aspire generates and
# keeps in the user secrets. It changes nothing else about the run.
export AppHost__DashboardApiKey=${AppHost__DashboardApiKey:-front-door-$RANDOM$RANDOM}
STOP_TIMEOUT=60
log=$(mktemp /tmp/front-door.XXXXXX.log)
group=""
pids=()

fail() {
  echo "front door: FAILED: $*" >&2
  echo "----- AppHost console -----" >&2
  cat "$log" >&2
  echo "---------------------------" >&2
  [ -n "$group" ] && kill -KILL -- "-$group" 2> /dev/null || true
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2> /dev/null || true; done
  exit 1
}

# The README's commands, read from the README itself so the two cannot drift apart.
readme_command() { # $1: the text the command starts with
  awk -v start="$1" '
    index($0, start) == 1 { on = 1 }
    on { print; if ($0 !~ /\\$/) exit }' README.md
}
run_command=$(grep -m1 -E '^dotnet run --project LlmWorkflow.AppHost$' README.md) || fail "README has no 'dotnet run --project LlmWorkflow.AppHost' line"
submit_command=$(readme_command "curl -s -X POST http://localhost:5080/api/v1/workflow")
status_command=$(readme_command "curl -s http://localhost:5080/api/v1/status/<job_id>")
[ -n "$submit_command" ] && [ -n "$status_command" ] || fail "README lost its curl examples"

echo "front door: $run_command"
source tools/apphost.sh
apphost_start "$log" "$run_command" "$START_TIMEOUT" || { group=$apphost_group; fail "not running"; }
group=$apphost_group
echo "front door: ready after ${SECONDS} s"
grep -m1 '^\[apphost\] postgres and redis run' "$log" || fail "no line saying where postgres and redis run"
sed -n '/^Aspire dashboard /,/running; press Ctrl+C/p' "$log"
# The orchestrator (DCP) detaches from our process group; it watches the AppHost's pid, and runs everything else.
descendants() { local pid; for pid in "$@"; do echo "$pid"; descendants $(pgrep -P "$pid"); done; }
# (Each pgrep that finds nothing exits 1; under set -e the loop's last one would end the script with no message.)
orchestrator=$(for pid in $(pgrep -g "$group"); do pgrep -f -- "start-apiserver --monitor $pid( |$)" || true; done)
[ -n "$orchestrator" ] || fail "found no orchestrator process watching the AppHost"
mapfile -t pids < <(descendants $orchestrator)
for server in postgres redis-server LlmWorkflow.Api LlmWorkflow.Worker; do
  ps -o args= -p "$(IFS=,; echo "${pids[*]}")" | grep -q "$server" || fail "no $server among the orchestrator's processes"
done

login_url=$(apphost_dashboard "$log")
[ -n "$login_url" ] || fail "no Aspire dashboard login URL printed"
code=$(curl -s -o /dev/null -w '%{http_code}' -L -c /dev/null "$login_url") || fail "the Aspire dashboard does not answer at $login_url"
[ "$code" = 200 ] || fail "the Aspire dashboard answered $code at $login_url"
dashboard=${login_url%%/login*}
echo "front door: the Aspire dashboard answers at $login_url"

echo "front door: $submit_command"
answer=$(eval "$submit_command") || fail "submitting hello_transform failed"
echo "$answer"
job_id=$(sed -n 's/.*"job_id":"\([^"]*\)".*/\1/p' <<< "$answer")
[ -n "$job_id" ] || fail "no job_id in the submit answer: $answer"

deadline=$((SECONDS + JOB_TIMEOUT))
while :; do
  status=$(eval "${status_command//<job_id>/$job_id}") || fail "polling the status failed"
  # The job's own status (its steps carry a "status" too: a completed step is not a completed job).
  job_status=$(jq -r '.status' <<< "$status") || fail "the status answer is not JSON: $status"
  [ "$job_status" = completed ] && break
  [[ "$job_status" =~ ^(failed|cancelled)$ ]] && fail "the job did not complete: $status"
  [ $SECONDS -lt $deadline ] || fail "the job did not complete within ${JOB_TIMEOUT} s: $status"
  sleep 1
done
grep -q '"greeting":"Hello, Ada!"' <<< "$status" || fail "unexpected result: $status"
echo "front door: job $job_id completed: Hello, Ada!"

# The worker's job span carries the job id; the dashboard's telemetry API lists what its OTLP endpoint received
# (unfiltered: the dashboard names each worker replica on its own).
deadline=$((SECONDS + TRACE_TIMEOUT))
# The span that carries the job id as an attribute (the worker's job.run); the api's status polls name the job in their
# url.path and may arrive first, so the lookup is repeated until that span is there.
job_trace() {
  curl -s -H "x-api-key: $AppHost__DashboardApiKey" "$dashboard/api/telemetry/spans" \
    | jq -r --arg job "$job_id" '[.. | objects | select(has("traceId") and any(.attributes[]?; .value.stringValue? == $job)) | .traceId][0] // empty'
}
until trace_id=$(job_trace) && [ -n "$trace_id" ]; do
  [ $SECONDS -lt $deadline ] || fail "the job's trace did not reach the Aspire dashboard within ${TRACE_TIMEOUT} s"
  sleep 2
done
# Each service's exporter sends its own batch, so the api's request span may arrive after the worker's spans.
until trace=$(curl -s -H "x-api-key: $AppHost__DashboardApiKey" "$dashboard/api/telemetry/traces/$trace_id") \
    && grep -q '"stringValue":"api"' <<< "$trace"; do
  [ $SECONDS -lt $deadline ] || fail "the job's trace $trace_id in the dashboard has no span of the api after ${TRACE_TIMEOUT} s: $trace"
  sleep 2
done
echo "front door: the job's trace $trace_id reached the Aspire dashboard (api and worker spans): $dashboard/traces/detail/$trace_id"

stop_line=$(wc -l < "$log")
kill -INT -- "-$group"
deadline=$((SECONDS + STOP_TIMEOUT))
any_alive() {
  pgrep -g "$group" > /dev/null && return 0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null && return 0; done
  return 1
}
# What a stuck stop looks like from outside: each survivor's state and signal masks (pending, blocked, ignored,
# caught), so a failure says whether the signal arrived at all.
survivors() {
  for pid in $(pgrep -g "$group") "${pids[@]}"; do
    [ -r "/proc/$pid/status" ] || continue
    echo "  $(ps -o pid=,stat=,etime=,args= -p "$pid" | cut -c1-160)"
    echo "    $(grep -E '^(SigPnd|ShdPnd|SigBlk|SigIgn|SigCgt):' "/proc/$pid/status" | tr -s '\t\n' ' ')"
  done
}
while any_alive; do
  [ $SECONDS -lt $deadline ] || fail "processes still running ${STOP_TIMEOUT} s after Ctrl+C:"$'\n'"$(survivors)"
  sleep 1
done
# The run command's own exit code (bash keeps a finished background job's status for `wait`): a clean stop is 0.
exit_code=0
wait "$group" || exit_code=$?
group=""
pids=()
[ "$exit_code" = 0 ] || fail "the run command exited with code $exit_code after Ctrl+C, not 0"

errors=$(grep -E '^(fail|crit): ' "$log" || true)
[ -z "$errors" ] || fail "error-level lines on a healthy run:"$'\n'"$errors"
noisy=$(tail -n "+$((stop_line + 1))" "$log" | grep -E '^warn: ' || true)
[ -z "$noisy" ] || fail "warnings while stopping:"$'\n'"$noisy"
# The stop as the README shows it (its sample output is what a fresh clone prints).
grep -E '^\[apphost\] (stopping|stopped)' "$log" || true
echo "front door: passed (started, Aspire dashboard answered, ran hello_transform, its trace reached the dashboard, stopped cleanly with exit code 0; no processes left)"
rm -f "$log"
