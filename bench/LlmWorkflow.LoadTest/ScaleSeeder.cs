using System.Diagnostics;
using LlmWorkflow.Storage.Jobs;
using Npgsql;

namespace LlmWorkflow.LoadTest;

/// <summary>
/// Fills the product's tables (created by its own migrations, which the API ran at start-up) with <c>N</c> finished
/// jobs, two steps each (an LLM call, checkpointed, and a transform) and one <c>llm_provider_usage</c> row each,
/// server-side with <c>INSERT … SELECT FROM generate_series</c>. Job <c>i</c> is deterministic: id
/// <c>md5('job-' || i)::uuid</c> (random-looking, as gen_random_uuid ids are), created <c>(N − i) / N × 400</c> days
/// before the seeding time, one of 4 tenants (60 % the bench key's <c>main-app</c>), 20,000 users, 6 workflows,
/// 4 models, 94 % completed / 5 % failed / 1 % cancelled. The oldest tenth (<c>i &lt; N/10</c>) is the "old window"
/// the retention phase deletes; <see cref="EnsureAsync"/> puts it back before each run.
/// </summary>
internal static class ScaleSeeder
{
    public const int SpanDays = 400;
    private const int Chunk = 1_000_000;

    /// <summary>The seeding's reference time (job N would have been created then); null when nothing is seeded.</summary>
    public static async Task<DateTimeOffset?> ReferenceAsync(NpgsqlConnection connection)
    {
        await Execute(connection, "CREATE TABLE IF NOT EXISTS bench_seed (jobs BIGINT NOT NULL, reference TIMESTAMPTZ NOT NULL, seeded_upto BIGINT NOT NULL)");
        await using var command = new NpgsqlCommand("SELECT reference FROM bench_seed", connection);
        return await command.ExecuteScalarAsync() is DateTime reference ? new DateTimeOffset(reference, TimeSpan.Zero) : null;
    }

    /// <summary>Jobs in the old window: the oldest tenth.</summary>
    public static long OldWindow(long jobs) => jobs / 10;

    /// <summary>The boundary of the old window: every seeded job created before it has <c>i &lt; N/10</c>.</summary>
    public static DateTimeOffset OldWindowEnd(DateTimeOffset reference, long jobs) =>
        reference - TimeSpan.FromDays(SpanDays) * (1 - (double)OldWindow(jobs) / jobs) - TimeSpan.FromSeconds(0.5 * SpanDays * 86400.0 / jobs);

    /// <summary>
    /// What a restore puts back: the old window and a margin after it (retention's "now" is a few seconds later than
    /// the boundary the scenario computed, so it may take a few jobs past the window).
    /// </summary>
    private static long RestoreCount(long jobs) => OldWindow(jobs) + 1000;

    /// <summary>Seeds up to <paramref name="jobs"/> jobs (resuming a partial seed) and restores the old window if retention deleted it.</summary>
    public static async Task EnsureAsync(string connectionString, long jobs, Action<string> log)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Command Timeout=0");
        await connection.OpenAsync();
        // Bench-only session settings: the seed is rebuilt on failure (seeded_upto), so it needs no per-commit flush.
        await Execute(connection, "SET maintenance_work_mem = '1GB'");
        await Execute(connection, "SET synchronous_commit = off");
        await Execute(connection, "SET work_mem = '256MB'");
        var reference = await ReferenceAsync(connection);
        if (reference is null)
        {
            await Execute(connection, $"INSERT INTO bench_seed VALUES ({jobs}, now(), 0)");
        }

        var (seededJobs, upto) = await ReadSeedAsync(connection);
        if (seededJobs != jobs)
        {
            throw new InvalidOperationException($"This database was seeded for {seededJobs:N0} jobs, not {jobs:N0}; use another LLMWF_BENCH_PG_DIR.");
        }

        if (upto < jobs)
        {
            // First seed: secondary indexes and FK triggers off during the load, rebuilt after from the definitions
            // the migrations created (saved first, so the schema ends exactly as the migrations left it).
            var total = Stopwatch.StartNew();
            await Execute(connection, """
                CREATE TABLE IF NOT EXISTS bench_dropped_indexes AS
                SELECT indexname, indexdef FROM pg_indexes
                 WHERE tablename IN ('llm_workflow_jobs', 'llm_job_steps', 'llm_provider_usage') AND indexname NOT LIKE '%pkey'
                """);
            foreach (var name in await ListAsync(connection, "SELECT indexname FROM bench_dropped_indexes"))
            {
                await Execute(connection, $"DROP INDEX IF EXISTS {name}");
            }

            foreach (var table in new[] { "llm_workflow_jobs", "llm_job_steps", "llm_provider_usage" })
            {
                await Execute(connection, $"ALTER TABLE {table} DISABLE TRIGGER ALL");
            }

            for (var start = upto; start < jobs; start += Chunk)
            {
                var end = Math.Min(start + Chunk, jobs);
                var chunk = Stopwatch.StartNew();
                await InsertRangeAsync(connection, jobs, start, end);
                await Execute(connection, $"UPDATE bench_seed SET seeded_upto = {end}");
                log($"seeded jobs {start:N0}–{end:N0} in {chunk.Elapsed.TotalSeconds:F0} s");
            }

            foreach (var table in new[] { "llm_workflow_jobs", "llm_job_steps", "llm_provider_usage" })
            {
                await Execute(connection, $"ALTER TABLE {table} ENABLE TRIGGER ALL");
            }

            foreach (var definition in await ListAsync(connection, "SELECT indexdef FROM bench_dropped_indexes"))
            {
                var index = Stopwatch.StartNew();
                await Execute(connection, definition);
                log($"{definition} in {index.Elapsed.TotalSeconds:F0} s");
            }

            await Execute(connection, "DROP TABLE bench_dropped_indexes");
            log($"seed of {jobs:N0} jobs took {total.Elapsed.TotalMinutes:F1} min");
        }
        else
        {
            // The retention phase of an earlier run deleted the old window: put it back (indexes in place).
            var restoreCount = RestoreCount(jobs);
            var present = await ScalarAsync(connection, $"SELECT count(*) FROM llm_workflow_jobs WHERE id IN (SELECT md5('job-' || i)::uuid FROM generate_series(0, {restoreCount - 1}) i)");
            if (present == restoreCount)
            {
                log("old window present");
                await RollUpAsync(connectionString, log);
                await VacuumAsync(connection, log);
                return;
            }

            var restore = Stopwatch.StartNew();
            await Execute(connection, $"DELETE FROM llm_workflow_jobs WHERE id IN (SELECT md5('job-' || i)::uuid FROM generate_series(0, {restoreCount - 1}) i)");
            for (var start = 0L; start < restoreCount; start += Chunk)
            {
                await InsertRangeAsync(connection, jobs, start, Math.Min(start + Chunk, restoreCount));
            }

            log($"old window ({restoreCount:N0} jobs) restored in {restore.Elapsed.TotalSeconds:F0} s");

            // The restored calls are back in days the rollup already holds (minus them, since retention subtracted
            // them): those days are recomputed from the raw rows, as an import would be.
            var firstDay = DateOnly.FromDateTime(reference.GetValueOrDefault().UtcDateTime.AddDays(-SpanDays - 1));
            var lastDay = DateOnly.FromDateTime(OldWindowEnd(reference.GetValueOrDefault(), jobs).UtcDateTime.AddDays(2));
            await using var dataSource = NpgsqlDataSource.Create(connectionString + ";Command Timeout=0");
            var rebuild = Stopwatch.StartNew();
            await new UsageRollup(dataSource, TimeProvider.System).RebuildAsync(firstDay, lastDay, CancellationToken.None);
            log($"usage rollup of {firstDay}–{lastDay} rebuilt in {rebuild.Elapsed.TotalSeconds:F0} s");
        }

        await RollUpAsync(connectionString, log);
        await VacuumAsync(connection, log);
    }

    /// <summary>The usage rollup, built by the product's own code (as scheduled maintenance would have, hour after hour).</summary>
    private static async Task RollUpAsync(string connectionString, Action<string> log)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString + ";Command Timeout=0");
        var rollup = new UsageRollup(dataSource, TimeProvider.System);
        var build = Stopwatch.StartNew();
        var hours = await rollup.RollUpAsync(CancellationToken.None);
        log($"usage rollup: {hours} hours added in {build.Elapsed.TotalSeconds:F0} s (rolled until {await rollup.RolledUntilAsync(CancellationToken.None)})");
    }

    private static async Task VacuumAsync(NpgsqlConnection connection, Action<string> log)
    {
        // What autovacuum does to old, finished rows in a live database: statistics and an up-to-date visibility map.
        var vacuum = Stopwatch.StartNew();
        foreach (var table in new[] { "llm_workflow_jobs", "llm_job_steps", "llm_provider_usage", "llm_webhook_attempts", "llm_usage_daily", "llm_usage_user_daily", "llm_usage_user_monthly" })
        {
            await Execute(connection, $"VACUUM (ANALYZE) {table}");
        }

        await Execute(connection, "CHECKPOINT");
        log($"vacuum analyze + checkpoint in {vacuum.Elapsed.TotalSeconds:F0} s");
    }

    private static async Task InsertRangeAsync(NpgsqlConnection connection, long jobs, long start, long end)
    {
        // One transaction per chunk: the jobs, their steps and their usage rows.
        await using var transaction = await connection.BeginTransactionAsync();
        // The chunk's job attributes computed once (md5, timestamps) into a temporary table the three INSERTs read.
        await Execute(connection, "DROP TABLE IF EXISTS bench_chunk", transaction);
        await Execute(connection, $"""
            CREATE TEMP TABLE bench_chunk ON COMMIT DROP AS
            SELECT i,
                    md5('job-' || i)::uuid AS id,
                    r.reference - make_interval(secs => ({jobs} - i)::float8 / {jobs} * {SpanDays} * 86400) AS created,
                    CASE WHEN i % 10 < 6 THEN 'main-app' WHEN i % 10 < 8 THEN 'tenant-b' WHEN i % 10 = 8 THEN 'tenant-c' ELSE 'tenant-d' END AS tenant,
                    'user-' || lpad(((i * 7919) % 20000)::text, 5, '0') AS user_id,
                    (ARRAY['mission_generation','summarize','classify_ticket','translate','extract_entities','bench_transform'])[1 + ((i / 7) % 6)::int] AS workflow,
                    CASE WHEN i % 50 = 3 THEN 'failed' WHEN i % 200 = 7 THEN 'cancelled' ELSE 'completed' END AS status,
                    (ARRAY['openai/gpt-4o-mini','anthropic/claude-haiku-4-5','openai/gpt-4o','google/gemini-2.0-flash'])[1 + ((i / 3) % 4)::int] AS model,
                    (500 + (i * 37) % 3000)::int AS input_tokens,
                    (100 + (i * 53) % 900)::int AS output_tokens,
                    (800 + (i * 97) % 20000)::int AS llm_ms
               FROM generate_series({start}::bigint, {end - 1}::bigint) i, bench_seed r
            """, transaction);
        const string job = "bench_chunk";
        await Execute(connection, $"""
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, priority, user_id, username, action, status, input_data,
                result_data, error_message, error_data, queued_at, dispatched_at, started_at, completed_at, duration_ms, attempt,
                created_at, updated_at, current_step_id, current_step_name, progress_percent, input_tokens, output_tokens,
                total_tokens, cost_usd, tenant_id)
            SELECT id, id::text, workflow, (i % 3) - 1, user_id, user_id || '@example.com', 'generate report', status,
                   jsonb_build_object('topic', 'topic ' || (i % 1000), 'language', 'en', 'detail', 'standard'),
                   CASE WHEN status = 'completed' THEN jsonb_build_object('summary', 'Summary of topic ' || (i % 1000) || ': ' || repeat('lorem ipsum ', 8)) END,
                   CASE WHEN status = 'failed' THEN 'The provider answered 429 after 3 attempts.' WHEN status = 'cancelled' THEN 'Cancelled by the caller.' END,
                   CASE WHEN status = 'failed' THEN jsonb_build_object('type', 'rate_limited', 'category', 'provider_error', 'retryable', true) END,
                   created, created + interval '5 ms', created + interval '40 ms', created + make_interval(secs => (llm_ms + 60) / 1000.0),
                   llm_ms + 20, 1, created, created + make_interval(secs => (llm_ms + 60) / 1000.0),
                   'format', 'Format the answer', 100, input_tokens, output_tokens, input_tokens + output_tokens,
                   round(input_tokens * 0.00000015 + output_tokens * 0.0000006, 6), tenant
              FROM {job} j
            """, transaction);
        // A job's two steps side by side (ordered by job, then step), as the product writes them moments apart: the
        // status read then finds both on one heap page, not a chunk apart.
        await Execute(connection, $"""
            INSERT INTO llm_job_steps (job_id, step_key, job_attempt, step_id, display_name, step_type, status, attempts, started_at,
                finished_at, duration_ms, output, provider, model, input_tokens, output_tokens, cost_usd, is_checkpoint, created_at)
            SELECT job_id, step_key, job_attempt, step_id, display_name, step_type, status, attempts, started_at,
                   finished_at, duration_ms, output, provider, model, input_tokens, output_tokens, cost_usd, is_checkpoint, created_at
              FROM (
            SELECT i, 1 AS ordinal, id AS job_id, 'generate' AS step_key, 1 AS job_attempt, 'generate' AS step_id,
                   'Generate the answer' AS display_name, 'llm' AS step_type, 'completed' AS status, 1 AS attempts, created + interval '40 ms' AS started_at,
                   created + make_interval(secs => (llm_ms + 40) / 1000.0) AS finished_at, llm_ms AS duration_ms,
                   jsonb_build_object('text', 'Answer about topic ' || (i % 1000) || ': ' || repeat('lorem ipsum dolor ', 12)) AS output,
                   split_part(model, '/', 1) AS provider, model, input_tokens, output_tokens,
                   round(input_tokens * 0.00000015 + output_tokens * 0.0000006, 6) AS cost_usd, TRUE AS is_checkpoint,
                   created + make_interval(secs => (llm_ms + 40) / 1000.0) AS created_at
              FROM {job} j
            UNION ALL
            SELECT i, 2, id, 'format', 1, 'format', 'Format the answer', 'transform',
                   CASE WHEN status = 'completed' THEN 'completed' ELSE 'failed' END, 1,
                   created + make_interval(secs => (llm_ms + 40) / 1000.0), created + make_interval(secs => (llm_ms + 60) / 1000.0), 20,
                   jsonb_build_object('summary', 'Summary of topic ' || (i % 1000)), NULL, NULL, 0, 0, NULL, FALSE,
                   created + make_interval(secs => (llm_ms + 60) / 1000.0)
              FROM {job} j
                   ) steps
             ORDER BY i, ordinal
            """, transaction);
        await Execute(connection, $"""
            INSERT INTO llm_provider_usage (job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, duration_ms, metadata, created_at)
            SELECT id, split_part(model, '/', 1), model, input_tokens, output_tokens, input_tokens + output_tokens,
                   round(input_tokens * 0.00000015 + output_tokens * 0.0000006, 6), llm_ms,
                   jsonb_build_object('step_id', 'generate', 'workflow_name', workflow, 'priced', true, 'usage_estimated', false,
                                      'cache_hit', false, 'prompt_hash', md5('prompt-' || i),
                                      'attempts', jsonb_build_array(jsonb_build_object('model', model, 'error', NULL, 'duration_ms', llm_ms))),
                   created + make_interval(secs => (llm_ms + 40) / 1000.0)
              FROM {job} j
            """, transaction);
        await transaction.CommitAsync();
    }

    private static async Task<(long Jobs, long Upto)> ReadSeedAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT jobs, seeded_upto FROM bench_seed", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private static async Task<List<string>> ListAsync(NpgsqlConnection connection, string sql)
    {
        var values = new List<string>();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, NpgsqlTransaction? transaction = null)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync();
    }
}
