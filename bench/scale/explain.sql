-- EXPLAIN (ANALYZE, BUFFERS) of the queries behind the scale benchmark's measurements, on a seeded database
-- (see bench/README.md, "Scale"). Run with psql against the benchmark's PostgreSQL; nothing is changed (the
-- retention statements run inside a transaction that is rolled back).
\timing off
\pset pager off
SET max_parallel_workers_per_gather = 2;

\echo '== list, first page: the count before (every match) and after (one past the limit), then the page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM llm_workflow_jobs WHERE tenant_id = 'main-app';
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM (SELECT 1 FROM llm_workflow_jobs WHERE tenant_id = 'main-app' ORDER BY created_at DESC, id DESC LIMIT 1001) t;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, workflow_name, status FROM llm_workflow_jobs WHERE tenant_id = 'main-app' ORDER BY created_at DESC, id DESC LIMIT 50;

\echo '== list by status (failed), count and page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM llm_workflow_jobs WHERE tenant_id = 'main-app' AND status = 'failed';
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM (SELECT 1 FROM llm_workflow_jobs WHERE tenant_id = 'main-app' AND status = 'failed' ORDER BY created_at DESC, id DESC LIMIT 1001) t;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, workflow_name, status FROM llm_workflow_jobs WHERE tenant_id = 'main-app' AND status = 'failed' ORDER BY created_at DESC, id DESC LIMIT 50;

\echo '== list by user, page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, workflow_name, status FROM llm_workflow_jobs WHERE tenant_id = 'main-app' AND user_id = 'user-00000' ORDER BY created_at DESC, id DESC LIMIT 50;

\echo '== list, deep page (offset 10000)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, workflow_name, status FROM llm_workflow_jobs WHERE tenant_id = 'main-app' ORDER BY created_at DESC, id DESC OFFSET 10000 LIMIT 50;

\echo '== status of one job: the row and its steps'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM llm_workflow_jobs WHERE id = md5('job-1500000')::uuid;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM llm_job_steps WHERE job_id = md5('job-1500000')::uuid ORDER BY started_at, created_at;

-- The rollup query measured in the output file is on branch scale, not merged (bench/README.md).
\echo '== usage report, all time: every row with its job, sent to the API (the report on main)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT u.model, j.workflow_name, j.user_id, u.created_at, u.input_tokens, u.output_tokens, u.total_tokens, u.cost_usd
  FROM llm_provider_usage u LEFT JOIN llm_workflow_jobs j ON u.job_id = j.id WHERE u.created_at >= '2000-01-01' AND u.created_at < now();

\echo '== retention: one batch of 1,000, before (any 1,000 old rows) and after (oldest first from the last boundary)'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) DELETE FROM llm_workflow_jobs WHERE id IN (SELECT id FROM llm_workflow_jobs
  WHERE status IN ('completed', 'failed', 'cancelled') AND created_at < now() - interval '360 days' LIMIT 1000);
ROLLBACK;
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) DELETE FROM llm_workflow_jobs WHERE id IN (SELECT id FROM llm_workflow_jobs
  WHERE created_at >= '-infinity' AND created_at < now() - interval '360 days' AND status IN ('completed', 'failed', 'cancelled')
  ORDER BY created_at LIMIT 1000) AND status IN ('completed', 'failed', 'cancelled');
ROLLBACK;
