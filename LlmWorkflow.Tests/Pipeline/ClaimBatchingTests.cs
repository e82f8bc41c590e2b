using LlmWorkflow.Pipeline.Persistence;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// Through the API and a worker on the real servers: while submissions keep arriving, the worker's claims wait for
/// company (<c>Worker:BatchLinger</c>) and carry several jobs each, where without the wait each submission is
/// claimed on its own; a job submitted after a quiet spell is claimed at once. A claim's jobs share their
/// <c>started_at</c> (the claim statement's transaction time), so distinct start times count the claims.
/// </summary>
public sealed class ClaimBatchingTests(TestServers servers)
{
    private const int FlowJobs = 12;
    private static readonly TimeSpan FlowSpacing = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task ASteadyFlowIsClaimedInFewBatchesAndALoneJobAtOnce()
    {
        var (claims, loneWait) = await RunFlowAsync(batchLinger: "00:00:03", nameof(ASteadyFlowIsClaimedInFewBatchesAndALoneJobAtOnce));

        // 12 submissions over 1.2 s: the first claimed at once, the rest waiting out the 3 s linger together.
        Assert.InRange(claims, 1, 3);
        Assert.True(loneWait < TimeSpan.FromSeconds(2), $"a job after a quiet spell waited {loneWait.TotalMilliseconds} ms for its claim (the linger is 3 s)");
    }

    [Fact]
    public async Task WithoutTheLingerEachSubmissionOfASlowFlowIsClaimedOnItsOwn()
    {
        var (claims, _) = await RunFlowAsync(batchLinger: "00:00:00", nameof(WithoutTheLingerEachSubmissionOfASlowFlowIsClaimedOnItsOwn));

        Assert.True(claims >= FlowJobs / 2, $"{FlowJobs} submissions 100 ms apart went out in {claims} claims");
    }

    private async Task<(int Claims, TimeSpan LoneWait)> RunFlowAsync(string batchLinger, string name)
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, name);
        var settings = environment.Settings(new Dictionary<string, string?> { ["Worker:BatchLinger"] = batchLinger });
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        var flow = new List<Guid>();
        for (var i = 0; i < FlowJobs; i++)
        {
            flow.Add(await SubmitAsync(client, ct));
            await Task.Delay(FlowSpacing, ct);
        }

        await WaitForAllAsync(client, flow, ct);

        await Task.Delay(TimeSpan.FromSeconds(3.5), ct); // a quiet spell longer than the linger
        var lone = await SubmitAsync(client, ct);
        await WaitForAllAsync(client, [lone], ct);

        await using var scope = api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LlmWorkflowDbContext>();
        var started = await db.Jobs.AsNoTracking().Where(j => flow.Contains(j.Id)).Select(j => j.StartedAt).ToListAsync(ct);
        var loneJob = await db.Jobs.AsNoTracking().SingleAsync(j => j.Id == lone, ct);
        return (started.Distinct().Count(), loneJob.StartedAt!.Value - loneJob.CreatedAt);
    }

    private static Task<Guid> SubmitAsync(HttpClient client, CancellationToken ct) =>
        ApiSubmissions.SubmitAsync(client, "hello_transform", new { name = "flow" }, ct);

    private static async Task WaitForAllAsync(HttpClient client, IEnumerable<Guid> jobs, CancellationToken ct)
    {
        foreach (var id in jobs)
        {
            var status = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{id}", TimeSpan.FromSeconds(60), ct);
            Assert.Equal("completed", (string?)status["status"]);
        }
    }
}
