#!/usr/bin/env bash
# Schedules on several processes (issue "Jobs that wait": two API processes and three workers running a schedule
# every 10 s for 5 minutes: exactly one job per tick). A fresh published system (bench/lib/system.sh: PostgreSQL
# defaults, Redis, shipped settings, Production) plus a second API and two more workers; one schedule of
# bench_transform with a 6-field cron every PERIOD s (overlap "allow", so no tick is skipped for overlap), created
# through the first API, paused through the second after DURATION s. Then, from llm_schedule_ticks and the jobs
# carrying its schedule_id: the ticks the window holds against the ticks recorded, gaps and overlaps between
# consecutive rows, skipped ticks with their reasons, jobs per started tick, and the start lateness of those jobs
# (started_at - tick_at: the ticker's decision, the dispatch and the claim). Prints one JSON line.
# Usage:   bench/schedules.sh [published-dir]      (default artifacts/bench/publish, as bench/timers.sh)
# Environment: DURATION (300 s), PERIOD (10 s), PG_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
published=${1:-artifacts/bench/publish}
duration=${DURATION:-300}
period=${PERIOD:-10}
pg_bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
api_key=schedules-key
admin_key=schedules-admin-key
db_name=schedules
# shellcheck source=bench/lib/system.sh
source "$(dirname "$0")/lib/system.sh"
workflows_root=$PWD/bench/workflows

start_system
api2_port=$(free_port)
start_service "$api_dir" LlmWorkflow.Api "$tmp/api2.log" "ASPNETCORE_URLS=http://127.0.0.1:$api2_port"
wait_for 120 "the second API" curl -fsS "http://127.0.0.1:$api2_port/health"
for n in 2 3; do
  start_service "$worker_dir" LlmWorkflow.Worker "$tmp/worker$n.log" "Worker__Id=bench-worker-$n"
  wait_for 60 "worker $n" grep -q "Worker started" "$tmp/worker$n.log"
done

call() { # call <api-port> <method> <path> [body]
  curl -fsS -X "$2" -H "X-API-Key: $api_key" -H 'Content-Type: application/json' ${4:+-d "$4"} "http://127.0.0.1:$1$3"
}
schedule_id=$(call "$api_port" POST /api/v1/schedules \
  "{\"name\":\"bench every ${period} s\",\"workflow_name\":\"bench_transform\",\"cron\":\"*/$period * * * * *\",\"overlap\":\"allow\",\"input_data\":{\"name\":\"tick\"}}" \
  | jq -r .schedule_id)
created_at=$(now)
sleep "$duration"
call "$api2_port" PATCH "/api/v1/schedules/$schedule_id" '{"paused":true}' > /dev/null
paused_at=$(now)
all_done() { [ "$(psql_ "SELECT count(*) FROM llm_workflow_jobs WHERE schedule_id = '$schedule_id' AND status NOT IN ('completed', 'failed', 'cancelled')")" = 0 ]; }
wait_for 60 "the schedule's jobs" all_done

psql_ "
WITH ticks AS (
  SELECT tick_at, outcome, reason, job_id, tick_count,
         lead(tick_at) OVER (ORDER BY tick_at) AS next_at
  FROM llm_schedule_ticks WHERE schedule_id = '$schedule_id'),
jobs AS (SELECT id, status, started_at FROM llm_workflow_jobs WHERE schedule_id = '$schedule_id'),
started AS (SELECT t.tick_at, j.started_at FROM ticks t JOIN jobs j ON j.id = t.job_id WHERE t.outcome = 'started')
SELECT json_build_object(
  'scenario', 'schedule', 'period_s', $period, 'duration_s', $duration,
  'api_processes', 2, 'workers', 3,
  'first_tick', min(tick_at), 'last_tick', max(tick_at),
  'ticks_in_window', (extract(epoch FROM max(tick_at) - min(tick_at)) / $period)::int + 1,
  'ticks_recorded', sum(tick_count),
  'rows', count(*),
  'gaps_or_overlaps', count(*) FILTER (WHERE next_at IS NOT NULL AND next_at <> tick_at + make_interval(secs => $period * tick_count)),
  'started', count(*) FILTER (WHERE outcome = 'started'),
  'skipped', coalesce(json_agg(json_build_object('tick_at', tick_at, 'reason', reason, 'ticks', tick_count)) FILTER (WHERE outcome <> 'started'), '[]'),
  'jobs', (SELECT count(*) FROM jobs),
  'jobs_completed', (SELECT count(*) FROM jobs WHERE status = 'completed'),
  'started_ticks_without_their_job', count(*) FILTER (WHERE outcome = 'started' AND job_id NOT IN (SELECT id FROM jobs)),
  'jobs_without_a_tick', (SELECT count(*) FROM jobs WHERE id NOT IN (SELECT job_id FROM ticks WHERE job_id IS NOT NULL)),
  'start_lateness_ms', (SELECT json_build_object(
      'p50', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - tick_at) * 1000)::numeric, 1),
      'p99', round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - tick_at) * 1000)::numeric, 1),
      'max', round(max(extract(epoch FROM started_at - tick_at) * 1000)::numeric, 1)) FROM started))
FROM ticks" | jq -c --argjson window "$(echo "$paused_at $created_at" | awk '{printf "%.1f", $1 - $2}')" '. + {created_to_paused_s: $window}'
