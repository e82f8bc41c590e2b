using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Tests.Fakes;

namespace LlmWorkflow.Tests.External;

[IntegrationTest]
public sealed class HttpApiServiceTests
{
    [Fact]
    public async Task GetFillsTheUrlTemplateQueryAndHeaders()
    {
        await using var fake = await FakeEchoServer.StartAsync();
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(allowedHosts: "127.0.0.1"));
        var parameters = new JsonObject
        {
            ["url"] = $"{fake.BaseUrl}users/{{id}}/orders",
            ["path"] = new JsonObject { ["id"] = "a b/c" },
            ["query"] = new JsonObject { ["limit"] = 5, ["status"] = "open" },
            ["headers"] = new JsonObject { ["X-Tenant"] = "acme" },
        };

        var result = await gateway.CallAsync("http", "get", parameters, TestContext.Current.CancellationToken);

        var sent = Assert.Single(fake.Requests);
        Assert.Equal("GET", sent.Method);
        // Kestrel decodes %20 but keeps the escaped slash: the id stayed one path segment.
        Assert.Equal("/users/a b%2Fc/orders", sent.Path);
        Assert.Equal("5", sent.Query("limit"));
        Assert.Equal("open", sent.Query("status"));
        Assert.Equal("acme", sent.Header("X-Tenant"));
        Assert.Equal("GET", result!["method"]!.GetValue<string>());
    }

    [Fact]
    public async Task PostSendsTheJsonBody()
    {
        await using var fake = await FakeEchoServer.StartAsync();
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(allowedHosts: "127.0.0.1"));
        var parameters = new JsonObject { ["url"] = $"{fake.BaseUrl}events", ["body"] = new JsonObject { ["kind"] = "alert", ["level"] = 3 } };

        var result = await gateway.CallAsync("http", "post", parameters, TestContext.Current.CancellationToken);

        var sent = Assert.Single(fake.Requests);
        Assert.Equal("POST", sent.Method);
        Assert.StartsWith("application/json", sent.Header("Content-Type"), StringComparison.Ordinal);
        Assert.Equal(3, result!["body"]!["level"]!.GetValue<int>());
    }

    [Fact]
    public async Task HostsOutsideTheAllowListAreRefusedWithoutACall()
    {
        await using var fake = await FakeEchoServer.StartAsync();
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(allowedHosts: "api.example.com"));

        var error = (await Assert.ThrowsAsync<WorkflowException>(() => gateway.CallAsync(
            "http", "get", new JsonObject { ["url"] = $"{fake.BaseUrl}x" }, TestContext.Current.CancellationToken))).Error;

        Assert.Equal((ErrorCategory.ConfigError, "host_not_allowed"), (error.Category, error.Type));
        Assert.Equal(0, fake.CallCount);
    }

    [Fact]
    public async Task SecretHeadersAndQueryValuesNeverAppearInErrors()
    {
        await using var fake = await FakeEchoServer.StartAsync();
        fake.EnqueueError(400, "bad token s3cr3t-token-value given");
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(allowedHosts: "127.0.0.1"));
        var parameters = new JsonObject
        {
            ["url"] = $"{fake.BaseUrl}x?api_key=query-secret-123",
            ["headers"] = new JsonObject { ["Authorization"] = "s3cr3t-token-value" },
        };

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => gateway.CallAsync("http", "get", parameters, TestContext.Current.CancellationToken))).Error;

        Assert.Equal((ErrorCategory.ExternalError, false), (error.Category, error.Retryable));
        var everything = error.Message + error.Details!.ToJsonString();
        Assert.DoesNotContain("s3cr3t-token-value", everything, StringComparison.Ordinal);
        Assert.DoesNotContain("query-secret-123", everything, StringComparison.Ordinal);
    }
}
