using LlmWorkflow.Cli;

namespace LlmWorkflow.Tests.Cli;

/// <summary>
/// What an author configures is what runs: <c>${...}</c> in inline prompts is substituted, validate finds prompt
/// files where run does, JSON syntax errors name the line an editor shows, and cost_data breaks usage down by model.
/// </summary>
[SystemTest]
public sealed class AuthoringConsistencyTests : IDisposable
{
    private readonly TempWorkflows _project = new();

    [Fact]
    public async Task InputExpressionsInInlinePromptsAreSubstituted()
    {
        _project.Definition("city.json", """
            { "name": "city", "steps": [
              { "id": "ask", "type": "llm", "config": {
                "model": "mock/echo", "system": "You know ${input.city}.",
                "prompt": "Tell me about ${input.city} in {{count}} words; keep $${literal}." ,
                "variables": { "count": 5 } } },
              { "id": "chat", "type": "llm", "config": { "model": "mock/echo",
                "messages": [ { "role": "user", "content": "Again: ${steps.ask.output.text}" } ] } }
            ] }
            """);

        var result = await CliHarness.RunAsync(_project.Root, "run", "city", "--mock", "--json", "--input", """{"city": "Paris"}""");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var steps = result.Json["steps"]!.AsArray();
        Assert.Equal("Tell me about Paris in 5 words; keep ${literal}.", (string?)steps[0]!["output"]?["text"]);
        Assert.Equal("Again: Tell me about Paris in 5 words; keep ${literal}.", (string?)steps[1]!["output"]?["text"]);
    }

    [Fact]
    public async Task DryRunShowsInlinePromptsWithTheInputSubstituted()
    {
        _project.Definition("city.json", """
            { "name": "city", "steps": [ { "id": "ask", "type": "llm", "config": { "model": "mock/echo", "prompt": "Tell me about ${input.city}" } } ] }
            """);

        var result = await CliHarness.RunAsync(_project.Root, "dry-run", "city", "--json", "--input", """{"city": "Paris"}""");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Contains("Tell me about Paris", (string?)result.Json["steps"]![0]!["rendered_prompt"]);
    }

    [Fact]
    public async Task MissingPromptFileOutsideAWorkflowsFolderIsAValidationError()
    {
        var loose = Directory.CreateTempSubdirectory("llmwf-loose-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(loose, "loose.json"), """
                { "name": "loose", "steps": [ { "id": "ask", "type": "llm", "config": { "model": "mock/echo", "prompt_file": "loose/prompt.md" } } ] }
                """);

            var validate = await CliHarness.RunAsync(loose, "validate", "loose.json", "--mock");
            var run = await CliHarness.RunAsync(loose, "run", "loose.json", "--mock");

            Assert.Equal(ExitCodes.Failure, validate.ExitCode);
            Assert.Contains("loose.json:$.steps[0].config.prompt_file: error missing_prompt_file:", validate.Out);
            Assert.NotEqual(ExitCodes.Success, run.ExitCode);
        }
        finally
        {
            Directory.Delete(loose, recursive: true);
        }
    }

    [Fact]
    public async Task ValidateUsesTheWorkflowsFolderRunWouldUse()
    {
        var other = _project.File("elsewhere/workflows/prompts/p/prompt.md", "Hello {{name}}");
        var definition = _project.File("drafts/draft.json", """
            { "name": "draft", "steps": [ { "id": "ask", "type": "llm", "config": { "model": "mock/echo", "prompt_file": "p/prompt.md" } } ] }
            """);
        File.Copy(Path.Combine(_project.Workflows, "pricing.json"), Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(other)!)!)!, "pricing.json"));

        var withoutOption = await CliHarness.RunAsync(_project.Root, "validate", definition, "--mock");
        var withOption = await CliHarness.RunAsync(_project.Root, "validate", definition, "--mock", "--workflows", "elsewhere/workflows");
        var run = await CliHarness.RunAsync(_project.Root, "run", definition, "--mock", "--workflows", "elsewhere/workflows", "--input", """{"name": "Ada"}""");

        Assert.Equal(ExitCodes.Failure, withoutOption.ExitCode);
        Assert.Contains("missing_prompt_file", withoutOption.Out);
        Assert.True(withOption.ExitCode == ExitCodes.Success, withOption.ToString());
        Assert.True(run.ExitCode == ExitCodes.Success, run.ToString());
    }

    [Fact]
    public async Task JsonSyntaxErrorsNameTheLineAnEditorShows()
    {
        // Line 3 lacks the comma after "typo"; the parser notices at the start of line 4.
        _project.Definition("syntax.json", "{\n  \"name\": \"syntax\",\n  \"version\": \"1\"\n  \"steps\": []\n}\n");
        var input = _project.File("input.json", "{\n  \"a\": 1,\n  \"b\": \n}");

        var validate = await CliHarness.RunAsync(_project.Root, "validate");
        var run = await CliHarness.RunAsync(_project.Root, "run", Path.Combine(CliHarness.RepositoryRoot, "workflows", "definitions", "hello_transform.json"), "--input", input);

        Assert.Contains("error invalid_json: line 4, column 3:", validate.Out);
        Assert.Contains("not valid JSON: line 4, column 1:", run.Error);
    }

    [Fact]
    public async Task CostDataBreaksUsageDownByModel()
    {
        _project.Definition("models.json", """
            { "name": "models", "steps": [
              { "id": "one", "type": "llm", "config": { "model": "mock/echo", "prompt": "first question" } },
              { "id": "two", "type": "llm", "config": { "model": "mock/short", "prompt": "second question" } },
              { "id": "three", "type": "llm", "config": { "model": "mock/echo", "prompt": "third question" } }
            ] }
            """);

        var result = await CliHarness.RunAsync(_project.Root, "run", "models", "--mock", "--json");
        var table = await CliHarness.RunAsync(_project.Root, "run", "models", "--mock");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var costData = result.Json["cost_data"]!;
        var models = costData["models"]!.AsArray();
        Assert.Equal(["mock/echo", "mock/short"], models.Select(m => (string?)m!["model"]));
        Assert.Equal([2, 1], models.Select(m => (int)m!["calls"]!));
        Assert.Equal((int)costData["input_tokens"]!, models.Sum(m => (int)m!["input_tokens"]!));
        Assert.Equal((int)costData["output_tokens"]!, models.Sum(m => (int)m!["output_tokens"]!));
        Assert.All(models, m => Assert.Equal("mock", (string?)m!["provider"]));
        Assert.All(models, m => Assert.False((bool)m!["unpriced"]!));
        Assert.Contains("Cost by model", table.Out);
        Assert.Contains(table.Out.Split('\n'), line => line.Contains("mock/short", StringComparison.Ordinal) && line.Contains(" 1 ", StringComparison.Ordinal));
    }

    public void Dispose() => _project.Dispose();
}
