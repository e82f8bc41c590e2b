using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// An agent step's durable state: its finished model turns, its tool ledger and its messages (stored once each, by
/// content address). The loop writes a turn before it acts on the answer and a ledger row before and after every tool
/// call, so a run resumed on any worker reads back what was paid for and done instead of doing it again.
/// </summary>
public interface IAgentStore
{
    /// <summary>Everything recorded for one agent step of one run.</summary>
    Task<AgentState> LoadAsync(string runId, string stepKey, CancellationToken cancellationToken);

    /// <summary>
    /// True when <see cref="SaveTurnAsync"/> writes the turn's <see cref="AgentTurn.Usage"/> as its usage row in the
    /// turn's own transaction (so a turn paid just before a crash keeps its row); false: the job's sink writes it.
    /// </summary>
    bool WritesUsageRows => false;

    /// <summary>
    /// Stores a finished (paid) turn with the messages it introduced (messages already stored are kept as they are)
    /// and, given <paramref name="firstCall"/>, begins that tool call's ledger row in the same transaction, as
    /// <see cref="BeginToolCallAsync"/> would, returning it: a turn and its first call cost one round trip.
    /// </summary>
    Task<AgentToolEntry?> SaveTurnAsync(
        string runId, string stepKey, AgentTurn turn, IReadOnlyList<AgentMessage> newMessages, AgentToolEntry? firstCall, CancellationToken cancellationToken);

    /// <summary>
    /// The ledger row of a tool call: created (status <c>started</c>, attempt 1) when there is none, else the existing
    /// row with its attempt counted when it had not finished. The caller runs the tool only when the row is not finished.
    /// </summary>
    Task<AgentToolEntry> BeginToolCallAsync(string runId, string stepKey, AgentToolEntry entry, CancellationToken cancellationToken);

    /// <summary>
    /// Marks a tool call done (<c>finished</c>, <c>failed</c> or <c>rejected</c>) with its result message and, given
    /// <paramref name="nextCall"/> (the turn's next call), begins that call's ledger row in the same transaction, as
    /// <see cref="BeginToolCallAsync"/> would, returning it.
    /// </summary>
    Task<AgentToolEntry?> FinishToolCallAsync(
        string runId, string stepKey, int turn, string callId, string status, AgentMessage result, AgentToolEntry? nextCall, CancellationToken cancellationToken);

    /// <summary>Records a call parked for approval (<c>awaiting_approval</c>) or its decided arguments (<c>approved</c>, edited or not).</summary>
    Task SetToolCallStatusAsync(string runId, string stepKey, int turn, string callId, string status, JsonObject arguments, CancellationToken cancellationToken);

    /// <summary>
    /// The checkpoints of the child run a <c>workflow</c> tool's call starts, scoped to that call (the job
    /// <paramref name="runId"/> and the call's idempotency key <paramref name="callKey"/>): the engine's runner saves each
    /// finished child step here and restores it when the call runs again after a crash, so the child resumes from its
    /// last finished step instead of paying its finished LLM calls again. A store that is also an
    /// <see cref="IProgressSink"/> is the child run's sink: a durable store writes each paid child call's usage row there
    /// (under the agent step <paramref name="stepId"/> of the workflow <paramref name="workflowName"/>), exactly once.
    /// </summary>
    ICheckpointStore ChildCheckpoints(string runId, string callKey, string stepId, string workflowName);
}

/// <param name="BaseTurn">The turn whose sent messages this one's start with (the previous turn); null for the first.</param>
/// <param name="AddedHashes">The messages sent after the base turn's (its answer and the tool results), by content address.</param>
public sealed record AgentTurn(
    int Turn, int? BaseTurn, IReadOnlyList<string> AddedHashes, string ResponseHash, string Provider, string Model,
    int InputTokens, int OutputTokens, decimal? CostUsd, double DurationMs)
{
    /// <summary>The paid call behind a new turn, for its usage row (null on a turn read back).</summary>
    public AgentTurnUsage? Usage { get; init; }
}

/// <summary>A turn's paid call and where its usage row files it: the agent step and its workflow.</summary>
public sealed record AgentTurnUsage(string StepId, string WorkflowName, LlmWorkflow.Engine.Llm.LlmCallResult Call);

/// <summary>A tool ledger row. Status: started, awaiting_approval, approved, finished, failed or rejected.</summary>
public sealed record AgentToolEntry(
    int Turn, string CallId, string ToolName, string IdempotencyKey, JsonObject Arguments, string Status = AgentToolEntry.Started,
    string? ResultHash = null, int Attempts = 1)
{
    public const string Started = "started";
    public const string AwaitingApproval = "awaiting_approval";
    public const string Approved = "approved";
    public const string Finished = "finished";
    public const string Failed = "failed";
    public const string Rejected = "rejected";

    public bool IsDone => Status is Finished or Failed or Rejected;
}

public sealed record AgentState(IReadOnlyList<AgentTurn> Turns, IReadOnlyList<AgentToolEntry> ToolCalls, IReadOnlyDictionary<string, AgentMessage> Messages)
{
    public static AgentState Empty { get; } = new([], [], new Dictionary<string, AgentMessage>());
}

/// <summary>The store of runs that have no database (the CLI's local runs, engine tests): durable for the process only.</summary>
public sealed class InMemoryAgentStore : IAgentStore
{
    private readonly ConcurrentDictionary<string, AgentMessage> _messages = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string, string), List<AgentTurn>> _turns = new();
    private readonly ConcurrentDictionary<(string, string, int, string), AgentToolEntry> _tools = new();
    private readonly ConcurrentDictionary<(string, string), InMemoryCheckpointStore> _children = new();

    public Task<AgentState> LoadAsync(string runId, string stepKey, CancellationToken cancellationToken)
    {
        List<AgentTurn> turns;
        lock (_turns)
        {
            turns = [.. _turns.GetValueOrDefault((runId, stepKey)) ?? []];
        }

        var tools = _tools.Where(t => t.Key.Item1 == runId && t.Key.Item2 == stepKey).Select(t => t.Value).OrderBy(t => t.Turn).ToList();
        return Task.FromResult(new AgentState(turns, tools, new Dictionary<string, AgentMessage>(_messages, StringComparer.Ordinal)));
    }

    public async Task<AgentToolEntry?> SaveTurnAsync(
        string runId, string stepKey, AgentTurn turn, IReadOnlyList<AgentMessage> newMessages, AgentToolEntry? firstCall, CancellationToken cancellationToken)
    {
        foreach (var message in newMessages)
        {
            _messages.TryAdd(message.Hash, message);
        }

        lock (_turns)
        {
            _turns.GetOrAdd((runId, stepKey), _ => []).Add(turn);
        }

        return firstCall is null ? null : await BeginToolCallAsync(runId, stepKey, firstCall, cancellationToken).ConfigureAwait(false);
    }

    public Task<AgentToolEntry> BeginToolCallAsync(string runId, string stepKey, AgentToolEntry entry, CancellationToken cancellationToken) =>
        Task.FromResult(_tools.AddOrUpdate((runId, stepKey, entry.Turn, entry.CallId), entry,
            (_, existing) => existing.IsDone || existing.Status == AgentToolEntry.AwaitingApproval ? existing : existing with { Attempts = existing.Attempts + 1 }));

    public async Task<AgentToolEntry?> FinishToolCallAsync(
        string runId, string stepKey, int turn, string callId, string status, AgentMessage result, AgentToolEntry? nextCall, CancellationToken cancellationToken)
    {
        _messages.TryAdd(result.Hash, result);
        _tools.AddOrUpdate((runId, stepKey, turn, callId), _ => throw new InvalidOperationException("No ledger row for " + callId),
            (_, existing) => existing with { Status = status, ResultHash = result.Hash });
        return nextCall is null ? null : await BeginToolCallAsync(runId, stepKey, nextCall, cancellationToken).ConfigureAwait(false);
    }

    public Task SetToolCallStatusAsync(string runId, string stepKey, int turn, string callId, string status, JsonObject arguments, CancellationToken cancellationToken)
    {
        _tools.AddOrUpdate((runId, stepKey, turn, callId), _ => throw new InvalidOperationException("No ledger row for " + callId),
            (_, existing) => existing with { Status = status, Arguments = (JsonObject)arguments.DeepClone() });
        return Task.CompletedTask;
    }

    public ICheckpointStore ChildCheckpoints(string runId, string callKey, string stepId, string workflowName) => _children.GetOrAdd((runId, callKey), _ => new InMemoryCheckpointStore());
}
