using System.Collections.Concurrent;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Engine.Llm.Budgets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LlmWorkflow.Pipeline.Admission;

/// <summary>
/// What a workflow's steps cost past jobs, from the usage rows (<c>llm_provider_usage</c>, the billed cost, those of
/// deleted jobs included) of its last <see cref="Sample"/> paid or cached calls: one query per workflow, kept in memory
/// for <see cref="Fresh"/> (a workflow without history for <see cref="FreshWithoutHistory"/>: its first jobs teach it), so
/// a job run asks it at most once and a burst of jobs once in all. A store that cannot be
/// read gives no history (the forecast then uses the dry run's estimates).
/// </summary>
internal sealed partial class PostgresStepCostHistory(
    NpgsqlDataSource dataSource, IOutputTokenHistory outputs, IOptionsMonitor<AdmissionOptions> admission, TimeProvider time,
    ILogger<PostgresStepCostHistory> logger) : IStepCostHistory
{
    private const int Sample = 2000;
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan FreshWithoutHistory = TimeSpan.FromSeconds(2);

    // $1 workflow name. Per step: the average over jobs of what the step cost each job, and per call.
    private static readonly string CostSql = $"""
        SELECT step_id, count(*)::int AS jobs, sum(usd) / count(*) AS per_job, sum(usd) / sum(calls) AS per_call FROM (
            SELECT step_id, job, sum(cost_usd) AS usd, count(*) AS calls FROM (
                SELECT metadata->>'step_id' AS step_id, coalesce(job_id, id) AS job, cost_usd FROM llm_provider_usage
                 WHERE metadata->>'workflow_name' = $1 AND metadata->>'step_id' IS NOT NULL
                 ORDER BY created_at DESC LIMIT {Sample}) recent
             GROUP BY step_id, job) per_job
         GROUP BY step_id
        """;

    private readonly ConcurrentDictionary<string, (IReadOnlyDictionary<string, LearnedStepCost> Costs, DateTimeOffset ReadAt)> _known = new(StringComparer.Ordinal);

    public IOutputTokenHistory? OutputHistory => outputs;

    public int DefaultOutputTokens => admission.CurrentValue.Admission.DefaultOutputTokens;

    public async ValueTask<IReadOnlyDictionary<string, LearnedStepCost>> StepCostsAsync(string workflowName, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_known.TryGetValue(workflowName, out var known) && now - known.ReadAt < (known.Costs.Count == 0 ? FreshWithoutHistory : Fresh))
        {
            return known.Costs;
        }

        var costs = new Dictionary<string, LearnedStepCost>(StringComparer.Ordinal);
        try
        {
            await using var command = dataSource.CreateCommand(CostSql);
            command.Parameters.Add(new NpgsqlParameter { Value = workflowName });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                costs[reader.GetString(0)] = new LearnedStepCost(Math.Round(reader.GetDecimal(2), 6), Math.Round(reader.GetDecimal(3), 6), reader.GetInt32(1));
            }
        }
        catch (NpgsqlException ex)
        {
            LogUnreadable(ex, workflowName);
            return costs;
        }

        _known[workflowName] = (costs, now);
        return costs;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The past cost of workflow {Workflow}'s steps could not be read; its remaining-cost forecast uses the dry run's estimates")]
    private partial void LogUnreadable(Exception ex, string workflow);
}
