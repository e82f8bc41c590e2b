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

\echo '== list, deep page (offset 10000): plain, then as the API runs it (ids from the index alone, then the 50 rows)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, workflow_name, status FROM llm_workflow_jobs WHERE tenant_id = 'main-app' ORDER BY created_at DESC, id DESC OFFSET 10000 LIMIT 50;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, workflow_name, status FROM llm_workflow_jobs WHERE id IN (
  SELECT id FROM llm_workflow_jobs WHERE tenant_id = 'main-app' ORDER BY created_at DESC, id DESC OFFSET 10000 LIMIT 50)
  ORDER BY created_at DESC, id DESC LIMIT 50;

\echo '== list, keyset page after the 10,000th job (cursor)'
SELECT created_at AS c_at, id AS c_id FROM llm_workflow_jobs WHERE tenant_id = 'main-app' ORDER BY created_at DESC, id DESC OFFSET 9999 LIMIT 1 \gset
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, workflow_name, status FROM llm_workflow_jobs
  WHERE tenant_id = 'main-app' AND (created_at, id) < (:'c_at'::timestamptz, :'c_id'::uuid) ORDER BY created_at DESC, id DESC LIMIT 50;

\echo '== status of one job: the row and its steps'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM llm_workflow_jobs WHERE id = md5('job-1500000')::uuid;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM llm_job_steps WHERE job_id = md5('job-1500000')::uuid ORDER BY started_at, created_at;

\echo '== usage report, all time, before the rollup: every row with its job, sent to the API'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT u.model, j.workflow_name, j.user_id, u.created_at, u.input_tokens, u.output_tokens, u.total_tokens, u.cost_usd
  FROM llm_provider_usage u LEFT JOIN llm_workflow_jobs j ON u.job_id = j.id WHERE u.created_at >= '2000-01-01' AND u.created_at < now();

-- The report as UsageReport builds it (UsageReport.Plan): rollup days up to rolled_until (its last day partly rolled,
-- hour by hour), raw rows after.
SELECT ((rolled_until - interval '1 microsecond') AT TIME ZONE 'UTC')::date + 1 AS rolled, rolled_until AS rolled_at,
       date_trunc('month', rolled_until AT TIME ZONE 'UTC')::date AS this_month,
       ((now() - interval '30 days') AT TIME ZONE 'UTC')::date + 1 AS first_day
  FROM llm_usage_rollup_state \gset
\echo '== usage report, all time: sums per day, model, workflow (rollup + raw rows since)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT day, model, workflow_name, sum(calls)::int, sum(input_tokens)::bigint, sum(output_tokens)::bigint, sum(total_tokens)::bigint, sum(cost_usd)
  FROM (SELECT day, model, workflow_name, calls, input_tokens, output_tokens, total_tokens, cost_usd
          FROM llm_usage_daily WHERE day >= '2000-01-01' AND day < :'rolled'
        UNION ALL
        SELECT (u.created_at AT TIME ZONE 'UTC')::date, u.model, coalesce(j.workflow_name, ''), 1, u.input_tokens, u.output_tokens, u.total_tokens, u.cost_usd
          FROM llm_provider_usage u LEFT JOIN llm_workflow_jobs j ON j.id = u.job_id WHERE u.created_at >= :'rolled_at' AND u.created_at < now()) x
 GROUP BY day, model, workflow_name HAVING sum(calls) <> 0;

\echo '== usage report, all time: per user (every month row + raw rows since), ranked, top 100 + others'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
WITH calls AS (
    SELECT user_id, user_key, calls, input_tokens, output_tokens, total_tokens, cost_usd, username, username_at
      FROM llm_usage_user_monthly WHERE month = ANY(ARRAY(SELECT generate_series('2000-01-01'::date, :'this_month'::date, interval '1 month')::date))
    UNION ALL
    SELECT coalesce(j.user_id, ''), CASE WHEN j.user_id IS NOT NULL THEN '' WHEN j.username IS NOT NULL THEN 'n:' || j.username ELSE 'none' END,
           1, u.input_tokens, u.output_tokens, u.total_tokens, u.cost_usd, j.username, u.created_at
      FROM llm_provider_usage u LEFT JOIN llm_workflow_jobs j ON j.id = u.job_id WHERE u.created_at >= :'rolled_at' AND u.created_at < now()
), users AS (
    SELECT user_id, user_key, sum(calls) AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
           sum(total_tokens) AS total_tokens, sum(cost_usd) AS cost_usd,
           (array_agg(username ORDER BY username_at DESC) FILTER (WHERE username IS NOT NULL))[1] AS username,
           CASE WHEN user_key = '' THEN user_id WHEN user_key = 'none' THEN '(none)' ELSE substr(user_key, 3) END AS key
      FROM calls GROUP BY user_id, user_key HAVING sum(calls) <> 0
), ranked AS MATERIALIZED (
    SELECT *, row_number() OVER (ORDER BY cost_usd DESC, key COLLATE "C") AS rank, count(*) OVER () AS user_count FROM users
)
SELECT key, calls, cost_usd, rank FROM ranked WHERE rank <= 100
UNION ALL
SELECT NULL, sum(calls), sum(cost_usd), NULL FROM ranked WHERE rank > 100 HAVING count(*) > 0;

\echo '== usage report, 30 days: per user (the month row, the day rows of the first days, raw rows before and after)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
WITH calls AS (
    SELECT user_id, user_key, calls, input_tokens, output_tokens, total_tokens, cost_usd, username, username_at
      FROM llm_usage_user_monthly WHERE month = ANY(ARRAY[:'this_month'::date])
    UNION ALL
    SELECT user_id, user_key, calls, input_tokens, output_tokens, total_tokens, cost_usd, username, username_at
      FROM llm_usage_user_daily WHERE day = ANY(ARRAY(SELECT generate_series(:'first_day'::date, :'this_month'::date - 1, interval '1 day')::date))
    UNION ALL
    SELECT coalesce(j.user_id, ''), CASE WHEN j.user_id IS NOT NULL THEN '' WHEN j.username IS NOT NULL THEN 'n:' || j.username ELSE 'none' END,
           1, u.input_tokens, u.output_tokens, u.total_tokens, u.cost_usd, j.username, u.created_at
      FROM llm_provider_usage u LEFT JOIN llm_workflow_jobs j ON j.id = u.job_id
     WHERE (u.created_at >= now() - interval '30 days' AND u.created_at < (:'first_day'::timestamp AT TIME ZONE 'UTC'))
        OR (u.created_at >= :'rolled_at' AND u.created_at < now())
), users AS (
    SELECT user_id, user_key, sum(calls) AS calls, sum(cost_usd) AS cost_usd,
           (array_agg(username ORDER BY username_at DESC) FILTER (WHERE username IS NOT NULL))[1] AS username
      FROM calls GROUP BY user_id, user_key HAVING sum(calls) <> 0
)
SELECT user_id, calls, cost_usd FROM users ORDER BY cost_usd DESC LIMIT 100;

\echo '== retention: one batch of 1,000 (oldest first from the last boundary), without and with the rollup subtraction'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) DELETE FROM llm_workflow_jobs WHERE id IN (SELECT id FROM llm_workflow_jobs
  WHERE created_at >= '-infinity' AND created_at < now() - interval '360 days' AND status IN ('completed', 'failed', 'cancelled')
  ORDER BY created_at LIMIT 1000) AND status IN ('completed', 'failed', 'cancelled');
ROLLBACK;
-- With the rollup subtraction (a simplified copy of UsageRollup.SubtractDeletedJobsSql: calls and cost only, without
-- the username repair), rolled back: first as planned by default (hash joins), then as JobMaintenance runs it
-- (SET LOCAL enable_hashjoin/enable_mergejoin off: primary-key probes). One prepared statement, planned at each EXPLAIN
-- EXECUTE with the settings of the moment.
PREPARE retention_batch AS
WITH doomed AS (
    DELETE FROM llm_workflow_jobs WHERE id IN (SELECT id FROM llm_workflow_jobs
      WHERE created_at >= '-infinity' AND created_at < now() - interval '360 days' AND status IN ('completed', 'failed', 'cancelled')
      ORDER BY created_at LIMIT 1000) AND status IN ('completed', 'failed', 'cancelled')
    RETURNING id, created_at, tenant_id, workflow_name, user_id, username),
rollup_state AS (SELECT rolled_until FROM llm_usage_rollup_state FOR SHARE),
gone AS (
    SELECT (u.created_at AT TIME ZONE 'UTC')::date AS day, u.model, coalesce(j.tenant_id, '') AS tenant_id, coalesce(j.workflow_name, '') AS workflow_name,
           coalesce(j.user_id, '') AS user_id,
           CASE WHEN j.user_id IS NOT NULL THEN '' WHEN j.username IS NOT NULL THEN 'n:' || j.username ELSE 'none' END AS user_key,
           u.input_tokens, u.output_tokens, u.total_tokens, u.cost_usd, date_trunc('month', u.created_at AT TIME ZONE 'UTC')::date AS month
      FROM llm_provider_usage u JOIN doomed j ON u.job_id = j.id, rollup_state s
     WHERE u.created_at < s.rolled_until
), gone_daily AS (
    UPDATE llm_usage_daily r SET calls = r.calls - g.calls, cost_usd = r.cost_usd - g.cost_usd
      FROM (SELECT day, tenant_id, model, workflow_name, count(*) AS calls, sum(cost_usd) AS cost_usd FROM gone GROUP BY 1, 2, 3, 4) g
     WHERE r.day = g.day AND r.tenant_id = g.tenant_id AND r.model = g.model AND r.workflow_name = g.workflow_name
), gone_user_daily AS (
    UPDATE llm_usage_user_daily r SET calls = r.calls - g.calls, cost_usd = r.cost_usd - g.cost_usd
      FROM (SELECT day, tenant_id, user_id, user_key, count(*) AS calls, sum(cost_usd) AS cost_usd FROM gone GROUP BY 1, 2, 3, 4) g
     WHERE r.day = g.day AND r.tenant_id = g.tenant_id AND r.user_id = g.user_id AND r.user_key = g.user_key
), gone_user_monthly AS (
    UPDATE llm_usage_user_monthly r SET calls = r.calls - g.calls, cost_usd = r.cost_usd - g.cost_usd
      FROM (SELECT month, tenant_id, user_id, user_key, count(*) AS calls, sum(cost_usd) AS cost_usd FROM gone GROUP BY 1, 2, 3, 4) g
     WHERE r.month = g.month AND r.tenant_id = g.tenant_id AND r.user_id = g.user_id AND r.user_key = g.user_key
)
SELECT count(*), max(created_at) FROM doomed;
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE retention_batch;
ROLLBACK;
BEGIN;
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_mergejoin = off;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE retention_batch;
ROLLBACK;
DEALLOCATE retention_batch;
