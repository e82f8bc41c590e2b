using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;
using NpgsqlTypes;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Api.Jobs;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// The lifecycle table against real Postgres: each guard matches exactly the states the table allows, every
/// forbidden transition changes nothing (and records no webhook event), and transitions racing on one job never
/// both win.
/// </summary>
[IntegrationTest]
public sealed class JobLifecycleTests(TestServers servers) : IAsyncLifetime
{
    private static readonly JobStatus[] Finished = [JobStatus.Completed, JobStatus.Failed, JobStatus.Cancelled];

    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync() =>
        _db = await LifecycleDatabase.CreateAsync(servers, nameof(JobLifecycleTests), TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync() => _db.DisposeAsync();

    [Fact]
    public async Task AJobKeepsTheTracesOfItsNewestRunStartsOnly()
    {
        // Every resume of a waiting job starts a run (with the attempt it gave back), so a job sleeping in a loop records
        // a trace per wake-up: the row keeps the newest MaxAttemptTraces of them.
        var job = await _db.InsertJobAsync(JobStatus.Processing);
        var starts = JobLifecycleStore.MaxAttemptTraces + 10;
        for (var i = 0; i < starts; i++)
        {
            await _db.Run.RecordAttemptTraceAsync(job, 1, $"trace-{i:D3}", "worker-a");
        }

        await using var read = _db.Database.CreateCommand("SELECT attempt_traces::text FROM llm_workflow_jobs WHERE id = $1");
        read.Parameters.Add(new NpgsqlParameter { Value = job });
        var traces = JsonNode.Parse((string)(await read.ExecuteScalarAsync(TestContext.Current.CancellationToken))!)!.AsArray();
        Assert.Equal(
            Enumerable.Range(starts - JobLifecycleStore.MaxAttemptTraces, JobLifecycleStore.MaxAttemptTraces).Select(i => $"trace-{i:D3}"),
            traces.Select(t => (string)t!["trace_id"]!));
    }

    [Fact]
    public async Task EachGuardMatchesExactlyTheStatesTheTableAllows()
    {
        foreach (var rule in JobLifecycle.Table)
        {
            foreach (var status in Enum.GetValues<JobStatus>())
            {
                await using var command = _db.Database.CreateCommand(
                    $"SELECT count(*) FROM (VALUES ($1::text)) AS job(status) WHERE {JobLifecycle.Guard(rule.Transition)}");
                command.Parameters.Add(new NpgsqlParameter { Value = status.ToWire() });
                var matches = (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))! == 1;
                Assert.True(matches == JobLifecycle.IsAllowed(rule.Transition, status), $"{rule.Transition} from {status}: guard says {matches}");
            }
        }
    }

    [Fact]
    public async Task EachKeyedGuardMatchesWhatItsGuardMatches()
    {
        foreach (var rule in JobLifecycle.Table)
        {
            foreach (var status in Enum.GetValues<JobStatus>())
            {
                await using var command = _db.Database.CreateCommand(
                    $"SELECT count(*) FROM (VALUES ($1::text)) AS j(status) WHERE {JobLifecycle.KeyedGuard(rule.Transition, "j.")}");
                command.Parameters.Add(new NpgsqlParameter { Value = status.ToWire() });
                var matches = (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))! == 1;
                Assert.True(matches == JobLifecycle.IsAllowed(rule.Transition, status), $"{rule.Transition} from {status}: keyed guard says {matches}");
            }
        }
    }

    [Fact]
    public async Task AJobFoundByIdIsReadThroughThePrimaryKeyWhateverTheStatisticsSay()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await _db.Database.OpenConnectionAsync(ct);
        // Rolled back at the end, which drops the copy below before the connection goes back to the pool.
        await using var transaction = await connection.BeginTransactionAsync(ct);

        // Statistics taken while every job was finished, then 500 jobs running: to the planner, a status index looks
        // like the cheapest way to one running job. A temporary copy of the table (never auto-analyzed, and found
        // before the real one) keeps those statistics still.
        await using (var setup = new NpgsqlCommand("""
            CREATE TEMP TABLE llm_workflow_jobs (LIKE public.llm_workflow_jobs INCLUDING ALL) ON COMMIT DROP;
            INSERT INTO llm_workflow_jobs (celery_task_id, workflow_name, status, input_data, tenant_id)
            SELECT gen_random_uuid()::text, 'planned', 'completed', '{}', 'plans' FROM generate_series(1, 500);
            ANALYZE llm_workflow_jobs;
            UPDATE llm_workflow_jobs SET status = 'processing', lease_owner = 'w1', lease_expires_at = now() + interval '1 minute', attempt = 1;
            """, connection, transaction))
        {
            await setup.ExecuteNonQueryAsync(ct);
        }

        await using var idsCommand = new NpgsqlCommand("SELECT array_agg(id) FROM llm_workflow_jobs", connection, transaction);
        var ids = (Guid[])(await idsCommand.ExecuteScalarAsync(ct))!;
        await using var keyCommand = new NpgsqlCommand(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'llm_workflow_jobs'::regclass AND indisprimary", connection, transaction);
        var primaryKey = (string)(await keyCommand.ExecuteScalarAsync(ct))!;

        async Task<IReadOnlyList<string>> IndexesAsync(string sql, params object[] values)
        {
            await using var explain = new NpgsqlCommand("EXPLAIN (FORMAT JSON) " + sql, connection, transaction);
            foreach (var value in values)
            {
                explain.Parameters.Add(value as NpgsqlParameter ?? new NpgsqlParameter { Value = value });
            }

            var plan = (string)(await explain.ExecuteScalarAsync(ct))!;
            return System.Text.RegularExpressions.Regex.Matches(plan, "\"Index Name\": \"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        }

        var point = "SELECT id FROM llm_workflow_jobs WHERE id = $1 AND {0}";
        // The plain guard shows the hazard: the planner walks the running jobs through a status index.
        Assert.DoesNotContain(primaryKey, await IndexesAsync(string.Format(point, JobLifecycle.Guard(JobTransition.Checkpoint)), ids[0]));

        Assert.Equal([primaryKey], await IndexesAsync(string.Format(point, JobLifecycle.KeyedGuard(JobTransition.Checkpoint)), ids[0]));
        Assert.Equal([primaryKey], await IndexesAsync($"""
            SELECT j.id FROM unnest($1::uuid[]) AS r(id) CROSS JOIN LATERAL (
                SELECT j.id FROM llm_workflow_jobs j
                 WHERE j.id = r.id AND j.lease_owner = 'w1' AND {JobLifecycle.KeyedGuard(JobTransition.Finish, "j.")} FOR UPDATE) j
            """, ids[..86]));
        var claim = await IndexesAsync(JobLifecycleStore.ClaimSql, ids[..86], "w2", TimeSpan.FromMinutes(1),
            new NpgsqlParameter { Value = Enumerable.Repeat("4bf92f3577b34da6a3ce929d0e0e4736", 86).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        Assert.Contains(primaryKey, claim);
        Assert.All(claim, index => Assert.Equal(primaryKey, index));

        // The finish, which was the costly one: 86 running jobs finished in one statement.
        static NpgsqlParameter Json(int count) => new() { Value = Enumerable.Repeat("{}", count).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb };
        var finish = await IndexesAsync(JobLifecycleStore.FinishSql(262_144), ids[..86], Enumerable.Repeat("w1", 86).ToArray(),
            Enumerable.Repeat("completed", 86).ToArray(), Json(86), new string?[86], Json(86), new int[86], new int[86], new decimal[86],
            Enumerable.Repeat(1, 86).ToArray(), Enumerable.Range(0, 86).ToArray());
        Assert.Contains(primaryKey, finish);
        Assert.All(finish, index => Assert.Equal(primaryKey, index));
    }

    [Fact]
    public void EveryTransitionHasOneRuleAndFinishedJobsOnlyLeaveByACallersRetryOrRerun()
    {
        Assert.Equal(Enum.GetValues<JobTransition>().Order(), JobLifecycle.Table.Select(r => r.Transition).Order());
        var leavingFinished = JobLifecycle.Table.Where(r => r.From.Any(Finished.Contains)).Select(r => r.Transition);
        Assert.Equal(new[] { JobTransition.Retry, JobTransition.Rerun }, leavingFinished);
    }

    [Fact]
    public async Task TheStopCheckNamesTheJobsWithAnAcceptedCancelOrNoRow()
    {
        var cancelled = await _db.InsertJobAsync(JobStatus.Processing);
        var kept = await _db.InsertJobAsync(JobStatus.Processing);
        var deleted = await _db.InsertJobAsync(JobStatus.Processing);
        Assert.Empty(await _db.Store.StopRequestedAsync([cancelled, kept, deleted], CancellationToken.None));

        Assert.Equal(CancelOutcome.CancelRequested, await _db.CommandsAsync(c => c.CancelAsync(cancelled, CancellationToken.None)));
        await using (var delete = _db.Database.CreateCommand("DELETE FROM llm_workflow_jobs WHERE id = $1"))
        {
            delete.Parameters.Add(new NpgsqlParameter { Value = deleted });
            await delete.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        Assert.Equal(new[] { cancelled, deleted }.Order(), (await _db.Store.StopRequestedAsync([cancelled, kept, deleted], CancellationToken.None)).Order());
    }

    [Theory]
    [InlineData(JobStatus.Completed)]
    [InlineData(JobStatus.Failed)]
    public async Task AFinishAfterAnAcceptedCancelStoresCancelled(JobStatus outcome)
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing);
        Assert.Equal(CancelOutcome.CancelRequested, await _db.CommandsAsync(c => c.CancelAsync(id, CancellationToken.None)));

        // The run did not stop in time and finished: the cancel that was answered 202 still wins.
        Assert.True(await _db.Run.FinishAsync(id, "worker-a", Outcome(outcome), CancellationToken.None));

        Assert.Equal(JobStatus.Cancelled, await _db.StatusAsync(id));
        Assert.Equal([("workflow.cancelled", "cancelled")], await _db.TerminalEventsAsync(id));
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND result_data IS NOT NULL", id));
    }

    [Theory]
    [InlineData(JobStatus.Completed)]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.Cancelled)]
    public async Task CancellingAFinishedJobChangesNothing(JobStatus status)
    {
        var id = await _db.InsertJobAsync(status);

        Assert.Equal(CancelOutcome.AlreadyFinished, await _db.CommandsAsync(c => c.CancelAsync(id, CancellationToken.None)));

        Assert.Equal(status, await _db.StatusAsync(id));
        Assert.Empty(await _db.TerminalEventsAsync(id));
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND cancel_requested_at IS NOT NULL", id));
    }

    [Theory]
    [InlineData(JobStatus.Cancelled, JobStatus.Completed)]
    [InlineData(JobStatus.Cancelled, JobStatus.Failed)]
    [InlineData(JobStatus.Completed, JobStatus.Failed)]
    [InlineData(JobStatus.Failed, JobStatus.Completed)]
    [InlineData(JobStatus.Queued, JobStatus.Completed)]
    [InlineData(JobStatus.Pending, JobStatus.Cancelled)]
    public async Task FinishingAJobThatIsNotRunningChangesNothing(JobStatus current, JobStatus outcome)
    {
        var id = await _db.InsertJobAsync(current);

        Assert.False(await _db.Run.FinishAsync(id, "worker-a", Outcome(outcome), CancellationToken.None));

        Assert.Equal(current, await _db.StatusAsync(id));
        Assert.Empty(await _db.TerminalEventsAsync(id));
    }

    [Fact]
    public async Task OnlyTheLeaseOwnerFinishesARunningJob()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing, leaseOwner: "worker-a");

        Assert.False(await _db.Run.FinishAsync(id, "worker-b", Outcome(JobStatus.Completed), CancellationToken.None));
        Assert.Equal(JobStatus.Processing, await _db.StatusAsync(id));
        Assert.True(await _db.Run.FinishAsync(id, "worker-a", Outcome(JobStatus.Completed), CancellationToken.None));
        Assert.Equal(JobStatus.Completed, await _db.StatusAsync(id));
    }

    [Theory]
    [InlineData(JobStatus.Processing)]
    [InlineData(JobStatus.Queued)]
    [InlineData(JobStatus.Pending)]
    [InlineData(JobStatus.Completed)]
    public async Task RetryingAJobThatDidNotFailOrGetCancelledChangesNothing(JobStatus status)
    {
        var id = await _db.InsertJobAsync(status);

        Assert.Equal(RetryOutcome.NotRetryable, await _db.CommandsAsync(c => c.RetryAsync(id, null, CancellationToken.None)));

        Assert.Equal(status, await _db.StatusAsync(id));
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND retry_count > 0", id));
    }

    [Theory]
    [InlineData(JobStatus.Completed)]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.Cancelled)]
    [InlineData(JobStatus.Pending)]
    public async Task ClaimingAJobThatIsNotQueuedOrLapsedFindsNothing(JobStatus status)
    {
        var id = await _db.InsertJobAsync(status, leaseLapsed: true);

        Assert.Empty(await _db.Store.ClaimAsync([id], "worker-b", TimeSpan.FromSeconds(30), CancellationToken.None));
        Assert.Equal(status, await _db.StatusAsync(id));
    }

    [Fact]
    public async Task ARunningJobWithALiveLeaseIsNotReclaimed()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing, leaseOwner: "worker-a");

        Assert.Empty(await _db.Store.ClaimAsync([id], "worker-b", TimeSpan.FromSeconds(30), CancellationToken.None));
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND lease_owner = 'worker-b'", id));
    }

    [Theory]
    [InlineData(JobStatus.Completed)]
    [InlineData(JobStatus.Cancelled)]
    [InlineData(JobStatus.Queued)]
    public async Task RenewReleaseAndCheckpointOfAJobThatIsNotRunningChangeNothing(JobStatus status)
    {
        var id = await _db.InsertJobAsync(status);

        Assert.DoesNotContain(id, await _db.Store.RenewLeasesAsync([id], "worker-a", TimeSpan.FromSeconds(30), CancellationToken.None));
        await _db.Run.ReleaseAsync(id, "worker-a", CancellationToken.None);
        await _db.Run.WriteStepAsync(id, [JobLifecycleStore.StepStatement(id, 1, Step(), new JsonObject { ["x"] = 1 }, isCheckpoint: true)], CancellationToken.None);
        await _db.Run.UpdateProgressAsync(id, "late", "Late step", 50, CancellationToken.None);

        Assert.Equal(status, await _db.StatusAsync(id));
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1", id));
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND current_step_id IS NOT NULL", id));
    }

    [Fact]
    public async Task TheClaimRecordsEachRunsTraceAndKeepsOnlyTheNewestRunStarts()
    {
        const string first = "4bf92f3577b34da6a3ce929d0e0e4736", second = "0af7651916cd43dd8448eb211c80319c";
        var id = await _db.InsertJobAsync(JobStatus.Queued);
        Assert.Single(await _db.Store.ClaimAsync([id], "worker-a", TimeSpan.FromSeconds(30), CancellationToken.None, new Dictionary<Guid, string> { [id] = first }));
        Assert.Equal(1, await _db.CountAsync(
            "SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND attempt_traces @> '[{\"trace_id\": \"4bf92f3577b34da6a3ce929d0e0e4736\", \"worker_id\": \"worker-a\"}]' AND jsonb_array_length(attempt_traces) = 1 AND (attempt_traces -> 0 ->> 'attempt')::int = attempt",
            id));

        // A reclaim (the first run's worker died) is the next run start; a claim without a trace records none.
        await _db.CountAsync("WITH u AS (UPDATE llm_workflow_jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", id);
        Assert.Single(await _db.Store.ClaimAsync([id], "worker-b", TimeSpan.FromSeconds(30), CancellationToken.None, new Dictionary<Guid, string> { [id] = second }));
        Assert.Equal(1, await _db.CountAsync(
            "SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND attempt = 2 AND attempt_traces -> 1 ->> 'trace_id' = '0af7651916cd43dd8448eb211c80319c' AND (attempt_traces -> 1 ->> 'attempt')::int = 2",
            id));

        // Past MaxAttemptTraces run starts the oldest goes.
        await _db.CountAsync(
            $"WITH u AS (UPDATE llm_workflow_jobs SET lease_expires_at = now() - interval '1 second', attempt_traces = (SELECT jsonb_agg(jsonb_build_object('attempt', n)) FROM generate_series(1, {JobLifecycleStore.MaxAttemptTraces}) n) WHERE id = $1 RETURNING 1) SELECT count(*) FROM u",
            id);
        Assert.Single(await _db.Store.ClaimAsync([id], "worker-c", TimeSpan.FromSeconds(30), CancellationToken.None, new Dictionary<Guid, string> { [id] = first }));
        Assert.Equal(1, await _db.CountAsync(
            $"SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND jsonb_array_length(attempt_traces) = {JobLifecycleStore.MaxAttemptTraces} AND (attempt_traces -> 0 ->> 'attempt')::int = 2 AND attempt_traces -> -1 ->> 'worker_id' = 'worker-c'",
            id));
        await _db.CountAsync("WITH u AS (UPDATE llm_workflow_jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", id);
        Assert.Single(await _db.Store.ClaimAsync([id], "worker-d", TimeSpan.FromSeconds(30), CancellationToken.None));
        Assert.Equal(1, await _db.CountAsync(
            "SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND attempt_traces -> -1 ->> 'worker_id' = 'worker-c'", id));
    }

    [Fact]
    public async Task AnEarlierAttemptCannotWriteCheckpointsAfterTheJobWasReclaimed()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing, leaseLapsed: true);
        Assert.Single(await _db.Store.ClaimAsync([id], "worker-b", TimeSpan.FromSeconds(30), CancellationToken.None));

        await _db.Run.WriteStepAsync(id, [JobLifecycleStore.StepStatement(id, 1, Step(), new JsonObject { ["stale"] = true }, isCheckpoint: true)], CancellationToken.None);
        await _db.Run.WriteStepAsync(id, [JobLifecycleStore.StepStatement(id, 2, Step(), new JsonObject { ["current"] = true }, isCheckpoint: true)], CancellationToken.None);

        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND job_attempt = 1", id));
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND job_attempt = 2", id));
    }

    [Fact]
    public async Task StaleCleanupNeverTouchesFinishedOrLiveJobs()
    {
        var old = TimeSpan.FromDays(10);
        var finished = await _db.InsertJobAsync(JobStatus.Completed, age: old);
        var live = await _db.InsertJobAsync(JobStatus.Processing, age: old);
        var stuck = await _db.InsertJobAsync(JobStatus.Processing, leaseLapsed: true, age: old);
        var waiting = await _db.InsertJobAsync(JobStatus.Queued, age: old);

        await _db.MaintenanceAsync(async m => (await m.CleanupStaleAsync(TimeSpan.FromHours(1), TimeSpan.FromHours(72), CancellationToken.None)).Total);

        Assert.Equal(JobStatus.Completed, await _db.StatusAsync(finished));
        Assert.Equal(JobStatus.Processing, await _db.StatusAsync(live));
        Assert.Equal(JobStatus.Failed, await _db.StatusAsync(stuck));
        Assert.Equal(JobStatus.Failed, await _db.StatusAsync(waiting));
        Assert.Empty(await _db.TerminalEventsAsync(finished));
        Assert.Equal(new[] { ("workflow.failed", "failed") }, await _db.TerminalEventsAsync(stuck));
        Assert.Equal(new[] { ("workflow.failed", "failed") }, await _db.TerminalEventsAsync(waiting));
    }

    [Fact]
    public async Task StaleCleanupMeasuresAQueuedJobFromWhenItWasLastQueuedNotFromItsCreation()
    {
        var old = TimeSpan.FromDays(10);
        var retried = await _db.InsertJobAsync(JobStatus.Queued, age: old);
        await _db.CountAsync("WITH u AS (UPDATE llm_workflow_jobs SET queued_at = now() - interval '1 hour' WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", retried);
        var slept = await _db.InsertJobAsync(JobStatus.Waiting, age: old);
        await _db.CountAsync("""WITH u AS (UPDATE llm_workflow_jobs SET run_at = now() - interval '1 second', wait_data = '{"kind": "sleep", "step_id": "nap", "step_key": "nap"}' WHERE id = $1 RETURNING 1) SELECT count(*) FROM u""", slept);
        var signalled = await _db.InsertJobAsync(JobStatus.Waiting, age: old);
        await _db.CountAsync("""WITH u AS (UPDATE llm_workflow_jobs SET run_at = now() + interval '1 day', wait_data = '{"kind": "event", "event": "go", "step_id": "hold", "step_key": "hold"}' WHERE id = $1 RETURNING 1) SELECT count(*) FROM u""", signalled);
        var forgotten = await _db.InsertJobAsync(JobStatus.Queued, age: old);

        // Woken after a ten-day sleep and resumed by a signal after ten days of waiting: queued again just now.
        Assert.Contains(await _db.Store.WakeDueAsync(10, CancellationToken.None), w => w.Dispatch.JobId == slept);
        Assert.NotNull((await _db.Store.AddSignalAsync(signalled, "go", "{}", null, CancellationToken.None)).Resumed);
        await _db.MaintenanceAsync(async m => (await m.CleanupStaleAsync(TimeSpan.FromHours(1), TimeSpan.FromHours(72), CancellationToken.None)).Total);

        Assert.Equal(JobStatus.Queued, await _db.StatusAsync(retried));
        Assert.Equal(JobStatus.Queued, await _db.StatusAsync(slept));
        Assert.Equal(JobStatus.Queued, await _db.StatusAsync(signalled));
        Assert.Equal(JobStatus.Failed, await _db.StatusAsync(forgotten));
    }

    [Fact]
    public async Task CancelRacingClaimOnAQueuedJobHasOneWinner()
    {
        var ids = new List<Guid>();
        for (var i = 0; i < 40; i++)
        {
            ids.Add(await _db.InsertJobAsync(JobStatus.Queued));
        }

        // Ten jobs' races at a time: twenty statements at once fit the data source's pool (DefaultMaxPoolSize), so no
        // race waits for a connection, which is not what this test is about.
        var outcomes = new List<(Guid Id, CancelOutcome Cancel, bool Claimed)>();
        foreach (var chunk in ids.Chunk(10))
        {
            outcomes.AddRange(await Task.WhenAll(chunk.Select(async id =>
            {
                var cancel = Task.Run(() => _db.CommandsAsync(c => c.CancelAsync(id, CancellationToken.None)));
                var claim = Task.Run(() => _db.Store.ClaimAsync([id], "worker-a", TimeSpan.FromSeconds(30), CancellationToken.None));
                return (Id: id, Cancel: await cancel, Claimed: (await claim).ContainsKey(id));
            })));
        }

        foreach (var (id, cancel, claimed) in outcomes)
        {
            var status = await _db.StatusAsync(id);
            if (claimed)
            {
                // The claim won: the cancel found a running job and only asked it to stop.
                Assert.Equal(CancelOutcome.CancelRequested, cancel);
                Assert.Equal(JobStatus.Processing, status);
                Assert.Empty(await _db.TerminalEventsAsync(id));
            }
            else
            {
                Assert.Equal(CancelOutcome.Cancelled, cancel);
                Assert.Equal(JobStatus.Cancelled, status);
                Assert.Equal(new[] { ("workflow.cancelled", "cancelled") }, await _db.TerminalEventsAsync(id));
            }
        }
    }

    [Fact]
    public async Task FinishRacingStaleCleanupOnALapsedJobHasOneWinnerAndOneEvent()
    {
        var ids = new List<Guid>();
        for (var i = 0; i < 40; i++)
        {
            ids.Add(await _db.InsertJobAsync(JobStatus.Processing, leaseLapsed: true, age: TimeSpan.FromDays(1)));
        }

        var finishes = ids.Select(id => Task.Run(() => _db.Run.FinishAsync(id, "worker-a", Outcome(JobStatus.Completed), CancellationToken.None))).ToArray();
        var cleanup = Task.Run(() => _db.MaintenanceAsync(async m => (await m.CleanupStaleAsync(TimeSpan.FromHours(1), TimeSpan.FromHours(72), CancellationToken.None)).Total));
        var finished = await Task.WhenAll(finishes);
        var cleaned = await cleanup;

        // Cleanup skips rows a finishing worker holds, so a second pass catches any it skipped.
        cleaned += await _db.MaintenanceAsync(async m => (await m.CleanupStaleAsync(TimeSpan.FromHours(1), TimeSpan.FromHours(72), CancellationToken.None)).Total);
        Assert.Equal(ids.Count, finished.Count(f => f) + cleaned);
        for (var i = 0; i < ids.Count; i++)
        {
            var expected = finished[i] ? JobStatus.Completed : JobStatus.Failed;
            Assert.Equal(expected, await _db.StatusAsync(ids[i]));
            var terminal = Assert.Single(await _db.TerminalEventsAsync(ids[i]));
            Assert.Equal(expected.ToWire(), terminal.Status);
        }
    }

    [Fact]
    public async Task TwoOutcomesRacingForOneJobHaveOneWinner()
    {
        for (var i = 0; i < 20; i++)
        {
            var id = await _db.InsertJobAsync(JobStatus.Processing);
            var completed = Task.Run(() => _db.Run.FinishAsync(id, "worker-a", Outcome(JobStatus.Completed), CancellationToken.None));
            var failed = Task.Run(() => _db.Run.FinishAsync(id, "worker-a", Outcome(JobStatus.Failed), CancellationToken.None));
            var results = await Task.WhenAll(completed, failed);

            Assert.Equal(1, results.Count(r => r));
            var winner = results[0] ? JobStatus.Completed : JobStatus.Failed;
            Assert.Equal(winner, await _db.StatusAsync(id));
            Assert.Equal(winner.ToWire(), Assert.Single(await _db.TerminalEventsAsync(id)).Status);
        }
    }

    [Fact]
    public async Task RetriesRacingOnOneFailedJobRequeueItOnce()
    {
        for (var i = 0; i < 20; i++)
        {
            var id = await _db.InsertJobAsync(JobStatus.Failed);
            var results = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ =>
                Task.Run(() => _db.CommandsAsync(c => c.RetryAsync(id, null, CancellationToken.None)))));

            Assert.Equal(1, results.Count(r => r == RetryOutcome.Requeued));
            Assert.Equal(1, await _db.CountAsync("SELECT retry_count::bigint FROM llm_workflow_jobs WHERE id = $1", id));
        }
    }

    [Fact]
    public async Task ClaimsRacingOnOneQueuedJobGiveItToOneWorker()
    {
        for (var i = 0; i < 20; i++)
        {
            var id = await _db.InsertJobAsync(JobStatus.Queued);
            var claims = await Task.WhenAll(new[] { "worker-a", "worker-b", "worker-c" }.Select(w =>
                Task.Run(() => _db.Store.ClaimAsync([id], w, TimeSpan.FromSeconds(30), CancellationToken.None))));

            Assert.Equal(1, claims.Count(c => c.ContainsKey(id)));
            Assert.Equal(1, await _db.CountAsync("SELECT attempt::bigint FROM llm_workflow_jobs WHERE id = $1", id));
        }
    }

    private static JobOutcome Outcome(JobStatus status) => status == JobStatus.Completed
        ? new JobOutcome(status, new JsonObject { ["output"] = new JsonObject { ["ok"] = true } }, null, 3, 4, 0.01m)
        : new JobOutcome(status, null, new WorkflowError { Type = "TestError", Category = ErrorCategory.SystemError, Message = "boom" }, 0, 0, 0m);

    private static StepRecord Step() => new()
    {
        StepKey = "first",
        StepId = "first",
        DisplayName = "First",
        Type = "transform",
        Status = StepStatus.Completed,
        Attempts = 1,
        StartedAt = DateTimeOffset.UtcNow,
        FinishedAt = DateTimeOffset.UtcNow,
    };
}
