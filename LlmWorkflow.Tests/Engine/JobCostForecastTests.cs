using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Engine.Llm.Budgets;
using LlmWorkflow.Tests.Engine.Fakes;

namespace LlmWorkflow.Tests.Engine;

/// <summary>
/// The remaining-cost forecast of a running job. Prices make the numbers plain: <c>openai/unit</c> charges nothing for
/// input and $1 per output token, so a step without history is forecast at its max_tokens in dollars.
/// </summary>
[UnitTest]
public sealed class JobCostForecastTests
{
    private static readonly DictionaryPriceTable Prices = new(new() { ["openai/unit"] = new ModelPrice(0m, 1_000_000m) });

    private static string Llm(string id, int maxTokens) =>
        $$"""{"id": "{{id}}", "type": "llm", "config": {"model": "openai/unit", "prompt": "{{id}}", "max_tokens": {{maxTokens}} } }""";

    private static async Task<(WorkflowDefinition Workflow, JobCostForecast Forecast)> ForecastAsync(
        string steps, IStepCostHistory? history = null, JsonObject? input = null)
    {
        var workflow = TestWorkflows.WithSteps(steps);
        var planned = new DryRunPlanner(new WorkflowValidator(), prices: Prices).PlanSteps(workflow, input, null);
        return (workflow, await JobCostForecast.BuildAsync(workflow.Name, planned, Prices, history, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ALinearWorkflowForecastsTheStepsAfterTheOneAboutToRun()
    {
        var (workflow, forecast) = await ForecastAsync($"[{Llm("a", 10)}, {Llm("b", 20)}, {Llm("c", 30)}]");

        Assert.Equal([50m, 30m, 0m], new[] { "a", "b", "c" }.Select(id => forecast.RemainingAfter(workflow, id)));
    }

    [Fact]
    public async Task AConditionalCountsItsDearerBranchAndAStepInsideABranchCountsTheRestOfItsBranchAndWhatFollows()
    {
        var (workflow, forecast) = await ForecastAsync($$$"""
            [{{{Llm("a", 10)}}},
             {"id": "pick", "type": "conditional", "config": {"condition": "input.vip", "then": [{{{Llm("x", 100)}}}], "else": [{{{Llm("y", 5)}}}, {{{Llm("z", 7)}}}]}},
             {{{Llm("d", 1)}}}]
            """);

        Assert.Equal(101m, forecast.RemainingAfter(workflow, "a"));
        Assert.Equal(8m, forecast.RemainingAfter(workflow, "y"));
        Assert.Equal(1m, forecast.RemainingAfter(workflow, "x"));
    }

    [Fact]
    public async Task AParallelStepCountsEveryBranchButAStepInOneBranchDoesNotCountItsSiblings()
    {
        var (workflow, forecast) = await ForecastAsync($$$"""
            [{{{Llm("a", 10)}}},
             {"id": "fan", "type": "parallel", "config": {"branches": {"left": [{{{Llm("p", 3)}}}, {{{Llm("q", 4)}}}], "right": [{{{Llm("r", 5)}}}]} } },
             {{{Llm("d", 1)}}}]
            """);

        Assert.Equal(13m, forecast.RemainingAfter(workflow, "a"));
        Assert.Equal(5m, forecast.RemainingAfter(workflow, "p"));
    }

    [Fact]
    public async Task ALoopCountsItsPlannedIterationsOrItsLearnedCostWhenTheItemsAreKnownOnlyAtRunTime()
    {
        var known = await ForecastAsync($$$"""
            [{{{Llm("a", 10)}}}, {"id": "each", "type": "for_each", "config": {"items": "${input.items}", "steps": [{{{Llm("e", 2)}}}]}}]
            """, input: new JsonObject { ["items"] = new JsonArray(1, 2, 3) });
        Assert.Equal(6m, known.Forecast.RemainingAfter(known.Workflow, "a"));

        var steps = $$$"""
            [{{{Llm("a", 10)}}}, {"id": "each", "type": "for_each", "config": {"items": "${steps.a.output.json.items}", "steps": [{{{Llm("e", 2)}}}]}}]
            """;
        var unknown = await ForecastAsync(steps);
        Assert.Equal(2m, unknown.Forecast.RemainingAfter(unknown.Workflow, "a"));

        // Past jobs ran e 4.5 times at $2 a call: its learned cost per job carries the learned iteration count.
        var learned = await ForecastAsync(steps, new History(new() { ["e"] = new LearnedStepCost(9m, 2m, 12) }));
        Assert.Equal(9m, learned.Forecast.RemainingAfter(learned.Workflow, "a"));

        // Items known from the input: the learned cost per call times the planned count.
        var plannedLearned = await ForecastAsync($$$"""
            [{{{Llm("a", 10)}}}, {"id": "each", "type": "for_each", "config": {"items": "${input.items}", "steps": [{{{Llm("e", 2)}}}]}}]
            """, new History(new() { ["e"] = new LearnedStepCost(9m, 1.5m, 12) }), new JsonObject { ["items"] = new JsonArray(1, 2, 3) });
        Assert.Equal(4.5m, plannedLearned.Forecast.RemainingAfter(plannedLearned.Workflow, "a"));
    }

    [Fact]
    public async Task LearnedHistoryReplacesTheDryRunEstimateStepByStep()
    {
        // b has a learned cost per job; c has no cost history but its answers' p95 is 5 output tokens (max_tokens 30).
        var history = new History(new() { ["b"] = new LearnedStepCost(0.5m, 0.5m, 40) }, new() { ["c"] = 5 });

        var (workflow, forecast) = await ForecastAsync($"[{Llm("a", 10)}, {Llm("b", 20)}, {Llm("c", 30)}]", history);

        Assert.Equal(5.5m, forecast.RemainingAfter(workflow, "a"));
        Assert.Equal(new Dictionary<string, decimal> { ["a"] = 10m, ["b"] = 0.5m, ["c"] = 5m }, forecast.StepCosts);
    }

    [Fact]
    public async Task AStepWithoutMaxTokensOrHistoryIsForecastAtTheDefaultOutput()
    {
        var (workflow, forecast) = await ForecastAsync("""
            [{"id": "a", "type": "llm", "config": {"model": "openai/unit", "prompt": "a"}}, {"id": "b", "type": "llm", "config": {"model": "openai/unit", "prompt": "b"}}]
            """, new History([]) { DefaultOutputTokens = 300 });

        Assert.Equal(300m, forecast.RemainingAfter(workflow, "a"));
    }

    private sealed class History(Dictionary<string, LearnedStepCost> costs, Dictionary<string, int>? p95 = null) : IStepCostHistory, IOutputTokenHistory
    {
        public IOutputTokenHistory? OutputHistory => this;

        public int DefaultOutputTokens { get; init; } = JobCostForecast.FallbackOutputTokens;

        public ValueTask<IReadOnlyDictionary<string, LearnedStepCost>> StepCostsAsync(
            string workflowName, IReadOnlyCollection<(string StepId, string Model)> stepModels, CancellationToken cancellationToken) =>
            ValueTask.FromResult<IReadOnlyDictionary<string, LearnedStepCost>>(costs);

        public ValueTask<int?> P95Async(string workflowName, string stepId, string model, CancellationToken cancellationToken) =>
            ValueTask.FromResult(p95?.TryGetValue(stepId, out var tokens) == true ? tokens : (int?)null);
    }
}
