using LlmWorkflow.Engine.Llm.Budgets;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Admission;

/// <summary>What past jobs' usage rows teach the remaining-cost forecast, read from a real PostgreSQL.</summary>
[IntegrationTest]
public sealed class StepCostHistoryTests(TestServers servers)
{
    [Fact]
    public async Task AStepsLearnedCostIsItsAverageCostPerJobThatRanItAndPerCall()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await LifecycleDatabase.CreateAsync(servers, "step_cost_history", ct);
        // Job a called "ask" twice ($0.001 each, a loop), job b once with its chain's first model ($0.002) and once with
        // its fallback ($0.002); another workflow's step and a model outside the chain are not counted.
        await using (var insert = db.Database.CreateCommand("""
            INSERT INTO llm_provider_usage (job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, metadata)
            VALUES (md5('a')::uuid, 'openai', 'openai/gpt-4o', 10, 5, 15, 0.001, '{"workflow_name": "learn", "step_id": "ask"}'),
                   (md5('a')::uuid, 'openai', 'openai/gpt-4o', 10, 5, 15, 0.001, '{"workflow_name": "learn", "step_id": "ask"}'),
                   (md5('b')::uuid, 'openai', 'openai/gpt-4o', 10, 5, 15, 0.002, '{"workflow_name": "learn", "step_id": "ask"}'),
                   (md5('b')::uuid, 'anthropic', 'anthropic/claude', 10, 5, 15, 0.002, '{"workflow_name": "learn", "step_id": "ask"}'),
                   (md5('d')::uuid, 'openai', 'openai/o3', 10, 5, 15, 0.900, '{"workflow_name": "learn", "step_id": "ask"}'),
                   (md5('c')::uuid, 'openai', 'openai/gpt-4o', 10, 5, 15, 0.500, '{"workflow_name": "elsewhere", "step_id": "ask"}');
            """))
        {
            await insert.ExecuteNonQueryAsync(ct);
        }

        var history = db.Get<IStepCostHistory>();
        var learned = await history.StepCostsAsync("learn", [("ask", "openai/gpt-4o"), ("ask", "anthropic/claude"), ("other", "openai/gpt-4o")], ct);

        Assert.Equal(new LearnedStepCost(0.003m, 0.0015m, 2), Assert.Single(learned, pair => pair.Key == "ask").Value);
        Assert.Single(learned);
        Assert.Empty(await history.StepCostsAsync("never_ran", [("ask", "openai/gpt-4o")], ct));
    }
}
