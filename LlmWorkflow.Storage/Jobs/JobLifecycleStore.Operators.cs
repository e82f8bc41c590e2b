using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// What operators do in an outage: pause and resume a workflow (Hold; the waker skips a paused workflow's jobs, see
/// <c>JobLifecycleStore.Waits.cs</c>, and the Submit statement holds its new ones), and the trace of each run attempt.
/// </summary>
public sealed partial class JobLifecycleStore
{
    /// <summary>
    /// The newest run starts a job keeps the traces of: every resume of a waiting job is a run start, so a job that
    /// sleeps in a loop would otherwise grow its row without bound.
    /// </summary>
    public const int MaxAttemptTraces = 50;

    // The attempt's own row only: a run that lost its lease records nothing. Used when the claim could not record the
    // run's trace (its dispatch carried none).
    // $1 job id, $2 attempt, $3 trace id, $4 worker id.
    private static readonly string AttemptTraceSql = $"""
        UPDATE llm_workflow_jobs
           SET attempt_traces = {AppendAttemptTrace(RecordedAttemptTraces(""), "$2::int", "$3::text", "$4::text")}
         WHERE id = $1 AND attempt = $2 AND lease_owner = $4 AND {JobLifecycle.KeyedGuard(JobTransition.Checkpoint)}
        """;

    /// <summary>
    /// SQL for <paramref name="traces"/> (a jsonb array, maybe null) with one run start appended and, past
    /// <see cref="MaxAttemptTraces"/>, its oldest entry dropped (one is added at a time, so one goes).
    /// </summary>
    internal static string AppendAttemptTrace(string traces, string attempt, string traceId, string workerId) => $"""
        (CASE WHEN jsonb_array_length(COALESCE({traces}, '[]'::jsonb)) >= {MaxAttemptTraces} THEN {traces} - 0 ELSE COALESCE({traces}, '[]'::jsonb) END
                       || jsonb_build_array(jsonb_build_object('attempt', {attempt}, 'trace_id', {traceId}, 'worker_id', {workerId}, 'started_at', now())))
        """;

    /// <summary>
    /// SQL for the claim's new <c>attempt_traces</c> (<c>j</c> the row before it, <paramref name="trace"/> the run's trace
    /// id or NULL, <c>$2</c> the worker). A job's first run that continues its submit's trace is not written: the row's
    /// <c>trace_id</c>, <c>worker_id</c> and <c>started_at</c> say it (<see cref="RecordedAttemptTraces"/>), so neither
    /// the claim nor the finish writes it. A run whose trace is unknown records none, as before; '[]' then says
    /// "nothing recorded" where NULL would read as the implied entry.
    /// </summary>
    internal static string ClaimedAttemptTraces(string trace) => $"""
        CASE WHEN {trace} IS NULL THEN COALESCE({RecordedAttemptTraces("j.")}, '[]'::jsonb)
             WHEN j.attempt_traces IS NULL AND j.started_at IS NULL AND j.attempt = 0 AND {trace} = j.trace_id THEN NULL
             ELSE {AppendAttemptTrace(RecordedAttemptTraces("j."), "j.attempt + 1", trace, "$2::varchar")} END
        """;

    /// <summary>
    /// SQL for the run starts a row records (<paramref name="alias"/> its table alias with its dot, or empty): its
    /// <c>attempt_traces</c>, or when that is NULL the first run's entry its own columns imply (see
    /// <see cref="ClaimedAttemptTraces"/>). Every statement that changes <c>worker_id</c> or <c>started_at</c> writes
    /// this first (the claim, the retry), so the implied entry never outlives the values it is read from.
    /// </summary>
    internal static string RecordedAttemptTraces(string alias) => $"""
        COALESCE({alias}attempt_traces, CASE WHEN {alias}started_at IS NOT NULL AND {alias}trace_id IS NOT NULL AND {alias}worker_id IS NOT NULL
            THEN jsonb_build_array(jsonb_build_object('attempt', 1, 'trace_id', {alias}trace_id, 'worker_id', {alias}worker_id, 'started_at', {alias}started_at)) END)
        """;

    /// <summary>The claim's trace ids parameter: each of <paramref name="ids"/>' trace id, or null.</summary>
    private static NpgsqlParameter TraceIdsParameter(Guid[] ids, IReadOnlyDictionary<Guid, string>? traceIds) =>
        new()
        {
            Value = ids.Select(id => traceIds is not null && traceIds.TryGetValue(id, out var trace) ? trace : null).ToArray(),
            NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text,
        };

    // The pause row and the hold in one statement, so a job queued before the pause is either held or already claimed.
    // $1 workflow name, $2 paused by, $3 reason.
    private static readonly string PauseSql = $"""
        WITH paused AS (
            INSERT INTO llm_workflow_pauses (workflow_name, paused_at, paused_by, reason) VALUES ($1, now(), $2, $3)
            ON CONFLICT (workflow_name) DO UPDATE SET reason = COALESCE(EXCLUDED.reason, llm_workflow_pauses.reason)
            RETURNING paused_at
        ), held AS (
            UPDATE llm_workflow_jobs SET status = '{JobLifecycle.Rule(JobTransition.Hold).To.ToWire()}', run_at = queued_at,
                   dispatched_at = NULL, updated_at = now()
             WHERE workflow_name = $1 AND {JobLifecycle.Guard(JobTransition.Hold)}
            RETURNING id
        )
        SELECT (SELECT paused_at FROM paused) AS paused_at, (SELECT count(*) FROM held)::int AS held
        """;

    // $1 workflow name.
    private const string ResumeWorkflowSql = "DELETE FROM llm_workflow_pauses WHERE workflow_name = $1 RETURNING paused_at";

    // No parameters.
    private const string PausedWorkflowNamesSql = "SELECT workflow_name FROM llm_workflow_pauses";

    // No parameters.
    private static readonly string ListPausesSql = $"""
        SELECT p.workflow_name, p.paused_at, p.paused_by, p.reason,
               (SELECT count(*) FROM llm_workflow_jobs j WHERE j.workflow_name = p.workflow_name
                   AND {JobLifecycle.Guard(JobTransition.Wake)} AND j.run_at <= now())::int AS held
          FROM llm_workflow_pauses p ORDER BY p.workflow_name
        """;

    /// <summary>The statement that records a run attempt's trace (sent through the worker's write batcher when the run starts).</summary>
    internal static WriteStatement AttemptTraceStatement(Guid jobId, int attempt, string traceId, string workerId) =>
        new(AttemptTraceSql,
        [
            new() { Value = jobId },
            new() { Value = attempt, NpgsqlDbType = NpgsqlDbType.Integer },
            new() { Value = traceId, NpgsqlDbType = NpgsqlDbType.Text },
            new() { Value = workerId, NpgsqlDbType = NpgsqlDbType.Text },
        ]);

    /// <summary>Pauses a workflow (again: keeps the first pause's time) and holds its queued jobs; returns how many it held.</summary>
    public async Task<(DateTimeOffset PausedAt, int Held)> PauseWorkflowAsync(string workflowName, string? pausedBy, string? reason, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(PauseSql);
        command.Parameters.Add(new NpgsqlParameter { Value = workflowName });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)pausedBy ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)reason ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.Field<DateTimeOffset>("paused_at"), reader.Field<int>("held"));
    }

    /// <summary>Removes a workflow's pause; false when it was not paused. The caller tells the wakers (its held jobs are due).</summary>
    public async Task<bool> ResumeWorkflowAsync(string workflowName, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ResumeWorkflowSql);
        command.Parameters.Add(new NpgsqlParameter { Value = workflowName });
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    /// <summary>The names of the paused workflows (what the submit path needs, without ListPauses' counts).</summary>
    public async Task<IReadOnlyList<string>> PausedWorkflowNamesAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(PausedWorkflowNamesSql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var names = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            names.Add(reader.Field<string>("workflow_name"));
        }

        return names;
    }

    /// <summary>The paused workflows with how many jobs each holds (due, not woken).</summary>
    public async Task<IReadOnlyList<WorkflowPause>> ListPausesAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ListPausesSql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var pauses = new List<WorkflowPause>();
        while (await reader.ReadAsync(cancellationToken))
        {
            pauses.Add(new WorkflowPause(reader.Field<string>("workflow_name"), reader.Field<DateTimeOffset>("paused_at"),
                reader.FieldOrNull<string>("paused_by"), reader.FieldOrNull<string>("reason"), reader.Field<int>("held")));
        }

        return pauses;
    }
}

/// <summary>A paused workflow: since when, by whom, why, and how many of its jobs it holds.</summary>
public sealed record WorkflowPause(string WorkflowName, DateTimeOffset PausedAt, string? PausedBy, string? Reason, int HeldJobs);
