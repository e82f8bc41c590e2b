using System.Text.Json.Nodes;
using LlmWorkflow.ServiceDefaults.Logging;

namespace LlmWorkflow.Tests.Engine;

/// <summary>
/// An approval's output from whatever sent the decision (a link, the API, the dashboard), and the redaction of decision
/// links in log lines (the token is a capability).
/// </summary>
[UnitTest]
public sealed class ApprovalDecisionTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 27, 5, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("""{"approved": true, "comment": "ok", "decided_by": "dashboard"}""", true, "ok", "dashboard")]
    [InlineData("""{"decision": "reject"}""", false, null, "api")]
    [InlineData("""{"decision": "approve", "decided_by": "someone"}""", true, null, "api")]
    [InlineData("null", false, null, "api")]
    public void ADecisionIsApprovedCommentDecidedByAndDecidedAt(string body, bool approved, string? comment, string decidedBy)
    {
        var decision = LlmWorkflow.Engine.Steps.ApprovalStepHandler.Decision(JsonNode.Parse(body), Now);

        Assert.Equal((approved, comment, decidedBy), ((bool)decision["approved"]!, (string?)decision["comment"], (string)decision["decided_by"]!));
        Assert.Equal("2026-11-27T05:00:00.0000000+00:00", (string?)decision["decided_at"]);
    }

    [Fact]
    public void ADecisionLinksTokenIsRedactedFromLogLines()
    {
        var line = "Request starting HTTP/1.1 GET http://localhost/approvals/CfDJ8Abc-_123?decision=approve - -";

        Assert.Equal("Request starting HTTP/1.1 GET http://localhost/approvals/[REDACTED]?decision=approve - -", DecisionLinkRedactor.Redact(line));
        Assert.Equal("/api/v1/jobs", DecisionLinkRedactor.Redact("/api/v1/jobs"));
    }
}
