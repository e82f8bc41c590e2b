using System.Globalization;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Steps;

/// <summary>
/// <c>sleep</c>: <c>{"seconds": 3600}</c> or <c>{"until": "${input.send_at}"}</c> (RFC 3339 with an offset). The first
/// time it runs it works out its time and parks the run (<see cref="RunParkedException"/>); the job then holds no
/// worker slot. The resumed run passes the parked wait back, so the time is the one first worked out (a relative
/// <c>seconds</c> does not start again), and the step completes with <c>{"slept_until": …}</c>. A time already past
/// completes at once. Inside a <c>parallel</c> branch or a <c>for_each</c> iteration the time is kept per step key
/// (<see cref="RunWait.Of"/>), so an iteration woken early by another's wait does not sleep again from the start.
/// </summary>
internal sealed class SleepStepHandler : IStepHandler
{
    public const string Kind = "sleep";

    /// <summary>The longest sleep: a year, as far ahead as <c>run_at</c> and <c>delay_seconds</c> may schedule a job.</summary>
    public const double MaxSeconds = 31_536_000;

    public bool IsCheckpointed => true;

    public ValueTask<JsonNode?> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var until = context.Run.ResumedWait?.Of(context.StepKey) is { Kind: Kind } resumed
            ? resumed.Until
            : Due(context);
        context.Input = new JsonObject { ["until"] = until.ToString("O", CultureInfo.InvariantCulture) };
        if (context.Run.Now >= until)
        {
            return ValueTask.FromResult<JsonNode?>(new JsonObject { ["slept_until"] = until.ToString("O", CultureInfo.InvariantCulture) });
        }

        throw new RunParkedException(new RunWait(context.Step.Id, context.StepKey, Kind, until));
    }

    private static DateTimeOffset Due(StepContext context)
    {
        var config = context.Step.Config;
        if (config["seconds"] is { } secondsNode)
        {
            var seconds = ValueResolver.Resolve(secondsNode, context.Scope);
            return seconds is JsonValue { } value && value.GetValueKind() == System.Text.Json.JsonValueKind.Number
                && double.Parse(value.ToJsonString(), CultureInfo.InvariantCulture) is var number && number is >= 0 and <= MaxSeconds
                ? context.Run.Now.AddSeconds(number)
                : throw WorkflowException.Config("invalid_sleep", $"Step \"{context.Step.Id}\": seconds must be a number of seconds from 0 to {MaxSeconds} (a year); got {seconds?.ToJsonString() ?? "null"}.");
        }

        var until = config["until"] is { } untilNode ? ValueResolver.Resolve(untilNode, context.Scope) : null;
        var due = until is JsonValue text && text.TryGetValue<string>(out var time)
            && DateTimeOffset.TryParse(time, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at) && HasOffset(time)
            ? at.ToUniversalTime()
            : throw WorkflowException.Config("invalid_sleep", $"Step \"{context.Step.Id}\": until must be an RFC 3339 time with an offset, e.g. 2026-12-01T09:00:00Z; got {until?.ToJsonString() ?? "null"}.");
        return due <= context.Run.Now.AddSeconds(MaxSeconds)
            ? due
            : throw WorkflowException.Config("invalid_sleep", $"Step \"{context.Step.Id}\": until must be at most a year ahead; got {time}.");
    }

    private static bool HasOffset(string time) =>
        time.EndsWith('Z') || time.EndsWith('z') || (time.Length > 6 && time[^6] is '+' or '-' && time[^3] == ':');
}
