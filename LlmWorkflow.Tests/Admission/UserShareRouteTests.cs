using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// <c>GET /providers/limits</c> lists, under each tenant of a contended scope, its users waiting on it with their
/// weights (<c>Tenants:&lt;id&gt;:UserWeights:&lt;user_id&gt;</c>), shares of the tenant's part and usage.
/// </summary>
[IntegrationTest]
public sealed class UserShareRouteTests(TestServers servers)
{
    [Fact]
    public async Task TheOperatorsRouteListsATenantsWaitingUsersWithTheirWeightsAndShares()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(UserShareRouteTests));
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Llm:Limits:openai:TokensPerMinute"] = "1000",
            ["Tenants:acme:UserWeights:ana"] = "3",
        });
        await using var api = new ApiFactory(settings);
        using var admin = api.CreateAuthenticatedClient(admin: true);
        var store = api.Services.GetRequiredService<IAdmissionStore>();
        var admission = new AdmissionSettings();
        List<(string Scope, LlmLimit Limit)> scopes = [("openai", new LlmLimit { TokensPerMinute = 1_000 })];

        // ana holds 600; bo's call and then one without a user do not fit: both wait, and so does ana's next.
        Assert.True((await store.ReserveAsync("ana-1", scopes, new(1, 600, 0), admission, fairShare: new("acme", 1, "ana", 3))).IsReserved);
        Assert.Equal("tokens", (await store.ReserveAsync("bo-1", scopes, new(1, 500, 0), admission, fairShare: new("acme", 1, "bo", 1))).Reason);
        Assert.Equal("tokens", (await store.ReserveAsync("none-1", scopes, new(1, 500, 0), admission, fairShare: new("acme", 1))).Reason);
        Assert.Equal("user_share", (await store.ReserveAsync("ana-2", scopes, new(1, 100, 0), admission, fairShare: new("acme", 1, "ana", 3))).Reason);

        var scope = (await admin.GetFromJsonAsync<JsonObject>("/api/v1/providers/limits", ct))!["scopes"]!.AsArray().Single(s => (string?)s!["scope"] == "openai")!;
        var acme = Assert.Single(scope["tenants"]!.AsArray())!;
        TestContext.Current.TestOutputHelper?.WriteLine(acme.ToJsonString());
        var users = acme["users"]!.AsArray().Select(u => ((string)u!["user_id"]!, (double)u["weight"]!, (double)u["share"]!, (long)u["used_tokens"]!)).ToList();
        Assert.Equal([("", 1, 0.2, 0), ("ana", 3, 0.6, 600), ("bo", 1, 0.2, 0)], users);
    }
}
