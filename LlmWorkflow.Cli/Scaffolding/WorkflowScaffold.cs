using System.Text.Json.Nodes;

namespace LlmWorkflow.Cli.Scaffolding;

/// <summary>
/// The files <c>new &lt;name&gt;</c> writes: a definition (an <c>llm</c> step fed by a prompt file, then a
/// <c>transform</c> shaping its answer), the prompt, and a sample input. They validate and run with <c>--mock</c>.
/// </summary>
internal static class WorkflowScaffold
{
    /// <summary>Relative path → content, paths under the workflows folder.</summary>
    public static IReadOnlyList<(string RelativePath, string Content)> Files(string name, string model) =>
    [
        ($"definitions/{name}.json", Definition(name, model).ToJsonString(CliJson.Indented) + "\n"),
        ($"prompts/{name}/draft.md", Prompt),
        ($"examples/{name}.json", new JsonObject { ["topic"] = "why the sky is blue", ["audience"] = "a curious ten-year-old" }.ToJsonString(CliJson.Indented) + "\n"),
    ];

    private static JsonObject Definition(string name, string model) => new()
    {
        ["$schema"] = "../workflow.schema.json",
        ["name"] = name,
        ["version"] = "0.1.0",
        ["description"] = "Explains a topic for an audience (scaffolded by llmwf new: replace with what this workflow does).",
        ["input_schema"] = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject
            {
                ["topic"] = new JsonObject { ["type"] = "string", ["minLength"] = 1, ["description"] = "What to explain." },
                ["audience"] = new JsonObject { ["type"] = "string", ["description"] = "Who reads the answer." },
            },
            ["required"] = new JsonArray("topic"),
        },
        ["steps"] = new JsonArray(
            new JsonObject
            {
                ["id"] = "draft",
                ["type"] = "llm",
                ["display_name"] = "Draft the explanation",
                ["description"] = "Asks the model for a short explanation, streaming the answer. The prompt sees the workflow input as its variables.",
                ["config"] = new JsonObject
                {
                    ["model"] = model,
                    ["prompt_file"] = $"{name}/draft.md",
                    ["max_tokens"] = 400,
                    ["temperature"] = 0.3,
                    ["stream"] = true,
                },
                ["on_error"] = new JsonObject { ["mode"] = "retry", ["max_attempts"] = 3, ["backoff_seconds"] = 1 },
                ["timeout_seconds"] = 60,
            },
            new JsonObject
            {
                ["id"] = "shape",
                ["type"] = "transform",
                ["display_name"] = "Shape the answer",
                ["description"] = "Trims the model's text to a length a UI can show.",
                ["config"] = new JsonObject
                {
                    ["operation"] = "truncate",
                    ["input"] = "${steps.draft.output.text}",
                    ["max_chars"] = 2000,
                },
            }),
        ["output"] = new JsonObject
        {
            ["topic"] = "${input.topic}",
            ["explanation"] = "${steps.shape.output}",
            ["model"] = "${steps.draft.output.model}",
        },
        ["timeout_seconds"] = 120,
        ["max_cost_usd"] = 0.5,
    };

    private const string Prompt = """
        Explain {{topic}} in three short paragraphs{{#if audience}} for {{audience}}{{/if}}.
        Use plain words, one concrete example, and no headings.

        """;
}
