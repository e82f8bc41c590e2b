#!/usr/bin/env bash
# Measures what the orchestrator's proxy costs: starts the AppHost with AppHost:Proxied=false and =true in turn
# (alternating which arm goes first, so both see the same background load), and in each run measures
#   - the round trip of a Redis PING and a PostgreSQL `SELECT 1` (round-trips.mjs: SAMPLES each after a warm-up),
#     through the address the services get (ConnectionStrings__redis/__postgres: the proxy when proxied);
#   - SUBMITS submissions of hello_transform at CONCURRENCY over HTTP (bench/node/submit.mjs, after a warm-up).
# Usage: bench/proxy/proxy.sh [rounds]   (default 3 rounds, each one run of both arms)
# Prints one line per measurement, prefixed with the round and the arm; needs node, no AppHost running on its ports.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
SAMPLES=${SAMPLES:-2000}
SUBMITS=${SUBMITS:-2000}
CONCURRENCY=${CONCURRENCY:-32}
here=bench/proxy
log=$(mktemp /tmp/apphost-proxy.XXXXXX.log)
source tools/apphost.sh
group=""
trap '[ -n "${apphost_group:-}" ] && kill -INT -- "-$apphost_group" 2> /dev/null; true' EXIT

dotnet build LlmWorkflow.AppHost -v quiet > /dev/null

descendants() { local pid; for pid in "$@"; do echo "$pid"; descendants $(pgrep -P "$pid"); done; }

# The connection strings the orchestrator gave the api: the addresses every service uses. The api is the process
# (among the orchestrator's, which detaches from our group) whose environment names it; looked for a few times, as a
# loaded machine may still be starting the orchestrator's helpers when the ready line prints.
api_environment() {
  local orchestrator pid attempt
  for attempt in $(seq 1 30); do
    orchestrator=$(for pid in $(pgrep -g "$group"); do pgrep -f -- "start-apiserver --monitor $pid( |$)"; done || true)
    for pid in $(descendants $orchestrator); do
      if tr '\0' '\n' < "/proc/$pid/environ" 2> /dev/null | grep -q '^OTEL_SERVICE_NAME=api$'; then
        tr '\0' '\n' < "/proc/$pid/environ"
        return
      fi
    done
    sleep 1
  done
  echo "no api process found" >&2
  return 1
}

run_arm() { # $1 round, $2 proxied (true|false)
  apphost_start "$log" "dotnet run --project LlmWorkflow.AppHost --no-build -- --AppHost:Proxied $2" || { cat "$log"; exit 1; }
  group=$apphost_group
  local environment redis postgres
  environment=$(api_environment)
  redis=$(sed -n 's/^ConnectionStrings__redis=\([^,]*\).*/\1/p' <<< "$environment")
  postgres=$(sed -n 's/^ConnectionStrings__postgres=.*Host=\([^;]*\);Port=\([0-9]*\).*/\1:\2/p' <<< "$environment")
  node "$here/round-trips.mjs" "$redis" "$postgres" "$SAMPLES" | sed "s/^/round $1 proxied=$2 /"
  node bench/node/submit.mjs http://localhost:5080 dev-api-key hello_transform 200 "$CONCURRENCY" > /dev/null
  node bench/node/submit.mjs http://localhost:5080 dev-api-key hello_transform "$SUBMITS" "$CONCURRENCY" | sed "s/^/round $1 proxied=$2 /"
  apphost_stop || true
  group=""
}

for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then arms="false true"; else arms="true false"; fi
  for proxied in $arms; do
    run_arm "$round" "$proxied"
  done
done
rm -f "$log"
