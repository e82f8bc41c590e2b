#!/usr/bin/env bash
# One command per figure on bench/README.md: publishes the API and the Worker as their images ship (Release,
# self-contained composite ReadyToRun), then runs a load-tool scenario ROUNDS times, interleaved with the same scenario
# driven by the independent Node client and with the yardsticks, each round in turn; every result is one JSON line
# in $OUT, and the medians with their ranges (and for e2e the ratio of ours to each yardstick) are printed at the end.
#   bench/run.sh e2e 5000 1 32      # S2     bench/run.sh burst 2000 32     # S1     bench/run.sh io 500 1000     # S3
#   bench/run.sh events 200 1       # live events over SSE (its client is always the Node one)
#   bench/run.sh agent 50 21 1      # the agent step's CPU per turn and latency per tool call (fake OpenAI-compatible agent)
# Environment: ROUNDS (3), CLIENTS ("dotnet node"; node applies to e2e and burst), YARDSTICK (1 for e2e and burst: BullMQ
# for e2e, the same burst against bench/EmptyApi for burst), YARDSTICKS ("hangfire graphile" for e2e without an LLM
# latency: the durable yardsticks, each run by bench/yardsticks/run.sh after BullMQ, "" for none), OUT, WARMUP (50: the
# jobs each client and each durable yardstick submits and drains before e2e's window), WARMUP_REQUESTS (100: the
# submissions each client sends before burst's window; the first wave of them is the cold row);
# BEFORE=<dir> also runs, in each round, the API and Worker published in <dir>/LlmWorkflow.Api and <dir>/LlmWorkflow.Worker
# (an earlier commit's `dotnet publish -c Release`), last in odd rounds and first in even ones, so a change is measured
# against its base in the same sitting.
set -euo pipefail
cd "$(dirname "$0")/.."
export LLMWF_BENCH_WARMUP=${WARMUP:-50} LLMWF_BENCH_WARMUP_REQUESTS=${WARMUP_REQUESTS:-100}
scenario=${1:?usage: bench/run.sh <scenario> [args...]}
rounds=${ROUNDS:-3}
clients=${CLIENTS:-dotnet node}
[ "$scenario" = e2e ] || [ "$scenario" = burst ] || clients=dotnet
yardstick=${YARDSTICK:-$([ "$scenario" = e2e ] || [ "$scenario" = burst ] && echo 1 || echo 0)}
yardsticks=${YARDSTICKS-$([ "$scenario" = e2e ] && [ -z "${5:-}" ] && echo hangfire graphile || true)}
out=${OUT:-artifacts/bench/$scenario-$(date -u +%Y%m%dT%H%M%S).jsonl}
published=artifacts/bench/publish
mkdir -p "$(dirname "$out")"

# SKIP_PUBLISH=1 reuses the last publish (of the same commit: nothing checks that).
if [ -z "${SKIP_PUBLISH:-}" ]; then
  for project in LlmWorkflow.Api LlmWorkflow.Worker; do
    dotnet publish "$project" -c Release -o "$published/$project" --nologo -v quiet > /dev/null
  done
  if [ "$scenario" = burst ] && [ "$yardstick" = 1 ]; then
    dotnet publish bench/EmptyApi -c Release -o "$published/EmptyApi" --nologo -v quiet > /dev/null
  fi
fi
if [[ " $yardsticks " == *" hangfire "* ]] && { [ -z "${SKIP_PUBLISH:-}" ] || [ ! -d "$published/HangfireApp" ]; }; then
  dotnet publish bench/yardsticks/HangfireApp -c Release -o "$published/HangfireApp" --nologo -v quiet > /dev/null
fi
dotnet build bench/LlmWorkflow.LoadTest -c Release --nologo -v quiet > /dev/null
if [[ " $clients " == *" node "* ]] || { [ "$scenario" = e2e ] && [ "$yardstick" = 1 ]; } || [ "$scenario" = events ] \
  || [ -n "$yardsticks" ]; then
  (cd bench/node && npm ci --no-audit --no-fund --silent)
fi

yardstick_round() {
  if [ "$scenario" = burst ]; then
    # The same burst, .NET client, against a fresh bench/EmptyApi: what any fresh .NET API of that shape costs here.
    LLMWF_BENCH_PUBLISHED=$published dotnet run -c Release --no-build --project bench/LlmWorkflow.LoadTest -- \
      burst-empty-api "${2:-2000}" "${3:-32}" | tail -n 1 | tee -a "$out"
    return
  fi
  local port dir
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  dir=$(mktemp -d)
  redis-server --port "$port" --dir "$dir" --save '' --appendonly no --daemonize yes --pidfile "$dir/pid" > /dev/null
  sleep 0.3
  node bench/node/bullmq.mjs "$port" "${2:-5000}" 100 | tee -a "$out"
  kill "$(cat "$dir/pid")"; rm -rf "$dir"
}

# The base build is driven by the same clients as the head, so each client's figures compare like with like; it loads
# only the definitions every earlier build can (the sleep and wait ones use step types it may lack).
before_workflows=$(mktemp -d)
mkdir -p "$before_workflows/definitions"
cp -r bench/workflows/prompts "$before_workflows/"
cp bench/workflows/definitions/bench_transform.json bench/workflows/definitions/bench_llm.json "$before_workflows/definitions/"
# The agent scenario's base must have the agent step (99fb973 and later).
[ "$scenario" = agent ] && cp bench/workflows/definitions/bench_agent.json "$before_workflows/definitions/"
before_round() {
  local client
  for client in $clients; do
    LLMWF_BENCH_PUBLISHED=$BEFORE LLMWF_BENCH_BUILD=before LLMWF_BENCH_CLIENT=$client LLMWF_BENCH_WORKFLOWS=$before_workflows \
      dotnet run -c Release --no-build --project bench/LlmWorkflow.LoadTest -- "$@" | tail -n 1 | tee -a "$out"
  done
}

configured_round() {
  local client settings
  settings=$(grep -v '^#' bench/configured.env | grep . | paste -sd ';')
  for client in $clients; do
    LLMWF_BENCH_PUBLISHED=$published LLMWF_BENCH_BUILD=configured LLMWF_BENCH_CLIENT=$client LLMWF_BENCH_SERVICE_ENV=$settings \
      dotnet run -c Release --no-build --project bench/LlmWorkflow.LoadTest -- "$@" | tail -n 1 | tee -a "$out"
  done
}

# With BEFORE, the base build goes last in odd rounds and first in even ones: a run's position in the round moves
# its figure by more than many changes do.
for round in $(seq "$rounds"); do
  [ -n "${BEFORE:-}" ] && [ $((round % 2)) = 0 ] && before_round "$@"
  [ -n "${CONFIGURED:-}" ] && [ $((round % 2)) = 0 ] && configured_round "$@"
  for client in $clients; do
    LLMWF_BENCH_PUBLISHED=$published LLMWF_BENCH_CLIENT=$client \
      dotnet run -c Release --no-build --project bench/LlmWorkflow.LoadTest -- "$@" | tail -n 1 | tee -a "$out"
  done
  [ -n "${CONFIGURED:-}" ] && [ $((round % 2)) = 1 ] && configured_round "$@"
  [ -n "${BEFORE:-}" ] && [ $((round % 2)) = 1 ] && before_round "$@"
  [ "$yardstick" = 1 ] && yardstick_round "$@"
  for name in $yardsticks; do
    # The same N and concurrency as ours, from the same Node client (bench/node/submit.mjs).
    PUBLISHED=$published bench/yardsticks/run.sh "$name" "${2:-5000}" "${4:-32}" | tee -a "$out"
  done
done

node bench/node/summary.mjs "$out"
