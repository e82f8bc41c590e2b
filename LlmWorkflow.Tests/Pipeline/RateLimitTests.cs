using System.Net;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>Per-user limits (when enabled) answer 429 with Retry-After, and one user's burst does not limit another.</summary>
[IntegrationTest]
public sealed class RateLimitTests(TestServers servers)
{
    [Fact]
    public async Task PerUserLimitAnswers429WithRetryAfter()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(RateLimitTests));
        await using var api = new ApiFactory(environment.Settings(new Dictionary<string, string?>
        {
            ["RateLimiting:Enabled"] = "true",
            ["RateLimiting:PerUserPerMinute"] = "3",
        }));
        using var client = api.CreateAuthenticatedClient();

        var codes = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            codes.Add((await client.GetAsync("/api/v1/jobs?user_id=busy-user", ct)).StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], codes);
        var limited = await client.GetAsync("/api/v1/jobs?user_id=busy-user", ct);
        Assert.True(limited.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/jobs?user_id=quiet-user", ct)).StatusCode);
    }

    [Fact]
    public async Task LimitsAreOffByDefault()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(LimitsAreOffByDefault));
        await using var api = new ApiFactory(environment.Settings());
        using var client = api.CreateAuthenticatedClient();
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/jobs?user_id=u", ct)).StatusCode);
        }
    }
}
