using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// A tenant's own LLM limits (<c>Tenants:&lt;id&gt;:Limits:…</c>) over every worker, on real servers with two workers
/// and a fake OpenAI: the test caller's tenant (<c>tests</c>) may make two requests per two-second window; the tenant
/// <c>other-app</c> has no limit of its own.
/// </summary>
[IntegrationTest]
public sealed class TenantLimitPipelineTests(TestServers servers)
{
    private const string OtherTenantKey = "other-tenant-key";
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task ATenantsRequestLimitHoldsOverTwoWorkersWithoutHoldingBackAnotherTenant()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(10_000_000, TimeSpan.FromMinutes(1));
        var environment = await TestEnvironment.CreateAsync(servers, nameof(TenantLimitPipelineTests));
        var settings = environment.Settings(AdmissionPipelineTests.Settings(llm, new Dictionary<string, string?>
        {
            ["Tenants:tests:Limits:RequestsPerMinute"] = "2",
            ["Llm:Admission:Window"] = "00:00:02",
            ["Auth:ApiKeys:2:Name"] = "other",
            ["Auth:ApiKeys:2:Key"] = OtherTenantKey,
            ["Auth:ApiKeys:2:Tenant"] = "other-app",
        }));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        using var other = api.CreateClient();
        other.DefaultRequestHeaders.Add("X-API-Key", OtherTenantKey);
        await using var first = await WorkerHost.StartAsync(settings, ct);
        await using var second = await WorkerHost.StartAsync(settings, ct);

        var limited = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            limited.Add(await AdmissionPipelineTests.SubmitAsync(client, $"[limited-{i}]", ct));
        }

        var free = await AdmissionPipelineTests.SubmitAsync(other, "[other-0]", ct);
        var freeDone = await JobPolling.WaitForTerminalAsync(other, free, JobTimeout, ct);
        var ended = new List<JsonObject>();
        foreach (var job in limited)
        {
            ended.Add(await JobPolling.WaitForTerminalAsync(client, job, JobTimeout, ct));
        }

        var calls = llm.Accepted.Where(c => c.Body.Contains("[limited-", StringComparison.Ordinal)).Select(c => c.At).Order().ToList();
        var peak = calls.Max(at => calls.Count(c => c >= at && c < at + Window));
        var otherCall = llm.Accepted.Single(c => c.Body.Contains("[other-0]", StringComparison.Ordinal)).At;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"6 jobs of a tenant limited to 2 requests per {Window.TotalSeconds} s: peak {peak} in a window, calls over {(calls[^1] - calls[0]).TotalSeconds:F1} s; " +
            $"the other tenant's call came {(otherCall - calls[0]).TotalSeconds:F1} s after the first");
        Assert.All(ended, j => Assert.Equal("completed", (string?)j["status"]));
        Assert.Equal("completed", (string?)freeDone["status"]);
        Assert.Equal(6, calls.Count);
        Assert.True(peak <= 2, $"{peak} calls of the limited tenant within one window");
        // Six calls at two per window take at least two windows more; the other tenant's call waited for none of them.
        Assert.True(calls[^1] - calls[0] >= Window * 2, "the limited tenant's calls were not spread over the windows");
        Assert.True(otherCall < calls[^1], "the other tenant's call waited behind the limited tenant's");
        Assert.Equal(0, llm.RateLimited);
    }
}
