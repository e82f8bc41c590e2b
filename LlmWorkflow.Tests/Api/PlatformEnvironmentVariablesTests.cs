using LlmWorkflow.ServiceDefaults.Configuration;
using Microsoft.Extensions.Configuration;
using Npgsql;
using LlmWorkflow.Storage.Redis;

namespace LlmWorkflow.Tests.Api;

/// <summary>The documents' environment variable names translated into this service's settings.</summary>
[UnitTest]
public sealed class PlatformEnvironmentVariablesTests
{
    private static ConfigurationManager Configure(Dictionary<string, string?> variables)
    {
        var configuration = new ConfigurationManager();
        configuration.AddInMemoryCollection(variables);
        PlatformEnvironmentVariables.AddFallbacks(configuration);
        return configuration;
    }

    [Fact]
    public void DatabaseUrlInUrlFormBecomesAnNpgsqlConnectionString()
    {
        var configuration = Configure(new() { ["DATABASE_URL"] = "postgres://app%40svc:p%3Bss%3Dw@db.example.com:6543/llm?sslmode=require" });
        var builder = new NpgsqlConnectionStringBuilder(configuration.GetConnectionString("postgres"));
        Assert.Equal("db.example.com", builder.Host);
        Assert.Equal(6543, builder.Port);
        Assert.Equal("app@svc", builder.Username);
        Assert.Equal("p;ss=w", builder.Password);
        Assert.Equal("llm", builder.Database);
        Assert.Equal(SslMode.Require, builder.SslMode);
    }

    [Fact]
    public void PostgresqlSchemeAndDefaultPortWork()
    {
        var builder = new NpgsqlConnectionStringBuilder(Configure(new() { ["DATABASE_URL"] = "postgresql://user:password@host/database" }).GetConnectionString("postgres"));
        Assert.Equal(("host", 5432, "user", "database"), (builder.Host, builder.Port, builder.Username, builder.Database));
    }

    [Theory]
    [InlineData("redis://redis:6379", "redis", 6379, null, false, 0)]
    [InlineData("rediss://:s3cret@cache.example.com:6380/2", "cache.example.com", 6380, "s3cret", true, 2)]
    [InlineData("redis://default:pw@10.0.0.5:6390", "10.0.0.5", 6390, "pw", false, 0)]
    public void RedisUrlsIncludingTlsAndPasswordsReachTheRedisClient(string url, string host, int port, string? password, bool ssl, int database)
    {
        var options = RedisConnectionOptions.Parse(Configure(new() { ["REDIS_URL"] = url }).GetConnectionString("redis")!);
        Assert.Equal((host, port, password, ssl, database), (options.Host, options.Port, options.Password, options.Ssl, options.Database));
    }

    [Fact]
    public void PortLogLevelAndWebhookSettingsMapToTheirSettings()
    {
        var configuration = Configure(new()
        {
            ["PORT"] = "10000",
            ["LOG_LEVEL"] = "debug",
            ["WEBHOOK_TIMEOUT"] = "30",
            ["WEBHOOK_URL"] = "http://host.docker.internal:5001/webhook",
            ["CORS_ALLOWED_ORIGINS"] = "https://app.example.com",
        });
        Assert.Equal("http://0.0.0.0:10000", configuration["urls"]);
        Assert.Equal("Debug", configuration["Logging:LogLevel:Default"]);
        Assert.Equal(TimeSpan.FromSeconds(30), configuration.GetValue<TimeSpan>("Webhooks:Timeout"));
        Assert.Equal("http://host.docker.internal:5001/webhook", configuration["Webhooks:DefaultUrl"]);
        Assert.Equal("https://app.example.com", configuration["Cors:AllowedOrigins"]);
    }

    [Fact]
    public void DebugModeMeansDebugLoggingUnlessLogLevelSaysOtherwise()
    {
        Assert.Equal("Debug", Configure(new() { ["DEBUG_MODE"] = "true" })["Logging:LogLevel:Default"]);
        Assert.Equal("Warning", Configure(new() { ["DEBUG_MODE"] = "true", ["LOG_LEVEL"] = "warning" })["Logging:LogLevel:Default"]);
        Assert.Null(Configure(new() { ["DEBUG_MODE"] = "false" })["Logging:LogLevel:Default"]);
    }

    [Fact]
    public void CacheDefaultTtlIsTheExternalCacheLifetimeInSeconds()
    {
        var configuration = Configure(new() { ["CACHE_DEFAULT_TTL"] = "3600" });
        Assert.Equal(TimeSpan.FromHours(1), configuration.GetValue<TimeSpan>("External:DefaultCacheTtl"));
        var refused = Assert.Throws<InvalidOperationException>(() => Configure(new() { ["CACHE_DEFAULT_TTL"] = "an hour" }));
        Assert.Contains("CACHE_DEFAULT_TTL", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("production", "Production")]
    [InlineData("development", "Development")]
    [InlineData("test", "Test")]
    [InlineData("Staging", "Staging")]
    [InlineData("qa-eu", "qa-eu")]
    public void EnvironmentBecomesTheHostEnvironmentName(string value, string expected)
    {
        Assert.Equal(expected, PlatformEnvironmentVariables.EnvironmentName(value));
        if (Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") is null && Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") is null)
        {
            var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new Microsoft.Extensions.Hosting.HostApplicationBuilderSettings { EnvironmentName = "Before" });
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ENVIRONMENT"] = value });
            PlatformEnvironmentVariables.ApplyEnvironmentName(builder);
            Assert.Equal(expected, builder.Environment.EnvironmentName);
        }
    }

    [Theory]
    [InlineData("LlmWorkflow.Api")]
    [InlineData("LlmWorkflow.Worker")]
    public void LogLevelWinsOverTheShippedAppsettingsAndRaisesItsMoreVerboseCategories(string project)
    {
        // The shipped file as the host loads it (a file source), then the environment (here in memory, as the
        // environment-variable source is: not a file).
        var configuration = new ConfigurationManager();
        configuration.AddJsonFile(Path.Combine(Infrastructure.RepositoryPaths.Root, project, "appsettings.json"), optional: false);
        Assert.Equal("Information", configuration["Logging:LogLevel:Default"]);
        configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["LOG_LEVEL"] = "error", ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Debug" });
        PlatformEnvironmentVariables.AddFallbacks(configuration);

        Assert.Equal("Error", configuration["Logging:LogLevel:Default"]);
        Assert.Equal("Error", configuration["Logging:LogLevel:Microsoft.Hosting.Lifetime"]);
        Assert.Equal("Error", configuration["Logging:LogLevel:Microsoft.AspNetCore"]);
        // Given under its own name outside the files: kept.
        Assert.Equal("Debug", configuration["Logging:LogLevel:System.Net.Http.HttpClient"]);
    }

    [Fact]
    public void TheServicesOwnNamesWinOverTheFallbacks()
    {
        var configuration = Configure(new()
        {
            ["ConnectionStrings:postgres"] = "Host=own",
            ["DATABASE_URL"] = "postgres://u:p@other/db",
            ["Logging:LogLevel:Default"] = "Warning",
            ["LOG_LEVEL"] = "debug",
        });
        Assert.Equal("Host=own", configuration.GetConnectionString("postgres"));
        Assert.Equal("Warning", configuration["Logging:LogLevel:Default"]);
    }

    [Theory]
    [InlineData("PORT", "eighty")]
    [InlineData("LOG_LEVEL", "loud")]
    [InlineData("DATABASE_URL", "postgres://u:p@h/db?sslmode=sometimes")]
    public void InvalidValuesFailNamingTheVariable(string variable, string value)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Configure(new() { [variable] = value }));
        Assert.Contains(variable, error.Message, StringComparison.Ordinal);
    }
}
