using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;
using Npgsql;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// The claim with a tenant capped (<c>Tenants:capped:MaxConcurrentJobs</c> 1) on a real PostgreSQL: another tenant's
/// jobs without a concurrency key are claimed by the plain statement, which names the capped tenant's and the keyed
/// ones for the limits' statement, and leaves them queued for it.
/// </summary>
[IntegrationTest]
public sealed class ClaimOutsideLimitsTests(TestServers servers) : IAsyncLifetime
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync() =>
        _db = await LifecycleDatabase.CreateAsync(servers, nameof(ClaimOutsideLimitsTests), TestContext.Current.CancellationToken,
            new Dictionary<string, string?> { ["Tenants:capped:MaxConcurrentJobs"] = "1" });

    public ValueTask DisposeAsync() => _db.DisposeAsync();

    [Fact]
    public async Task AnUncappedTenantsJobsAreClaimedPlainlyAndTheCappedAndKeyedOnesAreLeftToTheLimits()
    {
        var ct = TestContext.Current.CancellationToken;
        var caps = _db.Get<TenantConcurrency>();
        await JobsAsync("capped", JobStatus.Processing, 1);
        var plain = await JobsAsync("other", JobStatus.Queued, 2);
        var capped = await JobsAsync("capped", JobStatus.Queued, 2);
        var keyed = await JobsAsync("other", JobStatus.Queued, 1);
        await ExecuteAsync("UPDATE llm_workflow_jobs SET concurrency_key = 'k', concurrency_limit = 1 WHERE id = ANY($1)", keyed);
        var finished = await JobsAsync("other", JobStatus.Completed, 1);

        var (claimed, limited) = await _db.Store.ClaimOutsideLimitsAsync([.. plain, .. capped, .. keyed, .. finished], "worker-a", Lease, caps, ct);

        Assert.Equal(plain.Order(), claimed.Keys.Order());
        Assert.Equal(capped.Concat(keyed).Order(), limited.Order());
        foreach (var id in capped.Concat(keyed))
        {
            Assert.Equal(JobStatus.Queued, await _db.StatusAsync(id));
        }

        // The limits' statement then parks the capped tenant's jobs (its one slot is taken) and claims the keyed one.
        var (withinLimits, held) = await _db.Store.ClaimWithinLimitsAsync(limited, "worker-a", Lease, caps, null, DateTimeOffset.UtcNow.AddSeconds(3), ct);
        Assert.Equal(keyed, withinLimits.Keys);
        Assert.Equal(2, held);
    }

    [Fact]
    public async Task ABatchWithNoLimitedJobNamesNone()
    {
        var ct = TestContext.Current.CancellationToken;
        var plain = await JobsAsync("other", JobStatus.Queued, 3);

        var (claimed, limited) = await _db.Store.ClaimOutsideLimitsAsync(plain, "worker-a", Lease, _db.Get<TenantConcurrency>(), ct);

        Assert.Equal(plain.Order(), claimed.Keys.Order());
        Assert.Empty(limited);
    }

    private async Task<Guid[]> JobsAsync(string tenant, JobStatus status, int count)
    {
        var ids = new Guid[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = await _db.InsertJobAsync(status, webhookUrl: null);
        }

        await ExecuteAsync("UPDATE llm_workflow_jobs SET tenant_id = $1 WHERE id = ANY($2)", tenant, ids);
        return ids;
    }

    private async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = _db.Database.CreateCommand(sql);
        foreach (var value in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        await command.ExecuteNonQueryAsync();
    }
}
