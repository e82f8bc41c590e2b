using System.Diagnostics;

namespace LlmWorkflow.AppHost;

/// <summary>Adds postgres (with the database <c>llmworkflow</c>) and redis, as containers or from the local binaries.</summary>
public static class Infrastructure
{
    /// <summary>The database the services use.</summary>
    public const string DatabaseName = "llmworkflow";

    /// <summary>Adds both servers; in run mode prints one line saying which kind and why.</summary>
    public static (IResourceBuilder<IResourceWithConnectionString> Database, IResourceBuilder<IResourceWithConnectionString> Redis) Add(
        IDistributedApplicationBuilder builder, AppHostSettings settings)
    {
        // The manifest describes the deployment, where postgres and redis are always Aspire's resource types.
        if (builder.ExecutionContext.IsPublishMode)
        {
            var server = builder.AddPostgres("postgres");
            return (server.AddDatabase(DatabaseName), builder.AddRedis("redis"));
        }

        var (useContainers, reason) = Decide(settings.Infrastructure);
        Console.WriteLine(useContainers
            ? $"[apphost] postgres and redis run as containers: {reason}"
            : $"[apphost] postgres and redis run from the local binaries: {reason}");
        return useContainers ? AddContainers(builder, settings.Proxied) : AddLocal(builder, settings);
    }

    private static (IResourceBuilder<IResourceWithConnectionString>, IResourceBuilder<IResourceWithConnectionString>) AddContainers(
        IDistributedApplicationBuilder builder, bool proxied)
    {
        // Fixed development passwords: a generated one lives in user secrets, and a data volume initialised under it
        // refuses every later start once those secrets are gone or the volume is shared by another checkout.
        var postgresPassword = builder.AddParameter("postgres-password", "dev-postgres-password", secret: true);
        var redisPassword = builder.AddParameter("redis-password", "dev-redis-password", secret: true);
        var database = builder.AddPostgres("postgres", password: postgresPassword)
            .WithDataVolume()
            .WithEndpoint("tcp", endpoint => endpoint.IsProxied = proxied)
            .AddDatabase(DatabaseName);
        var redis = builder.AddRedis("redis", password: redisPassword)
            .WithDataVolume()
            .WithPersistence(TimeSpan.FromSeconds(10))
            .WithEndpoint("tcp", endpoint => endpoint.IsProxied = proxied);
        return (database, redis);
    }

    private static (IResourceBuilder<IResourceWithConnectionString>, IResourceBuilder<IResourceWithConnectionString>) AddLocal(
        IDistributedApplicationBuilder builder, AppHostSettings settings) =>
        (builder.AddLocalPostgres("postgres", Path.Combine(settings.DataDirectory, "postgres"), DatabaseName, settings.Proxied),
         builder.AddLocalRedis("redis", Path.Combine(settings.DataDirectory, "redis"), settings.Proxied));

    /// <summary>Containers when forced, or when Docker or Podman (5+, what Aspire supports) answers; local binaries otherwise.</summary>
    public static (bool UseContainers, string Reason) Decide(InfrastructureMode mode)
    {
        switch (mode)
        {
            case InfrastructureMode.Containers:
                return (true, "AppHost:Infrastructure=containers");
            case InfrastructureMode.Local:
                return (false, "AppHost:Infrastructure=local");
        }

        var chosen = Environment.GetEnvironmentVariable("ASPIRE_CONTAINER_RUNTIME") ?? Environment.GetEnvironmentVariable("DOTNET_ASPIRE_CONTAINER_RUNTIME");
        var findings = new List<string>();
        foreach (var runtime in chosen is { Length: > 0 } ? [chosen] : new[] { "docker", "podman" })
        {
            var (ok, finding) = Probe(runtime);
            if (ok)
            {
                return (true, $"{finding} (AppHost:Infrastructure=local uses the local binaries)");
            }

            findings.Add(finding);
        }

        return (false, $"{string.Join("; ", findings)} (AppHost:Infrastructure=containers forces containers)");
    }

    // Asks the runtime for its server version: an installed CLI without a running engine answers with an error.
    private static (bool Ok, string Finding) Probe(string runtime)
    {
        var format = runtime == "podman" ? "{{.Version.Version}}" : "{{.Server.Version}}";
        try
        {
            using var process = Process.Start(new ProcessStartInfo(runtime, ["version", "--format", format])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var output = process.StandardOutput.ReadToEndAsync();
            process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                process.Kill(entireProcessTree: true);
                return (false, $"{runtime} did not answer within 10 s");
            }

            var version = output.Result.Trim();
            if (process.ExitCode != 0 || version.Length == 0)
            {
                return (false, $"{runtime} has no running engine");
            }

            return runtime == "podman" && Version.TryParse(version, out var podman) && podman.Major < 5
                ? (false, $"podman {version} is older than the 5.0 Aspire needs")
                : (true, $"{runtime} {version} is running");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (false, $"{runtime} is not installed");
        }
    }
}
