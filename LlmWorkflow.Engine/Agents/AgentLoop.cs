using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Engine.Steps;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// One execution of an agent step: a loop of checkpoints on <see cref="IAgentStore"/>. A turn already recorded is read
/// back (never paid again); a new turn is checked against the step's caps before it is sent and stored as soon as it is
/// answered; every tool call goes through the ledger, so a finished one is never run again and an unfinished one runs
/// again with the same idempotency key.
/// </summary>
internal sealed class AgentLoop(AgentLoopSetup setup, StepContext context)
{
    private readonly IAgentStore _store = setup.Services.Store;
    private readonly AgentStepConfig _config = setup.Config;
    private readonly HashSet<string> _stored = new(StringComparer.Ordinal);
    private readonly List<AgentMessage> _history = [];
    private readonly JsonArray _turnLog = [];
    private AgentState _state = AgentState.Empty;
    private int _inputTokens;
    private int _outputTokens;
    private decimal? _costUsd;
    private int _previousSent;
    private int _toolCalls;

    private string RunId => context.Run.RunId;

    private string StepKey => context.StepKey;

    public async Task<JsonObject> RunAsync(IReadOnlyList<AgentMessage> opening, CancellationToken cancellationToken)
    {
        using var span = AgentTelemetry.InvokeAgent(context, _config);
        _state = await _store.LoadAsync(RunId, StepKey, cancellationToken).ConfigureAwait(false);
        _stored.UnionWith(_state.Messages.Keys);
        _history.AddRange(opening);
        var recorded = _state.Turns.ToDictionary(t => t.Turn);
        for (var turn = 0; ; turn++)
        {
            AgentMessage answer;
            // The ledger row of the call about to run, when the write before it (the turn's, the previous call's) began it.
            AgentToolEntry? begun = null;
            if (recorded.TryGetValue(turn, out var done) && _state.Messages.TryGetValue(done.ResponseHash, out var stored))
            {
                answer = stored;
                Count(done, restored: true);
            }
            else
            {
                if (CapReached(turn) is { } stop)
                {
                    return Finish(stop, null, turn, span);
                }

                (answer, begun) = await CallModelAsync(turn, cancellationToken).ConfigureAwait(false);
            }

            _previousSent = _history.Count;
            _history.Add(answer);
            var calls = answer.Calls();
            LastAnswerText = answer.Text;
            if (calls.Count == 0)
            {
                return Finish("answered", answer.Text, turn + 1, span);
            }

            for (var i = 0; i < calls.Count; i++)
            {
                var next = i + 1 < calls.Count ? calls[i + 1] : null;
                var (result, nextBegun) = await setup.Tools.RunAsync(this, turn, calls[i], begun, next, cancellationToken).ConfigureAwait(false);
                _history.Add(result);
                begun = nextBegun;
                _toolCalls++;
            }
        }
    }

    /// <summary>A new ledger row for a call of <paramref name="turn"/> (status <c>started</c>, its idempotency key).</summary>
    internal AgentToolEntry LedgerEntry(int turn, AgentToolCall call) => new(turn, call.CallId, call.Name, IdempotencyKey(turn, call.CallId), call.Arguments);

    internal StepContext Context => context;

    internal AgentState State => _state;

    internal IAgentStore Store => _store;

    internal AgentToolbox Tools => setup.Tools;

    /// <summary>The text the model wrote with its latest tool calls (its reason, shown with a call waiting for approval).</summary>
    internal string? LastAnswerText { get; private set; }

    /// <summary>The idempotency key of a tool call: stable over retries and workers, distinct for every call.</summary>
    internal string IdempotencyKey(int turn, string callId) => Convert.ToHexStringLower(SHA256.HashData(
        Encoding.UTF8.GetBytes(string.Join('\n', RunId, StepKey, turn.ToString(CultureInfo.InvariantCulture), callId))));

    internal void LogToolCall(int turn, string callId, string name, string status)
    {
        if (_turnLog.Count > 0 && _turnLog[^1] is JsonObject last && (int)last["turn"]! == turn)
        {
            ((JsonArray)last["tool_calls"]!).Add(new JsonObject { ["call_id"] = callId, ["tool"] = name, ["status"] = status });
        }
    }

    /// <summary>What ends the loop before the next turn is paid: the turn count, or a turn that could not fit the caps.</summary>
    private string? CapReached(int turn)
    {
        if (turn >= _config.MaxTurns)
        {
            return "max_turns";
        }

        var (inputEstimate, outputEstimate) = Estimate();
        if (_config.MaxTokens is { } maxTokens && _inputTokens + _outputTokens + inputEstimate + outputEstimate > maxTokens)
        {
            return "max_tokens";
        }

        if (_config.MaxCostUsd is { } maxCost && (context.Run.Prices ?? setup.Prices) is { } prices
            && LlmCostEstimator.MaxCost(prices, _config.Models, inputEstimate, outputEstimate) is { } estimate
            && (_costUsd ?? 0m) + estimate > maxCost)
        {
            return "max_cost_usd";
        }

        return null;
    }

    /// <summary>The next turn's worst case: the conversation's characters / 4 (plus the tool declarations) in, max_output_tokens out.</summary>
    private (int Input, int Output) Estimate() =>
        (_history.Sum(m => m.EstimatedTokens) + setup.Tools.DeclarationTokens, _config.MaxOutputTokens);

    /// <returns>The answer, and the ledger row of its first tool call, begun with the turn's own write.</returns>
    private async Task<(AgentMessage Answer, AgentToolEntry? FirstCall)> CallModelAsync(int turn, CancellationToken cancellationToken)
    {
        using var span = AgentTelemetry.Chat(context, _config, turn);
        var (inputEstimate, outputEstimate) = Estimate();
        var reserved = ReserveJobBudget(inputEstimate, outputEstimate);
        // A streamed turn's text goes live as it comes; the turn recorded below is rebuilt from the whole stream.
        var deltas = _config.Stream ? new AgentTurnDeltas(context, turn, cancellationToken) : null;
        var scope = new AgentToolCallScope(setup.Tools.Declarations) { StreamStarted = deltas is null ? null : deltas.AttemptStarted };
        var started = Stopwatch.GetTimestamp();
        LlmCallResult call;
        try
        {
            using (scope.Enter())
            {
                call = await setup.Gateway.CompleteAsync(
                    new LlmCallRequest(
                        _config.Models, [.. _history.Select(m => m.ToChatMessage())], _config.Temperature, _config.MaxOutputTokens,
                        Stream: deltas is not null, OnDelta: deltas is null ? null : deltas.Text,
                        WorkflowName: context.Run.Workflow.Name, StepId: context.Step.Id, Prices: context.Run.Prices,
                        TenantId: context.Run.TenantId, UserId: context.Run.UserId, Priority: context.Run.Priority),
                    cancellationToken).ConfigureAwait(false);
            }
        }
        catch (AdmissionDeferredException deferred)
        {
            // The provider's budget is full: the job parks (no slot) and this turn is sent when it fits; earlier turns stay recorded.
            throw new RunParkedException(new RunWait(context.Step.Id, StepKey, LlmStepHandler.BudgetWaitKind, deferred.Until,
                Budget: new JsonObject { ["scope"] = deferred.Scope, ["reason"] = deferred.Reason }));
        }
        finally
        {
            if (reserved is { } amount)
            {
                context.Run.Usage.Release(amount);
            }

            // Every delta is out before the turn's llm_call_completed and agent_turn.
            if (deltas is not null)
            {
                await deltas.CompleteAsync().ConfigureAwait(false);
            }
        }

        var answer = AgentMessage.From(AnswerOf(scope.Response, call));
        var added = _history.Skip(turn == 0 ? 0 : _previousSent).Append(answer).Where(m => _stored.Add(m.Hash)).ToList();
        var record = new AgentTurn(turn, turn == 0 ? null : turn - 1, [.. _history.Skip(turn == 0 ? 0 : _previousSent).Select(m => m.Hash)], answer.Hash,
            call.Provider, call.Model, call.InputTokens, call.OutputTokens, call.CostUsd, Stopwatch.GetElapsedTime(started).TotalMilliseconds)
        {
            Usage = new AgentTurnUsage(context.Step.Id, context.Run.Workflow.Name, call),
        };
        // The paid answer is stored before anything acts on it, whatever cancellation says: a resumed loop reads it back.
        // Its first tool call's ledger row is begun in the same write (the call runs next; a resume counts another attempt).
        var calls = answer.Calls();
        var firstCall = await _store.SaveTurnAsync(RunId, StepKey, record, added, calls.Count > 0 ? LedgerEntry(turn, calls[0]) : null,
            CancellationToken.None).ConfigureAwait(false);
        AgentTelemetry.Answered(span, call, answer);
        Count(record, restored: false, call);
        await context.Run.Progress.PublishAsync(
            new LlmCallCompleted(RunId, context.Run.Now, context.Step.Id, call) { StepKey = StepKey, UsageRecorded = _store.WritesUsageRows },
            cancellationToken).ConfigureAwait(false);
        await AgentEvents.TurnAsync(context, record, answer, cancellationToken).ConfigureAwait(false);
        return (answer, firstCall);
    }

    /// <summary>The provider's answer as one assistant message (text and tool calls); the gateway's text when no middleware saw it.</summary>
    private static ChatMessage AnswerOf(ChatResponse? response, LlmCallResult call)
    {
        var answer = new ChatMessage(ChatRole.Assistant, (string?)null);
        if (response is null)
        {
            answer.Contents.Add(new TextContent(call.Text));
            return answer;
        }

        foreach (var content in response.Messages.Where(m => m.Role == ChatRole.Assistant).SelectMany(m => m.Contents))
        {
            if (content is TextContent or FunctionCallContent)
            {
                answer.Contents.Add(content);
            }
        }

        return answer;
    }

    /// <summary>The job's own max_cost_usd, reserved like an llm step's so parallel branches cannot both squeeze under it.</summary>
    private decimal? ReserveJobBudget(int inputEstimate, int outputEstimate)
    {
        if (context.Run.Usage.MaxCostUsd is not { } max || (context.Run.Prices ?? setup.Prices) is not { } table
            || LlmCostEstimator.MaxCost(table, _config.Models, inputEstimate, outputEstimate) is not { } estimate)
        {
            return null;
        }

        var forecast = new StepForecast(estimate, null, Llm.Budgets.BudgetCheck.ChecksRemaining(context.Run.Workflow));
        return context.Run.Usage.TryReserve(estimate, forecast.RequiredUsd, out var spent)
            ? estimate
            : throw BudgetGuard.Exceeded(context.Step.Id, spent, forecast, max);
    }

    /// <summary>Counts a turn in the step's totals, the step record and the job's usage (a restored turn as much as a new one).</summary>
    private void Count(AgentTurn turn, bool restored, LlmCallResult? call = null)
    {
        _inputTokens += turn.InputTokens;
        _outputTokens += turn.OutputTokens;
        if (turn.CostUsd is { } cost)
        {
            _costUsd = (_costUsd ?? 0m) + cost;
        }

        call ??= new LlmCallResult
        {
            Text = string.Empty,
            Provider = turn.Provider,
            Model = turn.Model,
            InputTokens = turn.InputTokens,
            OutputTokens = turn.OutputTokens,
            CostUsd = turn.CostUsd,
        };
        context.LlmUsage.Add(call);
        context.Run.Usage.Add(call);
        _turnLog.Add(new JsonObject
        {
            ["turn"] = turn.Turn,
            ["model"] = turn.Model,
            ["input_tokens"] = turn.InputTokens,
            ["output_tokens"] = turn.OutputTokens,
            ["cost_usd"] = turn.CostUsd,
            ["restored"] = restored,
            ["tool_calls"] = new JsonArray(),
        });
    }

    private JsonObject Finish(string stopReason, string? answer, int turns, Activity? span)
    {
        span?.SetTag("llmworkflow.agent.stop_reason", stopReason);
        return new JsonObject
        {
            ["answer"] = answer,
            ["stop_reason"] = stopReason,
            ["turns"] = turns,
            ["tool_calls"] = _toolCalls,
            ["usage"] = new JsonObject
            {
                ["input_tokens"] = _inputTokens,
                ["output_tokens"] = _outputTokens,
                ["total_tokens"] = _inputTokens + _outputTokens,
                ["cost_usd"] = _costUsd,
            },
            ["turn_log"] = _turnLog,
        };
    }
}

/// <summary>What every execution of one agent step shares: its config, tools, and the services it calls.</summary>
internal sealed record AgentLoopSetup(AgentStepConfig Config, AgentToolbox Tools, AgentServices Services, ILlmGateway Gateway, IPriceTable? Prices);
