using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Tests.Engine;

/// <summary>Document 001's <c>error.details.service</c> and <c>error.details.suggestions</c> on every stored error.</summary>
[UnitTest]
public sealed class DocumentErrorDetailsTests
{
    [Theory]
    [InlineData("""{"service": "weatherapi", "operation": "current"}""", "weatherapi")]
    [InlineData("""{"step_type": "external_api", "config": {"service": "google_places", "operation": "nearby"}}""", "google_places")]
    [InlineData("""{"step_type": "llm", "config": {"model": "openrouter/anthropic/claude-3.5-sonnet"}}""", "openrouter")]
    [InlineData("""{"step_type": "llm", "config": {"model": ["openai/gpt-4o", "anthropic/claude-3-5-sonnet"]}}""", "openai")]
    [InlineData("""{"step_type": "transform", "config": {"operation": "markdown_to_json"}}""", "transform")]
    [InlineData("""{"timeout_seconds": 30}""", JobErrors.OwnService)]
    [InlineData(null, JobErrors.OwnService)]
    public void DetailsNameTheServiceThatFailed(string? details, string service)
    {
        var error = new WorkflowError
        {
            Type = "timeout", Category = ErrorCategory.ExternalError, Message = "timed out",
            Details = details is null ? null : JsonNode.Parse(details)!.AsObject(),
            Suggestions = ["Retry the job"],
        };

        var json = JobErrors.ToJson(error);

        Assert.Equal(service, (string?)json["details"]!["service"]);
        Assert.Equal(["Retry the job"], json["details"]!["suggestions"]!.AsArray().Select(s => (string?)s));
        Assert.Equal(["Retry the job"], json["suggestions"]!.AsArray().Select(s => (string?)s));
    }
}
