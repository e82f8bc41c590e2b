using System.Diagnostics.Metrics;
using LlmWorkflow.Engine;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Engine.Llm.Budgets;
using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LlmWorkflow.Storage.Admission;

/// <summary>
/// The dollar budgets of tenants and their users (<c>Tenants:&lt;id&gt;:Budgets</c>), held in Redis
/// (<see cref="RedisSpendStore"/>) and seeded from PostgreSQL's usage rows when Redis has no state for a window. A
/// Redis that cannot be reached lets the call through (logged and counted): budgets degrade, jobs never stall.
/// </summary>
public sealed partial class TenantSpendBudgets(
    RedisSpendStore store,
    NpgsqlDataSource dataSource,
    IOutputTokenHistory history,
    IOptionsMonitor<TenantBudgetOptions> options,
    IOptionsMonitor<AdmissionOptions> admission,
    TimeProvider time,
    ILogger<TenantSpendBudgets> logger)
{
    private readonly IOutputTokenHistory _history = history;
    private readonly IOptionsMonitor<AdmissionOptions> _admission = admission;
    private readonly IOptionsMonitor<TenantBudgetOptions> _options = options;
    private readonly object _settlementGate = new();
    private Task<bool>? _subscription;
    private long _settlements;
    private TaskCompletionSource _nextSettlement = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static readonly Counter<long> Refused = Telemetry.Meter.CreateCounter<long>(
        "llmworkflow.budget.refused", unit: "{step}",
        description: "llm steps whose forecast cost did not fit a tenant's or user's dollar budget (then on_budget decides), by tenant and budget (daily, monthly, per_user_daily).");

    private static readonly Counter<long> Degraded = Telemetry.Meter.CreateCounter<long>(
        "llmworkflow.budget.degraded", unit: "{step}", description: "llm steps let through unchecked because the dollar budgets' store (Redis) could not be reached.");

    // Spend of the scope's window in the seed's buckets: a usage row belongs to its job's tenant and user, or (the job
    // deleted) to the tenant and user copied into the row.
    // $1 window start, $2 tenant id, $3 user id (NULL: the tenant's whole spend), $4 bucket length in ms.
    private const string SeedSql = """
        SELECT floor(extract(epoch FROM u.created_at) * 1000 / $4)::bigint AS bucket, sum(u.cost_usd) AS usd
          FROM llm_provider_usage u LEFT JOIN llm_workflow_jobs j ON j.id = u.job_id
         WHERE u.created_at > $1 AND u.cost_usd > 0
           AND coalesce(u.tenant_id, j.tenant_id) = $2
           AND ($3::text IS NULL OR coalesce(u.user_id, j.user_id) = $3)
         GROUP BY 1
        """;

    /// <summary>The job's budgets, or null when its tenant has none.</summary>
    public ISpendBudget? For(string? tenantId, string? userId) =>
        Scopes(tenantId, userId) is { Count: > 0 } scopes ? new JobSpendBudget(this, scopes) : null;

    /// <summary>The scopes that apply to a tenant's (and its user's) steps, as set now.</summary>
    public IReadOnlyList<SpendScope> Scopes(string? tenantId, string? userId)
    {
        var current = _options.CurrentValue;
        if (tenantId is null || current.For(tenantId) is not { } budget)
        {
            return [];
        }

        var windows = current.Windows;
        var scopes = new List<SpendScope>(3);
        if (budget.DailyUsd is { } daily)
        {
            scopes.Add(new SpendScope($"tenant:{tenantId}:daily", daily, windows.DailyWindow, tenantId, null));
        }

        if (budget.MonthlyUsd is { } monthly)
        {
            scopes.Add(new SpendScope($"tenant:{tenantId}:monthly", monthly, windows.MonthlyWindow, tenantId, null));
        }

        if (budget.PerUserDailyUsd is { } perUser && userId is not null)
        {
            scopes.Add(new SpendScope($"tenant:{tenantId}:user:{userId}:daily", perUser, windows.DailyWindow, tenantId, userId));
        }

        return scopes;
    }

    /// <summary>A scope's window now (seeded from PostgreSQL first when Redis has no state), for the budget report.</summary>
    public async Task<SpendUsage> UsageAsync(SpendScope scope, CancellationToken cancellationToken)
    {
        if (await store.UsageAsync(scope).ConfigureAwait(false) is { } usage)
        {
            return usage;
        }

        await SeedAsync(scope, cancellationToken).ConfigureAwait(false);
        return await store.UsageAsync(scope).ConfigureAwait(false) ?? new SpendUsage(0, 0);
    }

    private async Task<SpendVerdict> ReserveAsync(IReadOnlyList<SpendScope> scopes, string leaseId, decimal estimateUsd, CancellationToken cancellationToken)
    {
        try
        {
            // Each round seeds at most one scope; one more round reserves.
            for (var round = 0; round <= scopes.Count; round++)
            {
                var result = await store.ReserveAsync(leaseId, scopes, estimateUsd).ConfigureAwait(false);
                if (result.Verdict is { } verdict)
                {
                    if (verdict.Outcome == SpendOutcome.Exceeded)
                    {
                        // By tenant and kind of budget, not by scope: a user's id in a tag would grow the series without bound.
                        var refused = scopes.First(s => s.Scope == verdict.Scope);
                        Refused.Add(1, new KeyValuePair<string, object?>("llmworkflow.tenant", refused.TenantId),
                            new KeyValuePair<string, object?>("llmworkflow.budget", refused.Kind));
                    }

                    return verdict;
                }

                await SeedAsync(result.NeedsSeed!, cancellationToken).ConfigureAwait(false);
            }

            return SpendVerdict.Reserved;
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException or NpgsqlException)
        {
            Degraded.Add(1);
            LogStoreUnreachable(ex, scopes[0].TenantId);
            return SpendVerdict.Reserved;
        }
    }

    private async Task SettleAsync(IReadOnlyList<SpendScope> scopes, string leaseId, decimal costUsd)
    {
        try
        {
            await store.SettleAsync(leaseId, scopes, costUsd).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            // The call's usage row carries its cost: the next seed of the window counts it.
            LogSettleFailed(ex, scopes[0].TenantId);
        }
    }

    private async Task SeedAsync(SpendScope scope, CancellationToken cancellationToken)
    {
        var bucketMs = RedisSpendStore.BucketMs(scope.Window);
        await using var command = dataSource.CreateCommand(SeedSql);
        command.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow() - scope.Window });
        command.Parameters.Add(new NpgsqlParameter { Value = scope.TenantId });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)scope.UserId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = bucketMs });
        var buckets = new List<(long, decimal)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                buckets.Add((reader.Field<long>("bucket"), reader.Field<decimal>("usd")));
            }
        }

        if (await store.SeedAsync(scope, buckets).ConfigureAwait(false))
        {
            LogSeeded(scope.Scope, buckets.Sum(b => b.Item2));
        }
    }

    /// <summary>See <see cref="ISpendBudget.SettlementsSeen"/>; the first read subscribes to the notices.</summary>
    private long SettlementsSeen
    {
        get
        {
            lock (_settlementGate)
            {
                // A failed subscription (even one that failed before its first await) is tried again by the next read.
                if (_subscription is null || _subscription is { IsCompletedSuccessfully: true, Result: false })
                {
                    _subscription = SubscribeAsync();
                }

                return _settlements;
            }
        }
    }

    /// <summary>Subscribes to the settlement notices; false when Redis refused (waiting steps then ask again after the cap).</summary>
    private async Task<bool> SubscribeAsync()
    {
        try
        {
            await store.SubscribeSettledAsync(_ => OnSettled()).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            LogSubscribeFailed(ex);
            return false;
        }
    }

    private void OnSettled()
    {
        TaskCompletionSource settled;
        lock (_settlementGate)
        {
            _settlements++;
            settled = _nextSettlement;
            _nextSettlement = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        settled.TrySetResult();
    }

    private async Task WaitForSettlementAsync(long seen, TimeSpan max, CancellationToken cancellationToken)
    {
        Task next;
        lock (_settlementGate)
        {
            if (_settlements != seen)
            {
                return;
            }

            next = _nextSettlement.Task;
        }

        try
        {
            await next.WaitAsync(max, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // No notice within the cap: the caller asks again anyway.
        }
    }

    private sealed class JobSpendBudget(TenantSpendBudgets owner, IReadOnlyList<SpendScope> scopes) : ISpendBudget
    {
        public long SettlementsSeen => owner.SettlementsSeen;

        public Task WaitForSettlementAsync(long seen, TimeSpan max, CancellationToken cancellationToken) =>
            owner.WaitForSettlementAsync(seen, max, cancellationToken);

        public IOutputTokenHistory? OutputHistory => owner._history;

        public int DefaultOutputTokens => owner._admission.CurrentValue.Admission.DefaultOutputTokens;

        public TimeSpan PendingWait => owner._options.CurrentValue.Windows.PendingWait;

        public Task<SpendVerdict> ReserveAsync(string leaseId, decimal estimateUsd, CancellationToken cancellationToken) =>
            owner.ReserveAsync(scopes, leaseId, estimateUsd, cancellationToken);

        public Task SettleAsync(string leaseId, decimal costUsd) => owner.SettleAsync(scopes, leaseId, costUsd);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The dollar budgets of tenant {Tenant} could not be checked (Redis or PostgreSQL unreachable); the step runs unchecked")]
    private partial void LogStoreUnreachable(Exception ex, string tenant);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A step's cost could not be settled in the dollar budgets of tenant {Tenant}; the next seed from the usage rows corrects it")]
    private partial void LogSettleFailed(Exception ex, string tenant);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Subscribing to the dollar budgets' settlement notices failed; steps waiting for a settlement ask again every second instead")]
    private partial void LogSubscribeFailed(Exception ex);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dollar budget {Scope} seeded from PostgreSQL: ${SpentUsd} in its window")]
    private partial void LogSeeded(string scope, decimal spentUsd);
}
