#!/usr/bin/env bash
# One S2 run of a durable yardstick, driven as bench/run.sh drives the service: a throw-away PostgreSQL at its
# defaults (bench/lib/postgres.sh: fsync on), the yardstick started fresh, WARMUP (50) submissions from the client and
# their drain, then <jobs> submissions over HTTP at <concurrency> from the same Node client (bench/node/submit.mjs,
# with SUBMIT_PATH=/jobs; CLIENT_TRANSPORT as there) while the yardstick drains them. Prints one JSON line: jobs/s =
# jobs / (the moment the last one is seen succeeded − the first submission), and the CPU per job of the yardstick's
# process, PostgreSQL (postmaster and backends, exited ones included) and the client.
#   bench/yardsticks/run.sh hangfire 5000 32   # Hangfire 1.8 + Hangfire.PostgreSql (bench/yardsticks/HangfireApp)
#   bench/yardsticks/run.sh graphile 5000 32   # graphile-worker 0.18 (bench/node/graphile.mjs)
# Environment: WARMUP (50), PUBLISHED (artifacts/bench/publish: hangfire runs $PUBLISHED/HangfireApp, from
# `dotnet publish bench/yardsticks/HangfireApp -c Release -o $PUBLISHED/HangfireApp`, which bench/run.sh does),
# GRAPHILE_CONCURRENCY (10), PG_BIN, KEEP_LOGS=<dir> (keeps the yardstick's and PostgreSQL's logs).
set -euo pipefail
cd "$(dirname "$0")/../.."
yardstick=${1:?usage: bench/yardsticks/run.sh <hangfire|graphile> [jobs=5000] [concurrency=32]}
jobs=${2:-5000}
concurrency=${3:-32}
warmup=${WARMUP:-50}
published=$(cd "${PUBLISHED:-artifacts/bench/publish}" 2> /dev/null && pwd || true)
pg_bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$pg_bin/initdb" ] || { echo "no PostgreSQL binaries (set PG_BIN)" >&2; exit 2; }
# shellcheck source=bench/lib/postgres.sh
source bench/lib/postgres.sh

tmp=$(mktemp -d /tmp/llmwf-yardstick.XXXXXX)
chmod 755 "$tmp"
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2> /dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2> /dev/null || true
  fi
  stop_postgres "$tmp"
  if [ -n "${KEEP_LOGS:-}" ]; then mkdir -p "$KEEP_LOGS" && cp "$tmp"/*.log "$KEEP_LOGS"/ 2> /dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_port=$(free_port)
port=$(free_port)
url=http://127.0.0.1:$port
start_postgres "$tmp" "$pg_port" yardstick

case $yardstick in
  hangfire)
    label=hangfire
    [ -n "$published" ] && [ -x "$published/HangfireApp/HangfireApp" ] \
      || { echo "no published HangfireApp: dotnet publish bench/yardsticks/HangfireApp -c Release -o artifacts/bench/publish/HangfireApp" >&2; exit 2; }
    version="Hangfire $(sed -n 's/.*Include="Hangfire.Core" Version="\([^"]*\)".*/\1/p' Directory.Packages.props), Hangfire.PostgreSql $(sed -n 's/.*Include="Hangfire.PostgreSql" Version="\([^"]*\)".*/\1/p' Directory.Packages.props)"
    settings="one process: minimal API + Hangfire server, default options (WorkerCount min(5 x cores, 20) = $(( $(nproc) * 5 < 20 ? $(nproc) * 5 : 20 )))"
    (cd "$tmp" && exec env "ConnectionStrings__postgres=Host=127.0.0.1;Port=$pg_port;Database=yardstick;Username=postgres" \
      "ASPNETCORE_URLS=$url" DOTNET_ENVIRONMENT=Production ASPNETCORE_ENVIRONMENT=Production \
      "$published/HangfireApp/HangfireApp" > "$tmp/yardstick.log" 2>&1) &
    pid=$!
    ;;
  graphile)
    label=graphile-worker
    version="graphile-worker $(node -p 'require("./bench/node/node_modules/graphile-worker/package.json").version')"
    settings="one process: node:http + runner, defaults but concurrency ${GRAPHILE_CONCURRENCY:-10}"
    (NODE_ENV=production exec node bench/node/graphile.mjs "postgres://postgres@127.0.0.1:$pg_port/yardstick" "$port" \
      "${GRAPHILE_CONCURRENCY:-10}" > "$tmp/yardstick.log" 2>&1) &
    pid=$!
    ;;
  *) echo "unknown yardstick $yardstick (hangfire or graphile)" >&2; exit 2 ;;
esac

wait_until() { # wait_until <seconds> <what> <command...>
  local deadline=$(( $(date +%s) + $1 )) what=$2; shift 2
  until "$@" > /dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "$yardstick: $what timed out; last log lines:" >&2
      tail -n 30 "$tmp/yardstick.log" >&2 || true
      exit 1
    fi
    sleep 0.02
  done
}
succeeded_at_least() { [ "$(curl -fsS "$url/stats" | jq .succeeded)" -ge "$1" ]; }

# CPU seconds × 100 (USER_HZ) from /proc/<pid>/stat, user + system; with a second argument, plus waited-for children.
ticks() {
  local stat fields
  stat=$(cat "/proc/$1/stat" 2> /dev/null) || { echo 0; return; }
  read -r -a fields <<< "${stat##*) }" # the fields after the command name, from field 3 (state) on
  echo $(( fields[11] + fields[12] + (${2:-0} ? fields[13] + fields[14] : 0) ))
}
postgres_ticks() {
  local postmaster total child
  postmaster=$(head -n 1 "$tmp/pg/postmaster.pid")
  total=$(ticks "$postmaster" 1)
  for child in $(pgrep -P "$postmaster"); do total=$(( total + $(ticks "$child" 1) )); done
  echo "$total"
}
client() { # client <count>: the Node client's JSON line
  SUBMIT_PATH=/jobs node bench/node/submit.mjs "$url" none bench_transform "$1" "$concurrency"
}

wait_until 120 "start" curl -fsS "$url/health"
client "$warmup" > /dev/null
wait_until 120 "the warm-up's drain" succeeded_at_least "$warmup"

yardstick_before=$(ticks "$pid"); postgres_before=$(postgres_ticks)
line=$(client "$jobs")
wait_until 600 "the drain" succeeded_at_least $(( warmup + jobs ))
finished_ms=$(date +%s%3N)
yardstick_after=$(ticks "$pid"); postgres_after=$(postgres_ticks)

jq -n -c --argjson client "$line" --arg yardstick "$label" --arg version "$version" --arg settings "$settings" \
  --argjson jobs "$jobs" --argjson concurrency "$concurrency" --argjson warmup "$warmup" --argjson finished "$finished_ms" \
  --argjson yardstick_ticks $(( yardstick_after - yardstick_before )) --argjson postgres_ticks $(( postgres_after - postgres_before )) '
  ((($finished - $client.started_at_ms) / 1000)) as $seconds
  | ($yardstick_ticks * 10 / $jobs) as $y | ($postgres_ticks * 10 / $jobs) as $p | ($client.cpu_ms / $jobs) as $c
  | def r(n): (n * 1000 | round) / 1000;
  {yardstick: $yardstick, version: $version, settings: $settings, scenario: "end_to_end", client: "node", client_transport: $client.client, fsync: true,
   jobs: $jobs, concurrency: $concurrency, warmup: $warmup,
   jobs_per_second: ((($jobs / $seconds) * 10 | round) / 10), seconds: r($seconds),
   submit_rps: $client.requests_per_second, submit_p50_ms: $client.latency_ms.p50, submit_p99_ms: $client.latency_ms.p99,
   cpu_ms_per_job: {yardstick: r($y), postgres: r($p), client: r($c), total: r($y + $p + $c)}}'
