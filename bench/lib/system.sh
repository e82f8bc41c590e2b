# Shared by the bench scripts that run the published system on loopback (sourced, not run): PostgreSQL from the local
# binaries (initdb into a temp directory, default settings, fsync on), redis-server (temp directory, no persistence),
# the published API (Production) and one Worker. The caller sets published, pg_bin, api_key, admin_key and db_name.
service_dir() { # service_dir LlmWorkflow.Api api
  if [ -d "$published/$1" ]; then echo "$published/$1"; elif [ -d "$published/$2" ]; then echo "$published/$2";
  else echo "no $published/$1 (or $published/$2): publish first, see the header of $0" >&2; exit 2; fi
}
api_dir=$(cd "$(service_dir LlmWorkflow.Api api)" && pwd)
worker_dir=$(cd "$(service_dir LlmWorkflow.Worker worker)" && pwd)
# The definitions published with the API (PublishWorkflows.props), else the repository's.
if [ -d "$api_dir/workflows/definitions" ]; then workflows_root=$api_dir/workflows; else workflows_root=$PWD/workflows; fi
[ -x "$pg_bin/initdb" ] || { echo "no PostgreSQL binaries (set PG_BIN)" >&2; exit 2; }

# shellcheck source=bench/lib/postgres.sh
source "$(dirname "${BASH_SOURCE[0]}")/postgres.sh"

tmp=""
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2> /dev/null || true
  done
  pids=()
  if [ -n "$tmp" ] && [ -d "$tmp" ]; then
    [ -f "$tmp/redis.pid" ] && kill "$(cat "$tmp/redis.pid")" 2> /dev/null || true
    stop_postgres "$tmp"
    if [ -n "${KEEP_LOGS:-}" ]; then mkdir -p "$KEEP_LOGS" && cp "$tmp"/*.log "$KEEP_LOGS"/ 2> /dev/null || true; fi
    rm -rf "$tmp"
  fi
  tmp=""
}
trap cleanup EXIT
trap 'echo "$0: failed at line $LINENO" >&2' ERR
trap 'exit 130' INT TERM

psql_() { "$pg_bin/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d "$db_name" -c "$1"; }
rcli() { redis-cli -p "$redis_port" "$@"; }
used_memory() { rcli INFO memory | tr -d '\r' | sed -n 's/^used_memory://p'; }
now() { date +%s.%N; }

# Growth per table (total relation size, rows): a JSON object by table name.
table_sizes() {
  psql_ "SELECT coalesce(json_object_agg(c.relname, json_build_object('bytes', pg_total_relation_size(c.oid), 'index_bytes', pg_indexes_size(c.oid), 'rows', s.n_live_tup)), '{}')
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
         WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
}

# Key count and MEMORY USAGE per pattern (job ids and other ids folded to *).
redis_keys() {
  rcli --scan > "$tmp/keys"
  if [ ! -s "$tmp/keys" ]; then echo '{}'; return; fi
  sed 's/^/MEMORY USAGE /; s/$/ SAMPLES 0/' "$tmp/keys" | rcli > "$tmp/key-bytes"
  paste -d ' ' "$tmp/keys" "$tmp/key-bytes" \
    | sed -E 's/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/*/g; s/:[0-9]+( |:)/:*\1/g' \
    | jq -R -s -c 'split("\n") | map(select(length > 0) | split(" ") | {key: .[0], bytes: (.[1] | tonumber? // 0)})
                   | group_by(.key) | map({key: .[0].key, value: {count: length, bytes: (map(.bytes) | add)}}) | from_entries'
}

wait_for() { # wait_for <seconds> <what> <command...>
  local deadline=$(( $(date +%s) + $1 )) what=$2; shift 2
  until "$@" > /dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "$what did not come up; last log lines:" >&2
      tail -n 30 "$tmp"/*.log >&2 2> /dev/null || true
      exit 1
    fi
    sleep 0.2
  done
}

start_service() { # start_service <dir> <name> <log> [K=V...]: the apphost if there is one, else dotnet <name>.dll
  local dir=$1 name=$2 log=$3; shift 3
  local cmd=("$dir/$name"); [ -x "$dir/$name" ] || cmd=(dotnet "$dir/$name.dll")
  (cd "$tmp" && exec env "${service_env[@]}" "$@" "${cmd[@]}" > "$log" 2>&1) &
  pids+=($!)
}


start_system() { # start_system: a fresh system; sets tmp, pg_port, redis_port, api_port
  tmp=$(mktemp -d /tmp/llmwf-bench.XXXXXX)
  chmod 755 "$tmp"
  pg_port=$(free_port); redis_port=$(free_port); api_port=$(free_port)

  # PostgreSQL: defaults (fsync on), loopback only, trust authentication for postgres.
  start_postgres "$tmp" "$pg_port" "$db_name"
  mkdir "$tmp/redis"

  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp/redis" --save '' --appendonly no \
    --daemonize yes --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
  wait_for 10 redis rcli PING

  service_env=(
    "ConnectionStrings__postgres=Host=127.0.0.1;Port=$pg_port;Database=$db_name;Username=postgres"
    "ConnectionStrings__redis=127.0.0.1:$redis_port"
    "Workflows__Root=$workflows_root"
    "LLM_MICROSERVICE_API_KEY=$api_key" "ADMIN_API_KEY=$admin_key"
    "DOTNET_ENVIRONMENT=Production" "ASPNETCORE_ENVIRONMENT=Production"
  )
  # The API migrates the database before it answers; the worker starts after it.
  start_service "$api_dir" LlmWorkflow.Api "$tmp/api.log" "ASPNETCORE_URLS=http://127.0.0.1:$api_port"
  wait_for 120 "the API" curl -fsS "http://127.0.0.1:$api_port/health"
  start_service "$worker_dir" LlmWorkflow.Worker "$tmp/worker.log" "Worker__Id=bench-worker-1"
  wait_for 60 "the worker" grep -q "Worker started" "$tmp/worker.log"
  sleep 4 # its first reconcile and maintenance ticks

}
