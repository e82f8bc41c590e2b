using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Templates;

namespace LlmWorkflow.Tests.Templates;

[UnitTest]
public sealed class PromptLibraryTests : IDisposable
{
    private readonly TempPromptFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void RendersVariablesConditionalsAndLoopsWithoutHtmlEscaping()
    {
        folder.With("emergency-contacts/user.md", """
            Location: {{city}}, {{state}} <{{lat}}, {{lng}}>
            {{#if scenarios}}Scenarios:{{#each scenarios}} {{this}}{{/each}}{{/if}}
            {{#if nickname}}Hi {{nickname}}{{else}}Hi there{{/if}} & family of {{family_size}}
            Raw: {{location}}
            """);
        var text = new PromptLibrary(folder.Root).Render("emergency-contacts/user.md",
            JsonNode.Parse("""{"city": "San Francisco", "state": "CA", "lat": 37.7749, "lng": -122.4194, "scenarios": ["earthquake", "fire"], "family_size": 4, "location": {"zip": "94103"}}"""));
        Assert.Equal("""
            Location: San Francisco, CA <37.7749, -122.4194>
            Scenarios: earthquake fire
            Hi there & family of 4
            Raw: {"zip":"94103"}
            """, text.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void ExpandsNestedIncludesRelativeToTheRoot()
    {
        folder.With("shared/safety.md", "Safety: {{include:shared/footer.md}}\n")
            .With("shared/footer.md", "---\ndescription: footer\n---\nStay calm.\n")
            .With("emergency-contacts/system.md", "You help {{city}}.\n{{include:shared/safety.md}}\nEnd.");
        var template = new PromptLibrary(folder.Root).Load("emergency-contacts/system.md");
        Assert.Equal("You help {{city}}.\nSafety: Stay calm.\nEnd.", template.Body);
        Assert.Equal("You help Oakland.\nSafety: Stay calm.\nEnd.", template.Render(JsonNode.Parse("""{"city": "Oakland"}""")));
    }

    [Fact]
    public void ParsesFrontMatter()
    {
        folder.With("mission/plan.md", """
            ---
            # settings for the planner
            model: "anthropic/claude-3.5-sonnet"
            max_tokens: 4000
            temperature: 0.7
            description: Mission plan: full report
            ---
            Plan for {{city}}
            """);
        var template = new PromptLibrary(folder.Root).Load("mission/plan.md");
        Assert.Equal(new PromptFrontMatter("anthropic/claude-3.5-sonnet", 4000, 0.7f, "Mission plan: full report"), template.FrontMatter);
        Assert.Equal("Plan for {{city}}", template.Body.TrimEnd());
        Assert.Equal("mission/plan.md", template.Path);
    }

    [Fact]
    public void LoadIsCachedAndHashIsStable()
    {
        folder.With("a.md", "Hello {{name}}");
        var library = new PromptLibrary(folder.Root);
        var first = library.Load("a.md");
        Assert.Same(first, library.Load("./a.md".TrimStart('.')));
        Assert.Equal(PromptHash.Compute("Hello {{name}}"), first.Hash);
        Assert.Equal("185f8db32271fe25f561a6fc938b2e264306ec304eda518007d1764826381969", PromptHash.Compute("Hello"));
    }

    [Fact]
    public void MissingFileAndMissingIncludeAreConfigErrorsNamingTheFiles()
    {
        folder.With("main.md", "Intro\n{{include:parts/missing.md}}");
        var library = new PromptLibrary(folder.Root);

        var missingFile = Assert.Throws<WorkflowException>(() => library.Load("nope.md")).Error;
        Assert.Equal(ErrorCategory.ConfigError, missingFile.Category);
        Assert.Contains("'nope.md' does not exist", missingFile.Message, StringComparison.Ordinal);

        var missingInclude = Assert.Throws<WorkflowException>(() => library.Load("main.md")).Error;
        Assert.Equal(ErrorCategory.ConfigError, missingInclude.Category);
        Assert.Equal("Prompt 'main.md' includes 'parts/missing.md', which does not exist", missingInclude.Message);
    }

    [Fact]
    public void IncludeCycleNamesTheCycle()
    {
        folder.With("a.md", "A {{include:b.md}}").With("b.md", "B {{include:c.md}}").With("c.md", "C {{include:a.md}}");
        var error = Assert.Throws<WorkflowException>(() => new PromptLibrary(folder.Root).Load("a.md")).Error;
        Assert.Equal("Prompt include cycle: a.md -> b.md -> c.md -> a.md", error.Message);
    }

    [Fact]
    public void IncludesCannotLeaveThePromptsFolder()
    {
        folder.With("a.md", "{{include:../secrets.txt}}");
        var error = Assert.Throws<WorkflowException>(() => new PromptLibrary(folder.Root).Load("a.md")).Error;
        Assert.Contains("outside the prompts folder", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckReportsEveryProblemWithoutThrowing()
    {
        folder.With("bad.md", "{{include:x.md}} {{include:y.md}} {{#if a}}unclosed")
            .With("y.md", "---\ncolor: blue\n---\nY")
            .With("front.md", "---\nmax_tokens: many\n---\nbody")
            .With("good.md", "Fine {{x}}");
        var library = new PromptLibrary(folder.Root);

        var problems = library.Check("bad.md");
        Assert.Equal(3, problems.Count);
        Assert.Equal("Prompt 'bad.md' includes 'x.md', which does not exist", problems[0]);
        Assert.Contains("unknown front matter key 'color'", problems[1], StringComparison.Ordinal);
        Assert.StartsWith("Prompt 'bad.md': template syntax:", problems[2], StringComparison.Ordinal);

        Assert.Equal(["Prompt 'front.md': front matter 'max_tokens' must be a positive whole number, got 'many'"], library.Check("front.md"));
        Assert.Single(library.Check("absent.md"));
        Assert.Empty(library.Check("good.md"));
    }

    [Fact]
    public void TemplateSyntaxErrorsFailAtLoad()
    {
        folder.With("broken.md", "{{#each items}}{{/if}}");
        var error = Assert.Throws<WorkflowException>(() => new PromptLibrary(folder.Root).Load("broken.md")).Error;
        Assert.Equal("invalid_prompt", error.Type);
        Assert.StartsWith("Prompt 'broken.md': template syntax:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EmptyFrontMatterIsAllowed()
    {
        var template = PromptTemplate.FromText("---\n---\nBody");
        Assert.Equal(PromptFrontMatter.None, template.FrontMatter);
        Assert.Equal("Body", template.Body);
    }

    [Fact]
    public void UnclosedFrontMatterIsAnError()
    {
        folder.With("open.md", "---\nmodel: x\nbody without end");
        Assert.Contains("no closing '---'", Assert.Throws<WorkflowException>(() => new PromptLibrary(folder.Root).Load("open.md")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InlineTemplatesRenderAndLibraryInlineTextResolvesIncludes()
    {
        var inline = PromptTemplate.FromText("---\ntemperature: 0.2\n---\nSummarize {{topic}}");
        Assert.Equal(PromptTemplate.InlinePath, inline.Path);
        Assert.Equal(0.2f, inline.FrontMatter.Temperature);
        Assert.Equal("Summarize floods", inline.Render(JsonNode.Parse("""{"topic": "floods"}""")));
        Assert.Equal("Hi", PromptTemplate.FromText("Hi").Render(null));
        Assert.Throws<WorkflowException>(() => PromptTemplate.FromText("{{include:a.md}}"));

        folder.With("shared/tone.md", "Be brief.");
        Assert.Equal("Be brief. Go.", new PromptLibrary(folder.Root).FromText("{{include:shared/tone.md}} Go.").Render(null));
    }
}
