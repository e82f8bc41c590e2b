using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Storage.Jobs;
using Npgsql;
using LlmWorkflow.Worker.Jobs;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// The worker's writes of many jobs go to PostgreSQL as one statement per kind (finish, step row, usage row, lease
/// renewal): each row keeps its own guard, so in one statement only the rows whose guard fails lose, each caller
/// learns its own answer, and the webhook outbox holds exactly one event per finished job and none for a loser. Statements handed
/// over as one write always share a batch, so these tests put several jobs' rows into one statement for certain.
/// </summary>
[IntegrationTest]
public sealed class MultiRowWriteTests(ClassLifecycleDatabase database) : IClassFixture<ClassLifecycleDatabase>
{
    // One database for the class: every test inserts its own jobs and reads only their rows.
    private readonly LifecycleDatabase _db = database.Database;


    private PostgresWriteBatcher Writes => _db.Get<PostgresWriteBatcher>();

    [Fact]
    public async Task FinishesOfManyJobsInOneStatementLoseOnlyWhereTheirGuardFails()
    {
        var owned = await _db.InsertJobAsync(JobStatus.Processing);
        var failing = await _db.InsertJobAsync(JobStatus.Processing);
        var stopping = await _db.InsertJobAsync(JobStatus.Processing);
        var otherOwner = await _db.InsertJobAsync(JobStatus.Processing, leaseOwner: "worker-b");
        var cancelled = await _db.InsertJobAsync(JobStatus.Cancelled);
        var completed = await _db.InsertJobAsync(JobStatus.Completed);
        var newerAttempt = await _db.InsertJobAsync(JobStatus.Processing);
        var missing = Guid.CreateVersion7();
        await _db.CountAsync("WITH u AS (UPDATE llm_workflow_jobs SET cancel_requested_at = now() WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", stopping);

        var answers = await Writes.ExecuteAsync(
        [
            _db.Store.FinishStatement(owned, "worker-a", Outcome(JobStatus.Completed), attempt: 1),
            _db.Store.FinishStatement(failing, "worker-a", Outcome(JobStatus.Failed), attempt: 1),
            _db.Store.FinishStatement(stopping, "worker-a", Outcome(JobStatus.Cancelled), attempt: 1),
            _db.Store.FinishStatement(otherOwner, "worker-a", Outcome(JobStatus.Completed), attempt: 1),
            _db.Store.FinishStatement(cancelled, "worker-a", Outcome(JobStatus.Completed), attempt: null),
            _db.Store.FinishStatement(completed, "worker-a", Outcome(JobStatus.Failed), attempt: null),
            _db.Store.FinishStatement(newerAttempt, "worker-a", Outcome(JobStatus.Completed), attempt: 2),
            _db.Store.FinishStatement(missing, "worker-a", Outcome(JobStatus.Completed), attempt: null),
        ], CancellationToken.None);

        Assert.Equal(new[] { 1, 1, 1, 0, 0, 0, 0, 0 }, answers);
        Assert.Equal(JobStatus.Completed, await _db.StatusAsync(owned));
        Assert.Equal(JobStatus.Failed, await _db.StatusAsync(failing));
        Assert.Equal(JobStatus.Cancelled, await _db.StatusAsync(stopping));
        Assert.Equal(JobStatus.Processing, await _db.StatusAsync(otherOwner));
        Assert.Equal(JobStatus.Cancelled, await _db.StatusAsync(cancelled));
        Assert.Equal(JobStatus.Completed, await _db.StatusAsync(completed));
        Assert.Equal(JobStatus.Processing, await _db.StatusAsync(newerAttempt));

        Assert.Equal(new[] { ("workflow.completed", "completed") }, await _db.TerminalEventsAsync(owned));
        Assert.Equal(new[] { ("workflow.failed", "failed") }, await _db.TerminalEventsAsync(failing));
        Assert.Equal(new[] { ("workflow.cancelled", "cancelled") }, await _db.TerminalEventsAsync(stopping));
        foreach (var loser in new[] { otherOwner, cancelled, completed, newerAttempt, missing })
        {
            Assert.Empty(await _db.TerminalEventsAsync(loser));
        }

        // Each winner got its own outcome's values, not a neighbour's.
        Assert.Equal(1, await _db.CountAsync(
            "SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND result_data -> 'output' ->> 'ok' = 'true' AND total_tokens = 7 AND cost_usd = 0.01 AND progress_percent = 100 AND lease_owner IS NULL",
            owned));
        Assert.Equal(1, await _db.CountAsync(
            "SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND error_message = 'boom' AND error_data ->> 'type' = 'TestError' AND result_data IS NULL",
            failing));
        Assert.Equal(1, await _db.CountAsync(
            "SELECT count(*) FROM llm_webhook_attempts WHERE job_id = $1 AND payload -> 'terminal_snapshot' ->> 'total_tokens' = '7'", owned));
    }

    [Fact]
    public async Task AJobsWritesInOneBatchCommitInTheOrderGivenEvenWhenItsFinishJoinsAnEarlierJobsStatement()
    {
        // Job `first`'s finish opens the batch's finish statement; `traced` hands over its attempt's trace (a plain
        // statement, guarded on the running attempt) and then its finish. Its finish must not join the statement that
        // runs before its trace, or the trace's guard finds the job finished and the trace is lost.
        var first = await _db.InsertJobAsync(JobStatus.Processing);
        var traced = await _db.InsertJobAsync(JobStatus.Processing);
        var batcher = new PostgresWriteBatcher(_db.Database, Microsoft.Extensions.Logging.Abstractions.NullLogger<PostgresWriteBatcher>.Instance);
        var firstFinish = batcher.ExecuteAsync(first, [_db.Store.FinishStatement(first, "worker-a", Outcome(JobStatus.Completed), attempt: 1)], CancellationToken.None);
        var trace = batcher.ExecuteAsync(traced, [JobLifecycleStore.AttemptTraceStatement(traced, 1, "0af7651916cd43dd8448eb211c80319c", "worker-a")], CancellationToken.None);
        var tracedFinish = batcher.ExecuteAsync(traced, [_db.Store.FinishStatement(traced, "worker-a", Outcome(JobStatus.Completed), attempt: 1)], CancellationToken.None);

        // Started after the three writes are queued, the writer takes them as one batch.
        await batcher.StartAsync(CancellationToken.None);
        try
        {
            Assert.Equal(new[] { 1 }, await firstFinish);
            Assert.Equal(new[] { 1 }, await trace);
            Assert.Equal(new[] { 1 }, await tracedFinish);
            Assert.Equal(1, await _db.CountAsync(
                "SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND status = 'completed' AND attempt_traces -> 0 ->> 'trace_id' = '0af7651916cd43dd8448eb211c80319c'",
                traced));
        }
        finally
        {
            await batcher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task ConcurrentFinishersEachLearnWhetherTheirOwnJobWasFinished()
    {
        var mine = new List<Guid>();
        var taken = new List<Guid>();
        for (var i = 0; i < 20; i++)
        {
            mine.Add(await _db.InsertJobAsync(JobStatus.Processing));
            taken.Add(await _db.InsertJobAsync(JobStatus.Processing, leaseOwner: "worker-b"));
        }

        var finishes = mine.Concat(taken)
            .Select(id => (id, task: Task.Run(() => _db.Run.FinishAsync(id, "worker-a", Outcome(JobStatus.Completed), CancellationToken.None, attempt: 1))))
            .ToArray();
        await Task.WhenAll(finishes.Select(f => f.task));

        foreach (var (id, task) in finishes)
        {
            var expected = mine.Contains(id);
            Assert.Equal(expected, await task);
            Assert.Equal(expected ? JobStatus.Completed : JobStatus.Processing, await _db.StatusAsync(id));
            Assert.Equal(expected ? 1 : 0, (await _db.TerminalEventsAsync(id)).Count);
        }
    }

    [Fact]
    public async Task TwoFinishesOfOneJobInOneWriteHaveOneWinnerAndOneEvent()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing);

        var answers = await Writes.ExecuteAsync(
        [
            _db.Store.FinishStatement(id, "worker-a", Outcome(JobStatus.Failed), attempt: 1),
            _db.Store.FinishStatement(id, "worker-a", Outcome(JobStatus.Completed), attempt: 1),
        ], CancellationToken.None);

        Assert.Equal(new[] { 1, 0 }, answers);
        Assert.Equal(JobStatus.Failed, await _db.StatusAsync(id));
        Assert.Equal(new[] { ("workflow.failed", "failed") }, await _db.TerminalEventsAsync(id));
    }

    [Fact]
    public async Task StepRowsOfManyJobsInOneStatementAreWrittenOnlyForTheAttemptThatRunsTheJob()
    {
        var running = await _db.InsertJobAsync(JobStatus.Processing);
        var alsoRunning = await _db.InsertJobAsync(JobStatus.Processing);
        var finished = await _db.InsertJobAsync(JobStatus.Completed);
        var reclaimed = await _db.InsertJobAsync(JobStatus.Processing);

        var answers = await Writes.ExecuteAsync(
        [
            JobLifecycleStore.StepStatement(running, 1, Step("a"), new JsonObject { ["n"] = 1 }, isCheckpoint: true),
            JobLifecycleStore.StepStatement(alsoRunning, 1, Step("a"), new JsonObject { ["n"] = 2 }, isCheckpoint: true),
            JobLifecycleStore.StepStatement(finished, 1, Step("a"), new JsonObject { ["n"] = 3 }, isCheckpoint: true),
            JobLifecycleStore.StepStatement(reclaimed, 2, Step("a"), new JsonObject { ["n"] = 4 }, isCheckpoint: true),
            JobLifecycleStore.StepStatement(running, 1, Step("b"), null, isCheckpoint: false),
            // The same step row twice in one write: the second updates the first (two statements, not one).
            JobLifecycleStore.StepStatement(running, 1, Step("c"), new JsonObject { ["v"] = "first" }, isCheckpoint: true),
            JobLifecycleStore.StepStatement(running, 1, Step("c"), new JsonObject { ["v"] = "second" }, isCheckpoint: true),
        ], CancellationToken.None);

        Assert.Equal(new[] { 1, 1, 0, 0, 1, 1, 1 }, answers);
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND step_key = 'a' AND is_checkpoint AND output ->> 'n' = '1'", running));
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND step_key = 'a' AND output ->> 'n' = '2'", alsoRunning));
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND step_key = 'b' AND NOT is_checkpoint AND display_name = 'Step b'", running));
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND step_key = 'c' AND output ->> 'v' = 'second'", running));
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1", finished));
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1", reclaimed));
    }

    [Fact]
    public async Task AWritesStatementsRunInTheirOrderWhenAnotherWriteOpenedTheLaterKindFirst()
    {
        var first = await _db.InsertJobAsync(JobStatus.Processing);
        var second = await _db.InsertJobAsync(JobStatus.Processing);

        // One batch: the finish kind opens with the first job, then the second job's step row and its finish. Joining
        // the open finish command would finish the second job before its step row, whose guard then refuses it.
        var answers = await Writes.ExecuteAsync(
        [
            _db.Store.FinishStatement(first, "worker-a", Outcome(JobStatus.Completed), attempt: 1),
            JobLifecycleStore.StepStatement(second, 1, Step("a"), new JsonObject { ["n"] = 1 }, isCheckpoint: true),
            _db.Store.FinishStatement(second, "worker-a", Outcome(JobStatus.Completed), attempt: 1),
        ], CancellationToken.None);

        Assert.Equal(new[] { 1, 1, 1 }, answers);
        Assert.Equal(JobStatus.Completed, await _db.StatusAsync(second));
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND step_key = 'a' AND output ->> 'n' = '1'", second));
        // Still one transaction: the step row and both finishes share it.
        Assert.Equal(1, await _db.CountAsync(
            $"SELECT count(DISTINCT x) FROM (SELECT xmin::text AS x FROM llm_workflow_jobs WHERE id IN ($1, '{first}') UNION ALL SELECT xmin::text FROM llm_job_steps WHERE job_id = $1) t",
            second));
    }

    [Fact]
    public async Task UsageRowsOfManyCallsInOneStatementAreWrittenOnceForJobsThatExist()
    {
        var job = await _db.InsertJobAsync(JobStatus.Processing);
        var finished = await _db.InsertJobAsync(JobStatus.Completed);
        var deleted = Guid.CreateVersion7();
        var repeated = Guid.CreateVersion7();

        var answers = await Writes.ExecuteAsync(
        [
            JobLifecycleStore.UsageStatement(Guid.CreateVersion7(), job, "ask", "wf", Call(10)),
            JobLifecycleStore.UsageStatement(Guid.CreateVersion7(), finished, "ask", "wf", Call(20)),
            JobLifecycleStore.UsageStatement(Guid.CreateVersion7(), deleted, "ask", "wf", Call(30)),
            JobLifecycleStore.UsageStatement(repeated, job, "ask", "wf", Call(40)),
            JobLifecycleStore.UsageStatement(repeated, job, "ask", "wf", Call(40)),
        ], CancellationToken.None);

        Assert.Equal(new[] { 1, 1, 0, 1, 0 }, answers);
        Assert.Equal(2, await _db.CountAsync("SELECT count(*) FROM llm_provider_usage WHERE job_id = $1", job));
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_provider_usage WHERE job_id = $1 AND input_tokens = 20 AND metadata ->> 'step_id' = 'ask'", finished));
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_provider_usage WHERE job_id = $1", deleted));
    }

    [Fact]
    public async Task OneRenewalExtendsTheLeasesOfExactlyTheJobsTheWorkerStillOwns()
    {
        var owned = await _db.InsertJobAsync(JobStatus.Processing);
        var lapsedButOwned = await _db.InsertJobAsync(JobStatus.Processing, leaseLapsed: true);
        var otherOwner = await _db.InsertJobAsync(JobStatus.Processing, leaseOwner: "worker-b");
        var stopping = await _db.InsertJobAsync(JobStatus.Processing);
        var finished = await _db.InsertJobAsync(JobStatus.Completed);
        await _db.CountAsync("WITH u AS (UPDATE llm_workflow_jobs SET cancel_requested_at = now() WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", stopping);

        var renewed = await _db.Store.RenewLeasesAsync(
            [owned, lapsedButOwned, otherOwner, stopping, finished, Guid.CreateVersion7()], "worker-a", TimeSpan.FromHours(2), CancellationToken.None);

        Assert.Equal(new[] { owned, lapsedButOwned }.Order(), renewed.Order());
        foreach (var id in new[] { owned, lapsedButOwned })
        {
            Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND lease_expires_at > now() + interval '90 minutes'", id));
        }

        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND lease_expires_at > now() + interval '90 minutes'", otherOwner));
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND lease_expires_at > now() + interval '90 minutes'", stopping));
    }

    [Fact]
    public async Task ARenewalSkipsARowAnotherTransactionHoldsInsteadOfWaitingForIt()
    {
        var ct = TestContext.Current.CancellationToken;
        var free = await _db.InsertJobAsync(JobStatus.Processing);
        var held = await _db.InsertJobAsync(JobStatus.Processing);
        var lease = TimeSpan.FromHours(2);
        const string ExtendedSql = "SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND lease_expires_at > now() + interval '90 minutes'";

        // Another transaction (a write batch of the worker's, say) holds one row and then wants the other. A renewal
        // that waited for the held row while holding the free one would close the circle: a deadlock.
        await using var connection = await _db.Database.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await TouchAsync(held);

        var renewed = await _db.Store.RenewLeasesAsync([free, held], "worker-a", lease, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.Equal(new[] { free, held }.Order(), renewed.Order());
        await TouchAsync(free);
        await transaction.CommitAsync(ct);

        Assert.Equal(1, await _db.CountAsync(ExtendedSql, free));
        Assert.Equal(0, await _db.CountAsync(ExtendedSql, held));

        // The next renewal finds the row free and extends it.
        Assert.Equal(new[] { free, held }.Order(), (await _db.Store.RenewLeasesAsync([free, held], "worker-a", lease, ct)).Order());
        Assert.Equal(1, await _db.CountAsync(ExtendedSql, held));

        async Task TouchAsync(Guid job)
        {
            await using var touch = new NpgsqlCommand("UPDATE llm_workflow_jobs SET updated_at = now() WHERE id = $1", connection, transaction);
            touch.Parameters.Add(new NpgsqlParameter { Value = job });
            Assert.Equal(1, await touch.ExecuteNonQueryAsync(ct).WaitAsync(TimeSpan.FromSeconds(10), ct));
        }
    }

    private static JobOutcome Outcome(JobStatus status) => status == JobStatus.Completed
        ? new JobOutcome(status, new JsonObject { ["output"] = new JsonObject { ["ok"] = true } }, null, 3, 4, 0.01m)
        : new JobOutcome(status, null, new WorkflowError { Type = "TestError", Category = ErrorCategory.SystemError, Message = "boom" }, 0, 0, 0m);

    private static StepRecord Step(string key) => new()
    {
        StepKey = key,
        StepId = key,
        DisplayName = $"Step {key}",
        Type = "transform",
        Status = StepStatus.Completed,
        Attempts = 1,
        StartedAt = DateTimeOffset.UtcNow,
        FinishedAt = DateTimeOffset.UtcNow,
    };

    private static LlmCallResult Call(int inputTokens) => new()
    {
        Text = "answer",
        Provider = "mock",
        Model = "mock/model",
        InputTokens = inputTokens,
        OutputTokens = 1,
        CostUsd = 0.001m,
    };
}
