namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// An isolated slice of the shared servers for one test class: its own database and Redis key prefix, plus the
/// configuration the API and Worker hosts need to use them.
/// </summary>
public sealed class TestEnvironment
{
    private TestEnvironment(string postgres, string redis, string keyPrefix)
    {
        PostgresConnectionString = postgres;
        RedisConnectionString = redis;
        KeyPrefix = keyPrefix;
    }

    public string PostgresConnectionString { get; }

    public string RedisConnectionString { get; }

    public string KeyPrefix { get; }

    public const string CallerKey = "test-caller-key";

    public const string AdminKey = "test-admin-key";

    /// <summary>
    /// A database of the class's own holding the current schema (<paramref name="migrated"/>, a copy of the run's
    /// migrated template), or an empty one for a test of what the hosts do when they migrate at start-up.
    /// </summary>
    public static async Task<TestEnvironment> CreateAsync(TestServers servers, string name, bool migrated = true)
    {
        var redis = servers.RedisAsync();
        var database = migrated ? await servers.CreateMigratedDatabaseAsync(name) : await servers.CreateDatabaseAsync(name);
        return new(database, (await redis).ConnectionString, $"t-{Guid.NewGuid():N}");
    }

    /// <summary>For a test with a PostgreSQL of its own (other server settings): that database, the shared Redis.</summary>
    public static async Task<TestEnvironment> OnDatabaseAsync(string postgres, TestServers servers) =>
        new(postgres, (await servers.RedisAsync()).ConnectionString, $"t-{Guid.NewGuid():N}");

    /// <summary>Settings shared by the API and the Worker; callers add their own on top.</summary>
    public Dictionary<string, string?> Settings(IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = PostgresConnectionString,
            ["ConnectionStrings:redis"] = RedisConnectionString,
            ["Queue:KeyPrefix"] = KeyPrefix,
            ["Queue:PollInterval"] = "00:00:00.500",
            ["Workflows:Root"] = RepositoryPaths.Workflows,
            ["Auth:ApiKeys:0:Name"] = "tests",
            ["Auth:ApiKeys:0:Key"] = CallerKey,
            ["Auth:ApiKeys:1:Name"] = "tests-admin",
            ["Auth:ApiKeys:1:Key"] = AdminKey,
            ["Auth:ApiKeys:1:Admin"] = "true",
            // Scheduled maintenance would delete or fail the old rows tests create; its own tests turn it on.
            ["Maintenance:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:LlmWorkflow"] = "Information",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }
}
