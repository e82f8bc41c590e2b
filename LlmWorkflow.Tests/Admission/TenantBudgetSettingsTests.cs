using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Llm.Budgets;

namespace LlmWorkflow.Tests.Admission;

/// <summary>The budget settings and a definition's on_budget are checked when they are read, naming what is wrong.</summary>
[UnitTest]
public sealed class TenantBudgetSettingsTests
{
    private const string Steps = """ "steps": [{"id": "a", "type": "transform", "config": {"operation": "uppercase", "input": "x"}}] """;

    [Theory]
    [InlineData("""  "on_budget": "explode", """, "$.on_budget")]
    [InlineData("""  "on_budget": "downgrade", """, "$.downgrade_model")]
    [InlineData("""  "on_budget": "downgrade", "downgrade_model": "gpt-4o-mini", """, "$.downgrade_model")]
    [InlineData("""  "downgrade_model": "openai/gpt-4o-mini", """, "$.downgrade_model")]
    public void AWrongOnBudgetIsRefusedNamingTheField(string members, string path)
    {
        var loaded = WorkflowDefinitionLoader.Parse("{\"name\": \"w\", " + members + Steps + "}", "w.json");

        Assert.Null(loaded.Definition);
        var problem = Assert.Single(loaded.Problems);
        Assert.Equal((path, OnBudget.InvalidCode), (problem.JsonPath, problem.Code));
    }

    [Theory]
    [InlineData("", OnBudget.Fail)]
    [InlineData("""  "on_budget": "wait", """, OnBudget.Wait)]
    [InlineData("""  "on_budget": "downgrade", "downgrade_model": "openai/gpt-4o-mini", """, OnBudget.Downgrade)]
    public void AValidOnBudgetLoads(string members, string expected)
    {
        var loaded = WorkflowDefinitionLoader.Parse("{\"name\": \"w\", " + members + Steps + "}", "w.json");

        Assert.Equal(expected, OnBudget.Of(loaded.Definition!));
    }

    [Theory]
    [InlineData("""  "budget_check": "everything", """)]
    [InlineData("""  "budget_check": "Remaining", """)]
    public void AWrongBudgetCheckIsRefusedNamingTheField(string members)
    {
        var loaded = WorkflowDefinitionLoader.Parse("{\"name\": \"w\", " + members + Steps + "}", "w.json");

        Assert.Null(loaded.Definition);
        var problem = Assert.Single(loaded.Problems);
        Assert.Equal(("$.budget_check", BudgetCheck.InvalidCode), (problem.JsonPath, problem.Code));
        Assert.Contains("budget_check must be one of step, remaining", problem.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", false)]
    [InlineData("""  "budget_check": "step", """, false)]
    [InlineData("""  "budget_check": "remaining", "on_budget": "wait", """, true)]
    public void AValidBudgetCheckLoads(string members, bool checksRemaining)
    {
        var loaded = WorkflowDefinitionLoader.Parse("{\"name\": \"w\", " + members + Steps + "}", "w.json");

        Assert.Equal(checksRemaining, BudgetCheck.ChecksRemaining(loaded.Definition!));
    }

    [Fact]
    public void InvalidBudgetsAndWindowsAreNamedInTheSettingsOwnTerms()
    {
        var options = new TenantBudgetOptions
        {
            Tenants = { ["acme"] = new TenantBudgetEntry { Budgets = new TenantBudget { DailyUsd = -1, PerUserDailyUsd = 2 } } },
            Windows = { DailyWindow = TimeSpan.Zero },
        };

        var problems = options.Problems().ToList();

        Assert.Equal(2, problems.Count);
        Assert.StartsWith("Tenants:acme:Budgets:DailyUsd must be between 0 and", problems[0], StringComparison.Ordinal);
        Assert.StartsWith("Budgets:DailyWindow and Budgets:MonthlyWindow", problems[1], StringComparison.Ordinal);
        Assert.Null(new TenantBudgetOptions().For("acme"));
        Assert.Equal(2, options.For("acme")!.PerUserDailyUsd);
    }
}
