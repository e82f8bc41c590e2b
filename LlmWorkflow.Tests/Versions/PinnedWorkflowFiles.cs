using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Versions;

/// <summary>
/// A workflows folder a test owns and edits (definitions/ and prompts/ in a temp directory), pointed at by
/// <c>Workflows:Root</c>: the files change under jobs that were submitted before.
/// </summary>
internal sealed class PinnedWorkflowFiles : IDisposable
{
    private PinnedWorkflowFiles(string root) => Root = root;

    public string Root { get; }

    public static PinnedWorkflowFiles Create()
    {
        var files = new PinnedWorkflowFiles(Directory.CreateTempSubdirectory("llmwf-pinned-").FullName);
        Directory.CreateDirectory(Path.Combine(files.Root, "definitions"));
        Directory.CreateDirectory(Path.Combine(files.Root, "prompts", "pinned"));
        files.Write("v1");
        return files;
    }

    /// <summary>The settings of a pipeline test, with this folder as the workflows root.</summary>
    public Dictionary<string, string?> Settings(FakeOpenAiServer llm, IDictionary<string, string?>? extra = null)
    {
        var settings = PipelineTestWorkflows.Settings(llm, extra);
        settings["Workflows:Root"] = Root;
        return settings;
    }

    /// <summary>
    /// Writes every file with <paramref name="mark"/> in its prompts: step one's prompt file reads "ONE-{mark}", the
    /// inline prompts "TWO-{mark}", "THREE-{mark}", "FOUR-{mark}", so the fake provider's requests tell which version ran.
    /// </summary>
    public void Write(string mark)
    {
        File.WriteAllText(Path.Combine(Root, "prompts", "pinned", "one.md"), $"ONE-{mark}: write one sentence about {{{{topic}}}}.");
        File.WriteAllText(Path.Combine(Root, "definitions", "pinned_steps.json"), Workflow("pinned_steps", mark,
            Llm("one", null, "pinned/one.md", "${input.topic}"),
            Llm("two", $"TWO-{mark}: expand on {{{{previous}}}}", null, "${steps.one.output.text}"),
            Llm("three", $"THREE-{mark}: summarize {{{{previous}}}}", null, "${steps.two.output.text}"),
            Llm("four", $"FOUR-{mark}: title for {{{{previous}}}}", null, "${steps.three.output.text}")));
        File.WriteAllText(Path.Combine(Root, "definitions", "pinned_sleep.json"), Workflow("pinned_sleep", mark,
            Llm("one", null, "pinned/one.md", "${input.topic}"),
            new JsonObject { ["id"] = "nap", ["type"] = "sleep", ["config"] = new JsonObject { ["seconds"] = "${input.seconds}" } },
            Llm("two", $"TWO-{mark}: expand on {{{{previous}}}}", null, "${steps.one.output.text}")));
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);

    private static string Workflow(string name, string mark, params JsonObject[] steps) => new JsonObject
    {
        ["name"] = name,
        ["version"] = mark,
        ["input_schema"] = new JsonObject
        {
            ["type"] = "object",
            ["required"] = new JsonArray("topic"),
            ["properties"] = new JsonObject { ["topic"] = new JsonObject { ["type"] = "string" }, ["seconds"] = new JsonObject { ["type"] = "number" } },
        },
        ["steps"] = new JsonArray([.. steps]),
    }.ToJsonString();

    private static JsonObject Llm(string id, string? prompt, string? promptFile, string previous)
    {
        var config = new JsonObject { ["model"] = "openai/gpt-4o-mini", ["max_tokens"] = 50 };
        if (prompt is not null)
        {
            config["prompt"] = prompt;
            config["variables"] = new JsonObject { ["previous"] = previous };
        }
        else
        {
            config["prompt_file"] = promptFile;
            config["variables"] = new JsonObject { ["topic"] = previous };
        }

        return new JsonObject { ["id"] = id, ["type"] = "llm", ["display_name"] = id, ["config"] = config };
    }
}
