#!/usr/bin/env bash
# Jobs that wait (issue "Jobs that wait": run_at lateness p99 <= 50 ms, sleep wake-up lateness p99 <= 100 ms, signal
# 202 -> step resumed p99 <= 25 ms; parked jobs hold no worker slot, leave every process's idle CPU within 10 % of an
# idle service, and their PostgreSQL and Redis bytes are stated). For each of ROUNDS rounds, a fresh published system
# on loopback (bench/lib/system.sh: PostgreSQL defaults, Redis, the API in Production, one Worker, shipped settings,
# the bench workflows), then the Node clients:
#   run_at  bench/node/timers.mjs: JOBS bench_transform jobs whose run_at are spread over SPREAD s; started_at - run_at.
#   sleep   bench/node/waits.mjs sleep: JOBS bench_sleep jobs whose wake-ups are spread over SPREAD s; the started_at
#           of the step after the sleep - its until.
#   signal  bench/node/waits.mjs signal: JOBS bench_wait jobs parked on 'go', then one signal each (4 clients, as fast
#           as they can: a burst); the started_at of the step after the wait - when the client had the 202.
#   signal_paced  the same with the signals paced evenly over SPREAD s (one signal's own path).
# and, in PARK_ROUNDS more fresh systems, "park": the CPU of each process (API, worker, PostgreSQL, Redis) over
# IDLE_WINDOW s of an idle service, then PARKED jobs parked (half sleeping a day, half waiting for a signal), a
# bench_transform probe job run meanwhile (the worker has 64 slots: it runs only if parked jobs hold none), the same
# CPU window again, and the growth of pg_database_size and Redis used_memory per parked job.
# Medians over the rounds with their ranges come last.
# Usage:   bench/timers.sh [published-dir]      (default artifacts/bench/publish, as bench/run.sh and sizing.sh)
#   for p in LlmWorkflow.Api LlmWorkflow.Worker; do dotnet publish $p -c Release -o artifacts/bench/publish/$p; done
# Environment: ROUNDS (3), JOBS (300), SPREAD (20 s), SCENARIOS ("run_at sleep signal signal_paced"), PARK_ROUNDS (3),
#   PARKED (20000), IDLE_WINDOW (30 s), PG_BIN. Needs what bench/sizing.sh needs.
set -euo pipefail
cd "$(dirname "$0")/.."
published=${1:-artifacts/bench/publish}
rounds=${ROUNDS:-3}
jobs=${JOBS:-300}
spread=${SPREAD:-20}
parked=${PARKED:-20000}
idle_window=${IDLE_WINDOW:-30}
pg_bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
api_key=timers-key
admin_key=timers-admin-key
db_name=timers
# shellcheck source=bench/lib/system.sh
source "$(dirname "$0")/lib/system.sh"
workflows_root=$PWD/bench/workflows # bench_transform, bench_sleep, bench_wait

# CPU time (user + system, with the reaped children's: PostgreSQL's exited backends) of one process, in clock ticks.
ticks_of() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2> /dev/null || echo 0; }
postgres_ticks() {
  local postmaster total pid
  postmaster=$(head -n 1 "$tmp/pg/postmaster.pid")
  total=$(ticks_of "$postmaster")
  for pid in $(pgrep -P "$postmaster"); do total=$(( total + $(ticks_of "$pid") )); done
  echo "$total"
}
cpu_sample() { echo "$(ticks_of "${pids[0]}") $(ticks_of "${pids[1]}") $(postgres_ticks) $(ticks_of "$(cat "$tmp/redis.pid")")"; }
# The CPU each process spent over IDLE_WINDOW s, in ms per second: {api, worker, postgres, redis}.
cpu_window() {
  local before after hz
  hz=$(getconf CLK_TCK)
  before=$(cpu_sample); sleep "$idle_window"; after=$(cpu_sample)
  jq -n -c --arg b "$before" --arg a "$after" --argjson hz "$hz" --argjson s "$idle_window" '
    [$b, $a] | map(split(" ") | map(tonumber)) as [$x, $y]
    | [range(4)] | map(($y[.] - $x[.]) * 1000 / $hz / $s * 100 | round / 100)
    | {api: .[0], worker: .[1], postgres: .[2], redis: .[3]}'
}
waiting_jobs() { psql_ "SELECT count(*) FROM llm_workflow_jobs WHERE status = 'waiting'"; }
all_parked() { [ "$(waiting_jobs)" -ge "$parked" ]; }

# A bench_transform job submitted while the jobs are parked: ms from its submission to its completion.
probe_ms() {
  local began id
  began=$(now)
  id=$(curl -fsS -H "X-API-Key: $api_key" -H 'Content-Type: application/json' \
    -d '{"workflow_name":"bench_transform","input_data":{"name":"probe"}}' "http://127.0.0.1:$api_port/api/v1/workflow" | jq -r .job_id)
  wait_for 30 "the probe job" probe_completed "$id"
  echo "$(now) $began" | awk '{printf "%.0f", ($1 - $2) * 1000}'
}
probe_completed() { [ "$(curl -fsS -H "X-API-Key: $api_key" "http://127.0.0.1:$api_port/api/v1/status/$1" | jq -r .status)" = completed ]; }

park_round() {
  start_system
  local idle busy pg0 pg1 redis0 redis1 submit probe
  idle=$(cpu_window)
  pg0=$(psql_ "SELECT pg_database_size(current_database())"); redis0=$(used_memory)
  submit=$(node bench/node/waits.mjs "http://127.0.0.1:$api_port" "$api_key" park "$parked" 32)
  wait_for 900 "$parked parked jobs" all_parked
  probe=$(probe_ms)
  sleep 5 # the last parks' live events and notices settle
  busy=$(cpu_window)
  pg1=$(psql_ "SELECT pg_database_size(current_database())"); redis1=$(used_memory)
  jq -n -c --argjson idle "$idle" --argjson parked_cpu "$busy" --argjson submit "$submit" --argjson probe "$probe" \
    --argjson n "$parked" --argjson pg "$(( pg1 - pg0 ))" --argjson redis "$(( redis1 - redis0 ))" --argjson waiting "$(waiting_jobs)" \
    '{scenario: "park", parked: $n, waiting: $waiting, submit_s: $submit.submit_s, probe_job_ms: $probe,
      idle_cpu_ms_per_s: $idle, parked_cpu_ms_per_s: $parked_cpu,
      postgres_bytes_per_job: ($pg / $n | round), redis_bytes_per_job: ($redis / $n | round)}'
  cleanup
}

scenarios=${SCENARIOS:-run_at sleep signal signal_paced}
results=()
for round in $(seq "$rounds"); do
  [ -n "$scenarios" ] || break
  start_system
  # One warm-up of each path before the measured windows.
  node bench/node/timers.mjs "http://127.0.0.1:$api_port" "$api_key" 5 1 2 1 > /dev/null
  node bench/node/waits.mjs "http://127.0.0.1:$api_port" "$api_key" sleep 5 1 2 1 > /dev/null
  node bench/node/waits.mjs "http://127.0.0.1:$api_port" "$api_key" signal 5 1 > /dev/null
  for scenario in $scenarios; do
    case $scenario in
      run_at) line=$(node bench/node/timers.mjs "http://127.0.0.1:$api_port" "$api_key" "$jobs" "$spread" 5 16) ;;
      sleep) line=$(node bench/node/waits.mjs "http://127.0.0.1:$api_port" "$api_key" sleep "$jobs" "$spread" 5 16) ;;
      signal) line=$(node bench/node/waits.mjs "http://127.0.0.1:$api_port" "$api_key" signal "$jobs" 4) ;;
      signal_paced) line=$(node bench/node/waits.mjs "http://127.0.0.1:$api_port" "$api_key" signal "$jobs" 4 "$spread") ;;
      *) echo "unknown scenario $scenario" >&2; exit 2 ;;
    esac
    echo "round $round: $line"
    results+=("$line")
  done
  cleanup
done
for round in $(seq "${PARK_ROUNDS:-3}"); do
  line=$(park_round)
  echo "park round $round: $line"
  results+=("$line")
done
printf '%s\n' "${results[@]}" | jq -s -c '
  def med: sort | .[(length - 1) / 2 | floor];
  def spread(f): map(f) | {median: med, min: min, max: max};
  group_by(.scenario)[] as $g | $g[0].scenario as $s | {scenario: $s, rounds: ($g | length)} +
  if $s == "park" then
    {parked: $g[0].parked, probe_job_ms: ($g | spread(.probe_job_ms)),
     postgres_bytes_per_job: ($g | spread(.postgres_bytes_per_job)), redis_bytes_per_job: ($g | spread(.redis_bytes_per_job)),
     cpu_ms_per_s: (["api", "worker", "postgres", "redis"] | map(. as $p |
       {($p): {idle: ($g | spread(.idle_cpu_ms_per_s[$p])), parked: ($g | spread(.parked_cpu_ms_per_s[$p]))}}) | add)}
  else
    ($g | map(.lateness_ms // .resume_after_202_ms)) as $l
    | {p50_ms: ($l | spread(.p50)), p99_ms: ($l | spread(.p99)), max_ms: ($l | spread(.max))}
  end'
