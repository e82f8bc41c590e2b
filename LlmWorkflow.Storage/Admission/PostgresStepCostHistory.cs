using System.Collections.Concurrent;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Engine.Llm.Budgets;
using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LlmWorkflow.Storage.Admission;

/// <summary>
/// What a workflow's steps cost past jobs, from the usage rows (<c>llm_provider_usage</c>, the billed cost, those of
/// deleted jobs included) of each step's last <see cref="Sample"/> paid or cached calls per model of its chain: one
/// query per workflow, each (step, model) read from the top of the index <c>idx_provider_usage_step</c>, so its cost
/// does not grow with the history. Kept in memory for <see cref="Fresh"/> (a workflow without history for
/// <see cref="FreshWithoutHistory"/>: its first jobs teach it), so a job run asks it at most once and a burst of jobs
/// once in all. A store that cannot be read gives no history (the forecast then uses the dry run's estimates).
/// </summary>
internal sealed partial class PostgresStepCostHistory(
    NpgsqlDataSource dataSource, IOutputTokenHistory outputs, IOptionsMonitor<AdmissionOptions> admission, TimeProvider time,
    ILogger<PostgresStepCostHistory> logger) : IStepCostHistory
{
    private const int Sample = 200;
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan FreshWithoutHistory = TimeSpan.FromSeconds(2);

    // $1 workflow name, $2 step ids and $3 models (pairs). Per step: the average over jobs of what the step cost each
    // job (its calls with every model of its chain), and per call.
    private static readonly string CostSql = $"""
        SELECT step_id, count(*)::int AS jobs, sum(usd) / count(*) AS per_job, sum(usd) / sum(calls) AS per_call FROM (
            SELECT p.step_id, recent.job, sum(recent.cost_usd) AS usd, count(*) AS calls
              FROM unnest($2::text[], $3::text[]) AS p(step_id, model)
             CROSS JOIN LATERAL (
                SELECT coalesce(job_id, id) AS job, cost_usd FROM llm_provider_usage
                 WHERE metadata->>'workflow_name' = $1 AND metadata->>'step_id' = p.step_id AND model = p.model
                 ORDER BY created_at DESC LIMIT {Sample}) recent
             GROUP BY p.step_id, recent.job) per_job
         GROUP BY step_id
        """;

    private readonly ConcurrentDictionary<string, (IReadOnlyDictionary<string, LearnedStepCost> Costs, DateTimeOffset ReadAt)> _known = new(StringComparer.Ordinal);

    public IOutputTokenHistory? OutputHistory => outputs;

    public int DefaultOutputTokens => admission.CurrentValue.Admission.DefaultOutputTokens;

    public async ValueTask<IReadOnlyDictionary<string, LearnedStepCost>> StepCostsAsync(
        string workflowName, IReadOnlyCollection<(string StepId, string Model)> stepModels, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        // One entry per workflow and chain set: a definition whose models are templated plans other pairs per job.
        var cacheKey = string.Join('\n', stepModels.Select(p => $"{p.StepId}\t{p.Model}").Order(StringComparer.Ordinal).Prepend(workflowName));
        if (_known.TryGetValue(cacheKey, out var known) && now - known.ReadAt < (known.Costs.Count == 0 ? FreshWithoutHistory : Fresh))
        {
            return known.Costs;
        }

        var costs = new Dictionary<string, LearnedStepCost>(StringComparer.Ordinal);
        try
        {
            await using var command = dataSource.CreateCommand(CostSql);
            command.Parameters.Add(new NpgsqlParameter { Value = workflowName });
            command.Parameters.Add(new NpgsqlParameter { Value = stepModels.Select(p => p.StepId).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = stepModels.Select(p => p.Model).ToArray() });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                costs[reader.Field<string>("step_id")] = new LearnedStepCost(
                    Math.Round(reader.Field<decimal>("per_job"), 6), Math.Round(reader.Field<decimal>("per_call"), 6), reader.Field<int>("jobs"));
            }
        }
        catch (NpgsqlException ex)
        {
            LogUnreadable(ex, workflowName);
            return costs;
        }

        _known[cacheKey] = (costs, now);
        return costs;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The past cost of workflow {Workflow}'s steps could not be read; its remaining-cost forecast uses the dry run's estimates")]
    private partial void LogUnreadable(Exception ex, string workflow);
}
