using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Steps;

/// <summary>
/// <c>approval</c>: a <c>wait_for_event</c> for a person's decision, <c>{"prompt": "...", "show":
/// "${steps.draft.output}", "timeout_seconds": …, "on_timeout": …, "default": {…}}</c>. It waits for the
/// <see cref="DefaultEvent"/> signal (or the configured <c>event</c>) like any wait; the parked wait carries the
/// resolved prompt and <c>show</c> value and a random nonce, from which the service issues the decision links. Whatever
/// sent the decision (a link, the API, the dashboard), the step's output is
/// <c>{"approved", "comment", "decided_by", "decided_at"}</c>.
/// </summary>
internal sealed class ApprovalStepHandler : WaitForEventStepHandler
{
    public new const string Kind = "approval";

    /// <summary>The event an approval waits for unless its config names another.</summary>
    public const string DefaultEvent = "approval";

    /// <summary>Who may be named in <c>decided_by</c>; anything else is reported as <c>api</c>.</summary>
    private static readonly string[] Deciders = ["link", "api", "dashboard"];

    /// <summary>The largest <c>show</c> value kept with the wait (the page's subject); larger ones are cut.</summary>
    public const int MaxShowChars = 256 * 1024;

    protected override string WaitKind => Kind;

    protected override string EventName(StepContext context) => (string?)context.Step.Config["event"] ?? DefaultEvent;

    protected override JsonNode? FromSignal(JsonNode? payload, StepContext context) => Decision(payload, context.Run.Now);

    protected override JsonObject Describe(StepContext context, RunWait? resumed)
    {
        var config = context.Step.Config;
        var prompt = config["prompt"] is { } promptNode ? ValueResolver.Resolve(promptNode, context.Scope) : null;
        var show = config["show"] is { } showNode ? ValueResolver.Resolve(showNode, context.Scope)?.DeepClone() : null;
        if (show is not null && show.ToJsonString().Length > MaxShowChars)
        {
            show = JsonValue.Create(show.ToJsonString()[..MaxShowChars] + " … [cut: see the job's steps for the whole value]");
        }

        return new JsonObject
        {
            ["prompt"] = prompt is JsonValue text && text.TryGetValue<string>(out var s) ? s : prompt?.ToJsonString(),
            ["show"] = show,
            // Parked again before its decision (woken for a sibling branch's wait), it keeps its nonce: the links sent stay good.
            ["nonce"] = (string?)resumed?.Approval?["nonce"] ?? Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant(),
        };
    }

    /// <summary>
    /// A decision from a signal's body: <c>approved</c> (a boolean, or <c>decision: "approve" | "reject"</c>),
    /// <c>comment</c>, <c>decided_by</c> (link, api or dashboard; api otherwise) and <c>decided_at</c> (now when absent).
    /// </summary>
    public static JsonObject Decision(JsonNode? payload, DateTimeOffset now)
    {
        var body = payload as JsonObject;
        var approved = body?["approved"] is JsonValue flag && flag.TryGetValue<bool>(out var yes)
            ? yes
            : body?["decision"] is JsonValue decision && decision.TryGetValue<string>(out var word) && word is "approve" or "approved";
        var decidedBy = body?["decided_by"] is JsonValue by && by.TryGetValue<string>(out var who) && Deciders.Contains(who) ? who : "api";
        var decidedAt = body?["decided_at"] is JsonValue at && at.TryGetValue<string>(out var when)
            && DateTimeOffset.TryParse(when, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed)
                ? parsed
                : now;
        return new JsonObject
        {
            ["approved"] = approved,
            ["comment"] = body?["comment"] is JsonValue c && c.TryGetValue<string>(out var comment) ? comment : null,
            ["decided_by"] = decidedBy,
            ["decided_at"] = decidedAt.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture),
        };
    }
}
