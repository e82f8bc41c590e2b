using System.Diagnostics;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;
using Npgsql;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// The slot statements with <c>Worker:TenantSlotShares</c> (<see cref="SlotShares"/>) on a real PostgreSQL: 8 slots,
/// tenant <c>a</c> of weight 3 and <c>b</c> of weight 1, so while both have jobs waiting for a worker a may run 6 and b 2.
/// </summary>
[IntegrationTest]
public sealed class TenantSlotShareStoreTests(TestServers servers) : IAsyncLifetime
{
    private static readonly SlotShares Shares = new(8, ["a"], [3m]);
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync() =>
        _db = await LifecycleDatabase.CreateAsync(servers, nameof(TenantSlotShareStoreTests), TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync() => _db.DisposeAsync();

    [Fact]
    public async Task AJobPastItsTenantsShareIsParkedWhileAnotherTenantWaitsAndClaimedOnceItIsAlone()
    {
        var ct = TestContext.Current.CancellationToken;
        await JobsAsync("a", JobStatus.Processing, 6);
        var b = await JobsAsync("b", JobStatus.Queued, 1);
        var a = await JobsAsync("a", JobStatus.Queued, 2);

        var (claimedA, heldA) = await ClaimAsync(a, ct);
        var (claimedB, _) = await ClaimAsync(b, ct);
        // b's job runs now and b has nothing else waiting: a alone waits, and may use every slot.
        var (claimedAlone, heldAlone) = await ClaimAsync(await JobsAsync("a", JobStatus.Queued, 1), ct);

        Assert.Equal((0, 2), (claimedA.Count, heldA));
        Assert.Equal(new string?[] { "share", "share" }, await HeldByAsync(a));
        Assert.Equal([b[0]], claimedB.Keys);
        Assert.Equal((1, 0), (claimedAlone.Count, heldAlone));
    }

    [Fact]
    public async Task AFreedSlotGoesToTheTenantFurthestBelowItsShareAndItsFirstJobByPriority()
    {
        var ct = TestContext.Current.CancellationToken;
        await JobsAsync("a", JobStatus.Processing, 5);
        await JobsAsync("b", JobStatus.Processing, 1);
        var heldA = await HeldAsync("a", 2);
        var heldB = await HeldAsync("b", 2);
        await SetPriorityAsync(heldB[1], 5);

        // a runs 5 of its 6, b 1 of its 2: b is further below its share.
        var first = await ReleaseAsync(ct);
        // b has 2 of its 2 (one queued), a still 5 of 6.
        var second = await ReleaseAsync(ct);
        var third = await ReleaseAsync(ct);

        Assert.Equal([heldB[1]], first);
        Assert.Equal([heldA[0]], second);
        Assert.Empty(third);
    }

    [Fact]
    public async Task TheBackstopQueuesWhatEachShareLeavesFreeAndEveryShareWaitOnceSharesAreOff()
    {
        var ct = TestContext.Current.CancellationToken;
        var caps = _db.Get<TenantConcurrency>();
        await JobsAsync("a", JobStatus.Processing, 4);
        await JobsAsync("b", JobStatus.Processing, 2);
        var heldA = await HeldAsync("a", 3);
        var heldB = await HeldAsync("b", 1);

        // a may run 6: two of its held jobs; b runs its 2 already.
        var withShares = await _db.Store.ResumeFreeSlotsAsync(caps, Shares, 100, ct);
        var withoutShares = await _db.Store.ResumeFreeSlotsAsync(caps, null, 100, ct);

        Assert.Equal(heldA[..2].Order(), withShares.Select(m => m.Dispatch.JobId).Order());
        Assert.Equal(new[] { heldA[2], heldB[0] }.Order(), withoutShares.Select(m => m.Dispatch.JobId).Order());
    }

    [Fact]
    public async Task TheClaimWithSharesParksABacklogPastItsShareTimedBesideTheOtherClaims()
    {
        var ct = TestContext.Current.CancellationToken;
        // A table like the plan test's: 20,000 ended jobs of 7 tenants, and two tenants' backlogs of 500 queued jobs.
        await ExecuteAsync("""
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, status, input_data, tenant_id, attempt, queued_at, created_at, updated_at, completed_at)
            SELECT id, id::text, 'hello_transform', 'completed', '{}', 'tenant_' || (n % 7), 1, now(), now(), now(), now()
              FROM (SELECT gen_random_uuid() AS id, n FROM generate_series(1, 20000) n) g
            """);
        var backlog = await JobsAsync("a", JobStatus.Queued, 500);
        var other = await JobsAsync("b", JobStatus.Queued, 500);
        // Statistics as autovacuum keeps them: with a's running jobs and b's parked ones counted.
        await TimeClaimsAsync(backlog[..100], id => _db.Store.ClaimAsync([id], "worker-a", Lease, ct));
        await TimeClaimsAsync(other[..100], async id => (await ClaimAsync([id], ct)).Claimed);
        await ExecuteAsync("ANALYZE llm_workflow_jobs");

        var plain = await TimeClaimsAsync(backlog[100..300], id => _db.Store.ClaimAsync([id], "worker-a", Lease, ct));
        var shared = await TimeClaimsAsync(other[100..300], async id => (await ClaimAsync([id], ct)).Claimed);
        var unshared = await TimeClaimsAsync(backlog[300..500], async id => (await ClaimAsync([id], ct, withShares: false)).Claimed);

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"one-job claims, 20,000 ended jobs + 2 backlogs of 500: plain Claim median {plain.Median:F0} µs (p95 {plain.P95:F0}), " +
            $"with shares {shared.Median:F0} µs (p95 {shared.P95:F0}), the limits' statement without shares {unshared.Median:F0} µs (p95 {unshared.P95:F0}); with shares {shared.Claimed} of 200 claimed, the rest parked (b runs its share, 2)");
        Assert.Equal((200, 200), (plain.Claimed, unshared.Claimed));
        // b's share of 8 beside a's waiting backlog is 2, taken by its first claims: the rest are parked.
        Assert.Equal(0, shared.Claimed);
    }

    private async Task<(double Median, double P95, int Claimed)> TimeClaimsAsync(
        IEnumerable<Guid> ids, Func<Guid, Task<IReadOnlyDictionary<Guid, ClaimedJob>>> claim)
    {
        var times = new List<double>();
        var claimed = 0;
        foreach (var id in ids)
        {
            var watch = Stopwatch.StartNew();
            claimed += (await claim(id)).Count;
            times.Add(watch.Elapsed.TotalMicroseconds);
        }

        times.Sort();
        return (times[times.Count / 2], times[(int)(times.Count * 0.95)], claimed);
    }

    private Task<(IReadOnlyDictionary<Guid, ClaimedJob> Claimed, int Held)> ClaimAsync(IReadOnlyCollection<Guid> ids, CancellationToken ct, bool withShares = true) =>
        _db.Store.ClaimWithinLimitsAsync(ids, "worker-a", Lease, _db.Get<TenantConcurrency>(), withShares ? Shares : null, DateTimeOffset.UtcNow.AddSeconds(3), ct);

    private async Task<Guid[]> ReleaseAsync(CancellationToken ct) =>
        [.. (await _db.Store.ResumeForSlotAsync("a", null, null, null, Shares, ct)).Select(m => m.Dispatch.JobId)];

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

    /// <summary>Jobs their tenant's share held at a claim, as the claim leaves them.</summary>
    private async Task<Guid[]> HeldAsync(string tenant, int count)
    {
        var ids = await JobsAsync(tenant, JobStatus.Queued, count);
        await ExecuteAsync($$"""
            UPDATE llm_workflow_jobs SET status = 'waiting', dispatched_at = NULL,
                   wait_data = jsonb_build_object('kind', '{{JobLifecycleStore.SlotWaitKind}}', 'step_id', '', 'step_key', '', 'until', now(),
                                                  'slot', jsonb_build_object('by', 'share', 'tenant_id', tenant_id, 'at', 'claim'), 'resumes', NULL)
             WHERE id = ANY($1)
            """, ids);
        return ids;
    }

    private Task SetPriorityAsync(Guid id, int priority) => ExecuteAsync("UPDATE llm_workflow_jobs SET priority = $2 WHERE id = $1", id, priority);

    private async Task<string?[]> HeldByAsync(IEnumerable<Guid> ids)
    {
        await using var command = _db.Database.CreateCommand(
            "SELECT wait_data->'slot'->>'by' FROM llm_workflow_jobs WHERE id = ANY($1) AND status = 'waiting' ORDER BY id");
        command.Parameters.Add(new NpgsqlParameter { Value = ids.ToArray() });
        await using var reader = await command.ExecuteReaderAsync();
        var held = new List<string?>();
        while (await reader.ReadAsync())
        {
            held.Add(reader.IsDBNull(0) ? null : reader.GetString(0));
        }

        return [.. held];
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
