using System.Globalization;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Steps;

/// <summary>
/// <c>wait_for_event</c>: <c>{"event": "approval", "timeout_seconds": 86400, "on_timeout": "fail" | "continue" |
/// "default", "default": {…}}</c>. A signal of that event already in the job's inbox (sent before the run got here)
/// is taken at once and its body is the step's output. Otherwise the run parks until a signal arrives (the signal's
/// request queues the job) or the timeout passes; the resumed run keeps the timeout first worked out (per step key, so
/// also inside a <c>parallel</c> branch or a <c>for_each</c> iteration). At the timeout:
/// <c>fail</c> (the default) fails the step, <c>continue</c> goes on with a null output, <c>default</c> with
/// <c>default</c>.
/// </summary>
internal class WaitForEventStepHandler : IStepHandler
{
    public const string Kind = "event";

    /// <summary>When <c>timeout_seconds</c> is left out: a week.</summary>
    public const double DefaultTimeoutSeconds = 7 * 24 * 3600;

    public bool IsCheckpointed => true;

    public async ValueTask<JsonNode?> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var config = context.Step.Config;
        var eventName = EventName(context);
        context.Input = new JsonObject { ["event"] = eventName };
        var resumed = context.Run.ResumedWait?.Of(context.StepKey) is { } mine && mine.Kind == WaitKind ? mine : null;
        var leavesTheSignal = resumed is not null && context.Run.Now < resumed.Until && BehindTheShownWait(context, eventName);
        if (context.Run.Signals is { } inbox && !leavesTheSignal
            && await inbox.TakeAsync(context.Run.RunId, eventName, context.StepKey, cancellationToken) is { } signal)
        {
            return FromSignal(signal.Payload, context);
        }

        var until = resumed?.Until ?? context.Run.Now.AddSeconds(TimeoutSeconds(context));
        if (context.Run.Now < until)
        {
            throw new RunParkedException(new RunWait(context.Step.Id, context.StepKey, WaitKind, until, eventName, Describe(context, resumed)));
        }

        return (string?)config["on_timeout"] switch
        {
            "continue" => null,
            "default" => config["default"]?.DeepClone(),
            _ => throw new WorkflowException(new WorkflowError
            {
                Type = "wait_timeout",
                Category = ErrorCategory.UserError,
                Message = $"No \"{eventName}\" signal arrived by {until.ToString("O", CultureInfo.InvariantCulture)}.",
                StepId = context.Step.Id,
                Details = new JsonObject { ["event"] = eventName, ["until"] = until.ToString("O", CultureInfo.InvariantCulture) },
            }),
        };
    }

    /// <summary>The <c>kind</c> of the parked wait (what a resumed run and the status report).</summary>
    protected virtual string WaitKind => Kind;

    /// <summary>The signal's event this step takes.</summary>
    protected virtual string EventName(StepContext context) => (string?)context.Step.Config["event"]
        ?? throw WorkflowException.Config("invalid_wait", $"Step \"{context.Step.Id}\": event is required.");

    /// <summary>The step's output for a signal's body: the body itself.</summary>
    protected virtual JsonNode? FromSignal(JsonNode? payload, StepContext context) => payload?.DeepClone();

    /// <summary>
    /// What the parked wait carries besides its time and event (an approval's prompt and what it shows); null for none.
    /// <paramref name="resumed"/> is this step's wait in the run this one resumes, when it parked there too.
    /// </summary>
    protected virtual JsonObject? Describe(StepContext context, RunWait? resumed) => null;

    /// <summary>
    /// Whether this step, resumed beside others that parked (a <c>parallel</c> or <c>for_each</c>), waits for the same
    /// event as the wait the job showed, which is not this step's: while its own time is not up it leaves the signal to
    /// that wait, whose approval page or status the sender saw, and parks again. Same-event waits so take their signals
    /// one at a time, in order.
    /// </summary>
    private static bool BehindTheShownWait(StepContext context, string eventName) =>
        context.Run.ResumedWait is { Pending: not null } shown && shown.Event == eventName && shown.StepKey != context.StepKey
        && shown.Of(context.StepKey) is not null;

    private static double TimeoutSeconds(StepContext context) =>
        context.Step.Config["timeout_seconds"] is JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.Number
            ? double.Parse(value.ToJsonString(), CultureInfo.InvariantCulture)
            : DefaultTimeoutSeconds;
}
