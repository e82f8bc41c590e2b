using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Commands;
using Spectre.Console;

namespace LlmWorkflow.Tests.Cli;

/// <summary>The <c>jobs</c> table keeps each job id on one line (it is copied into watch/status/retry) on narrow terminals.</summary>
[UnitTest]
public sealed class JobsTableTests
{
    [Theory]
    [InlineData(80)]
    [InlineData(100)]
    [InlineData(120)]
    public void JobIdsAreNotWrapped(int width)
    {
        var ids = new[] { Guid.NewGuid().ToString(), Guid.NewGuid().ToString() };
        var page = new JsonObject
        {
            ["jobs"] = new JsonArray([.. ids.Select(id => (JsonNode)new JsonObject
            {
                ["job_id"] = id,
                ["workflow_name"] = "emergency_contacts",
                ["status"] = "completed",
                ["progress_percent"] = 100,
                ["username"] = "ada.lovelace",
                ["created_at"] = "2026-11-22T10:00:00Z",
                ["duration_ms"] = 14523,
                ["total_tokens"] = 3842,
                ["cost_usd"] = 0.023,
            })]),
            ["total"] = 2,
        };
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = width;

        // As it arrives from the service: parsed JSON, where dates are strings that read as DateTimeOffset.
        console.Write(JobsCommand.Table(JsonNode.Parse(page.ToJsonString())!.AsObject()));

        var lines = output.ToString().Split('\n');
        Assert.All(lines, line => Assert.True(line.TrimEnd().Length <= width, $"Line wider than {width}: {line}"));
        Assert.All(ids, id => Assert.Contains(lines, line => line.Contains(id, StringComparison.Ordinal)));
    }
}
