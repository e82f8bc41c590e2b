#!/usr/bin/env bash
# Storage sizing: how much PostgreSQL and Redis grow per job, for the deployment documents' sizing figures.
#
# For each workflow it starts a throw-away system on loopback — PostgreSQL from the local binaries (initdb into a temp
# directory, default settings, fsync on), redis-server (temp directory, --save '' --appendonly no), the published API
# (Production environment) and one Worker — submits N jobs over HTTP (16 at a time), waits until every job is
# finished, and then, after VACUUM ANALYZE, prints one JSON line with:
#   pg_bytes_per_job          pg_database_size() growth / N (heap, indexes, TOAST, free space left by the job's
#                             own updates; WAL is not in it)
#   pg_wal_bytes_per_job      WAL written per job (what replication and point-in-time backups carry)
#   pg_tables                 the tables that grew, largest first: bytes per job (pg_total_relation_size: heap, TOAST
#                             and indexes), of which indexes, and rows per job
#   redis_bytes_per_job       INFO memory used_memory growth / N while the jobs' live event streams still exist
#                             (llmwf:events:<job>, kept 1 hour after a job ends)
#   redis_bytes_per_job_after_events
#                             the same once the event streams are gone (the script deletes them, as their expiry would)
#   redis_dbsize, redis_keys  key count, and count/bytes (MEMORY USAGE) per key pattern (ids folded to *)
#   redis_events_ttl_s        one event stream's remaining time to live when measured
#   submit_per_s, jobs_per_s  submission rate, and jobs finished per second from the first submission to the last end
# Workflows: hello_transform (one transform step) and support_triage (offline `mock` LLM steps), or WORKFLOWS="...".
#
# Usage:   bench/sizing.sh [published-dir] [jobs]        (defaults: artifacts/bench/publish 5000)
# The published dir holds LlmWorkflow.Api/ and LlmWorkflow.Worker/ (as bench/run.sh leaves them) or api/ and worker/:
#   for p in LlmWorkflow.Api LlmWorkflow.Worker; do dotnet publish $p -c Release -o artifacts/bench/publish/$p; done
#   bench/sizing.sh artifacts/bench/publish 2000
# Environment: WORKFLOWS ("hello_transform support_triage"), PARALLEL (16 requests in flight), TIMEOUT (seconds to wait
# for the jobs, 900), KEEP_LOGS=<dir> (copy the services' logs there), PG_BIN (newest /usr/lib/postgresql/*/bin).
# Needs: PostgreSQL server binaries, redis-server + redis-cli, node (>= 18, for fetch), jq, python3. Run as root, the
# PostgreSQL server runs as the postgres account (runuser).
set -euo pipefail
cd "$(dirname "$0")/.."

published=${1:-artifacts/bench/publish}
jobs=${2:-5000}
workflows=${WORKFLOWS:-hello_transform support_triage}
parallel=${PARALLEL:-16}
timeout=${TIMEOUT:-900}
pg_bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
api_key=sizing-key
admin_key=sizing-admin-key

db_name=sizing
# shellcheck source=bench/lib/system.sh
source "$(dirname "$0")/lib/system.sh"

# The request bodies, one JSON line per job.
bodies() { # bodies <workflow> <n>
  case $1 in
    hello_transform)
      jq -n -c --argjson n "$2" 'range($n) as $i | {workflow_name: "hello_transform", input_data: {name: "sizing-\($i)"}, username: "sizing", action: "sizing"}' ;;
    *)
      [ -f "$workflows_root/examples/$1.json" ] || { echo "no example input for $1 in $workflows_root/examples" >&2; exit 2; }
      jq -n -c --argjson n "$2" --arg w "$1" --slurpfile ex "$workflows_root/examples/$1.json" \
        'range($n) as $i | {workflow_name: $w, input_data: $ex[0], username: "sizing", action: "sizing-\($i)"}' ;;
  esac
}

# POSTs every line of stdin to /api/v1/workflow, PARALLEL at a time; prints {"accepted":…, "failed":…}.
submit() {
  node -e '
    const [url, key, parallel] = process.argv.slice(1);
    const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
    let next = 0, accepted = 0, failed = 0, firstError = "";
    async function lane() {
      while (next < lines.length) {
        const body = lines[next++];
        try {
          const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "X-API-Key": key }, body });
          const text = await r.text();
          if (r.status === 202) accepted++; else { failed++; firstError ||= `${r.status} ${text.slice(0, 300)}`; }
        } catch (e) { failed++; firstError ||= String(e); }
      }
    }
    Promise.all(Array.from({ length: +parallel }, lane)).then(() => {
      if (firstError) console.error("first refused submission:", firstError);
      console.log(JSON.stringify({ accepted, failed }));
    });' "http://127.0.0.1:$api_port/api/v1/workflow" "$api_key" "$parallel"
}

measure() { # measure <workflow>
  local workflow=$1
  start_system
  psql_ "VACUUM ANALYZE" && psql_ "CHECKPOINT"
  local pg_before wal_before tables_before redis_before
  pg_before=$(psql_ "SELECT pg_database_size(current_database())")
  wal_before=$(psql_ "SELECT pg_current_wal_lsn()")
  tables_before=$(table_sizes)
  redis_before=$(used_memory)

  bodies "$workflow" "$jobs" > "$tmp/bodies"
  local t0 t1 t2 submitted
  t0=$(now)
  submitted=$(submit < "$tmp/bodies")
  t1=$(now)
  local deadline=$(( $(date +%s) + timeout )) open
  while :; do
    open=$(psql_ "SELECT count(*) FROM llm_workflow_jobs WHERE status NOT IN ('completed', 'failed', 'cancelled')")
    [ "$open" = 0 ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "$workflow: $open jobs still open after ${timeout}s" >&2; exit 1; fi
    sleep 0.2
  done
  t2=$(psql_ "SELECT extract(epoch FROM max(completed_at)) FROM llm_workflow_jobs")
  [ -n "$t2" ] || t2=$(now)
  local statuses
  statuses=$(psql_ "SELECT coalesce(json_object_agg(status, n), '{}') FROM (SELECT status, count(*) n FROM llm_workflow_jobs GROUP BY status) s")
  # Past two reconcile ticks: the dispatch streams are trimmed behind the consumer group.
  sleep 7

  psql_ "VACUUM ANALYZE"
  local pg_after wal_bytes tables_after redis_after dbsize keys events_ttl redis_without_events
  pg_after=$(psql_ "SELECT pg_database_size(current_database())")
  wal_bytes=$(psql_ "SELECT pg_current_wal_lsn() - '$wal_before'::pg_lsn")
  tables_after=$(table_sizes)
  redis_after=$(used_memory)
  dbsize=$(rcli DBSIZE)
  keys=$(redis_keys)
  events_ttl=$(grep -m 1 ':events:' "$tmp/keys" | xargs -r redis-cli -p "$redis_port" TTL || true)
  # What is left once the event streams have expired (1 hour after each job's end): delete them now.
  rcli --scan --pattern '*:events:*' | xargs -r -n 500 redis-cli -p "$redis_port" DEL > /dev/null
  sleep 1
  redis_without_events=$(used_memory)

  jq -n -c --arg w "$workflow" --argjson n "$jobs" --argjson submitted "$submitted" --argjson statuses "$statuses" \
    --argjson t0 "$t0" --argjson t1 "$t1" --argjson t2 "$t2" \
    --argjson pg0 "$pg_before" --argjson pg1 "$pg_after" --argjson wal "$wal_bytes" \
    --argjson tb "$tables_before" --argjson ta "$tables_after" \
    --argjson r0 "$redis_before" --argjson r1 "$redis_after" --argjson r2 "$redis_without_events" \
    --argjson dbsize "$dbsize" --argjson keys "$keys" --argjson ttl "${events_ttl:-null}" '
    def r: . * 10 | round / 10;
    {workflow: $w, jobs: $n, submitted: $submitted, statuses: $statuses,
     submit_per_s: ($n / ($t1 - $t0) | round), jobs_per_s: ($n / ($t2 - $t0) | round),
     pg_bytes_per_job: (($pg1 - $pg0) / $n | round), pg_wal_bytes_per_job: ($wal / $n | round),
     pg_tables: ([$ta | to_entries[] | {table: .key, bytes_per_job: ((.value.bytes - ($tb[.key].bytes // 0)) / $n | round),
                                         index_bytes_per_job: ((.value.index_bytes - ($tb[.key].index_bytes // 0)) / $n | round),
                                         rows_per_job: ((.value.rows - ($tb[.key].rows // 0)) / $n | r)}]
                 | map(select(.bytes_per_job > 0)) | sort_by(-.bytes_per_job) | .[:6]),
     redis_bytes_per_job: (($r1 - $r0) / $n | round), redis_bytes_per_job_after_events: (($r2 - $r0) / $n | round),
     redis_dbsize: $dbsize, redis_keys: $keys, redis_events_ttl_s: $ttl}'

  cleanup
}

for workflow in $workflows; do
  if [ ! -f "$workflows_root/definitions/$workflow.json" ]; then echo "skipping $workflow: no definition in $workflows_root" >&2; continue; fi
  measure "$workflow"
done
