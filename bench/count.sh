#!/usr/bin/env bash
# What one plain job costs, counted (docs/JOB_LIFECYCLE.md, "What one plain job costs"): a DIAGNOSTIC, not a bench
# figure. It loads pg_stat_statements (not a PostgreSQL default) to count statements, their execution time and WAL per
# statement; throughput and the shipped figures are bench/run.sh's. Runs the API and the worker published in
# <published>/LlmWorkflow.Api and <published>/LlmWorkflow.Worker (Release, Production, appsettings as shipped) on a
# throw-away PostgreSQL (fsync on) and redis-server, submits N bench_transform jobs at c=32 from bench/node/submit.mjs
# after a 50-job warm-up, and prints per job: WAL bytes, transactions, CPU per process, Redis commands, statements.
# Needs root (PostgreSQL runs as the postgres user). Interleave builds and take medians: times move with the machine.
#   bench/count.sh head artifacts/bench/publish 2000
set -euo pipefail
label=$1; published=$(realpath "$2"); jobs=${3:-2000}
repo=$(cd "$(dirname "$0")/.." && pwd)
api=$published/LlmWorkflow.Api/LlmWorkflow.Api.dll; worker=$published/LlmWorkflow.Worker/LlmWorkflow.Worker.dll
wf=$repo/bench/workflows; node=$repo/bench/node/submit.mjs
out=$repo/artifacts/bench/count-$label.txt; mkdir -p "$(dirname "$out")"
root=$(mktemp -d); chmod 755 "$root"
pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
aport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
chown postgres $root; runuser -u postgres -- initdb -D $root/pg -U postgres --auth=trust >/dev/null
cat >> $root/pg/postgresql.conf <<C
port=$pgport
listen_addresses='127.0.0.1'
unix_socket_directories='$root'
shared_preload_libraries='pg_stat_statements'
pg_stat_statements.track=all
pg_stat_statements.max=5000
C
runuser -u postgres -- pg_ctl -D $root/pg -l $root/pg.log start -w >/dev/null
redis-server --port $rport --dir $root --save '' --appendonly no --daemonize yes --pidfile $root/redis.pid >/dev/null
psql="psql -h 127.0.0.1 -p $pgport -U postgres -At"
$psql -c "create database bench" >/dev/null
$psql -d bench -c "create extension pg_stat_statements" >/dev/null
cs="Host=127.0.0.1;Port=$pgport;Username=postgres;Database=bench"
export ConnectionStrings__postgres="$cs" ConnectionStrings__redis="127.0.0.1:$rport" Workflows__Root=$wf \
  LLM_MICROSERVICE_API_KEY=benchkey ADMIN_API_KEY=adminkey DOTNET_ENVIRONMENT=Production ASPNETCORE_ENVIRONMENT=Production
cd $root
ASPNETCORE_URLS=http://127.0.0.1:$aport dotnet $api > $root/api.log 2>&1 & echo $! > $root/api.pid
for i in $(seq 600); do curl -sf http://127.0.0.1:$aport/health >/dev/null && break; sleep 0.2; done
Worker__Id=w1 dotnet $worker > $root/worker.log 2>&1 & echo $! > $root/worker.pid
sleep 3
done_count() { $psql -d bench -c "select count(*) from llm_workflow_jobs where status='completed'"; }
wait_for() { for i in $(seq 3000); do [ "$(done_count)" -ge $1 ] && return; sleep 0.2; done; echo TIMEOUT; }
node $node http://127.0.0.1:$aport benchkey bench_transform 50 8 > /dev/null
wait_for 50; sleep 2
$psql -d bench -c "select pg_stat_statements_reset()" >/dev/null
redis-cli -p $rport CONFIG RESETSTAT >/dev/null
lsn0=$($psql -d bench -c "select pg_current_wal_lsn()")
x0=$($psql -d bench -c "select xact_commit from pg_stat_database where datname='bench'")
cpu() { awk '{print $14+$15}' /proc/$(cat $root/$1.pid)/stat; }
pgcpu() { local t=0; for p in $(pgrep -P $(head -1 $root/pg/postmaster.pid)); do t=$((t+$(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
a0=$(cpu api); w0=$(cpu worker); p0=$(pgcpu)
node $node http://127.0.0.1:$aport benchkey bench_transform $jobs 32 | tee $root/submit.json
wait_for $((jobs+50)); sleep 1
a1=$(cpu api); w1=$(cpu worker); p1=$(pgcpu)
lsn1=$($psql -d bench -c "select pg_current_wal_lsn()")
x1=$($psql -d bench -c "select xact_commit from pg_stat_database where datname='bench'")
{
echo "label=$label jobs=$jobs"
echo "wal_bytes_per_job=$($psql -d bench -c "select round(pg_wal_lsn_diff('$lsn1','$lsn0')/$jobs.0)")"
echo "xact_per_job=$(python3 -c "print(round(($x1-$x0)/$jobs,2))")"
echo "api_cpu_ms_per_job=$(python3 -c "print(round(($a1-$a0)*10/$jobs,3))") worker_cpu_ms_per_job=$(python3 -c "print(round(($w1-$w0)*10/$jobs,3))")"
echo "pg_backend_cpu_ms_per_job=$(python3 -c "print(round(($p1-$p0)*10/$jobs,3))")"
echo "--- redis per job"
redis-cli -p $rport INFO commandstats | grep cmdstat | grep -v "config\|info" | sed 's/:calls=\([0-9]*\).*/ \1/' | awk -v j=$jobs '{printf "%s %.2f\n",$1,$2/j}'
echo "--- statements per job (calls/job, rows/job)"
$psql -d bench -F ' | ' -c "select round(calls/$jobs.0,3), round(rows/$jobs.0,3), regexp_replace(left(query,300),'\s+',' ','g') from pg_stat_statements where dbid=(select oid from pg_database where datname='bench') and calls >= $jobs/50 order by calls desc"
echo "--- WAL bytes per job by statement"
$psql -d bench -F ' | ' -c "select round(wal_bytes/$jobs.0), round(wal_bytes/nullif(calls,0)), left(regexp_replace(query,'\s+',' ','g'),60) from pg_stat_statements where dbid=(select oid from pg_database where datname='bench') and wal_bytes > 0 order by wal_bytes desc limit 6"
echo "--- exec ms per job by statement"
$psql -d bench -F ' | ' -c "select round((total_exec_time/$jobs)::numeric,4), round((total_plan_time/$jobs)::numeric,4), left(regexp_replace(query,'\s+',' ','g'),60) from pg_stat_statements where dbid=(select oid from pg_database where datname='bench') order by total_exec_time desc limit 8"
echo "--- jobs table: updates, HOT updates, avg row bytes"
$psql -d bench -c "select n_tup_upd, n_tup_hot_upd from pg_stat_user_tables where relname='llm_workflow_jobs'"
$psql -d bench -c "select round(avg(pg_column_size(j.*))) from llm_workflow_jobs j where status='completed'"
echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
echo "--- total statement calls per job"
$psql -d bench -c "select round(sum(calls)/$jobs.0,2) from pg_stat_statements where dbid=(select oid from pg_database where datname='bench')"
} > "$out"
kill $(cat $root/worker.pid) $(cat $root/api.pid) 2>/dev/null || true; sleep 2
redis-cli -p $rport shutdown nosave >/dev/null 2>&1 || true
runuser -u postgres -- pg_ctl -D $root/pg stop -m fast >/dev/null
cat "$out"; rm -rf "$root"
