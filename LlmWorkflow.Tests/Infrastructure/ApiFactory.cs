using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>The real API in-process (TestServer) against a test class's database and Redis prefix.</summary>
public sealed class ApiFactory(IReadOnlyDictionary<string, string?> settings) : WebApplicationFactory<LlmWorkflow.Api.ApiAssembly>
{
    /// <summary>A client that sends the test caller key (or the admin key).</summary>
    public HttpClient CreateAuthenticatedClient(bool admin = false)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", admin ? TestEnvironment.AdminKey : TestEnvironment.CallerKey);
        return client;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }
    }
}
