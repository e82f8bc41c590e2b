using System.Diagnostics;
using LlmWorkflow.Storage.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace LlmWorkflow.Storage;

/// <summary>
/// Registers the host's one <see cref="IConnectionMultiplexer"/> through Aspire (<c>AddRedisClient("redis")</c>):
/// its health check (named <c>redis</c>, part of readiness) and its tracing. The connection string may be a URL
/// (<c>REDIS_URL</c>) or StackExchange.Redis's own form (<see cref="RedisConnectionOptions"/>).
/// </summary>
public static class RedisSetup
{
    private const string ConnectionName = "redis";

    /// <param name="configure">Changes to the client's options after the connection string's (tests: a private CA).</param>
    public static IHostApplicationBuilder AddLlmWorkflowRedis(this IHostApplicationBuilder builder, Action<ConfigurationOptions>? configure = null)
    {
        var connection = RedisConnectionOptions.Parse(builder.Configuration.GetConnectionString(ConnectionName)
            ?? throw new InvalidOperationException("ConnectionStrings:redis is not set (environment variable ConnectionStrings__redis or REDIS_URL)."));
        builder.AddRedisClient(ConnectionName,
            settings => settings.ConnectionString = connection.Host.Contains(':', StringComparison.Ordinal) ? $"[{connection.Host}]:{connection.Port}" : $"{connection.Host}:{connection.Port}",
            options =>
            {
                connection.ApplyTo(options);
                configure?.Invoke(options);
            });
        builder.Services.PostConfigure<HealthCheckServiceOptions>(health =>
        {
            foreach (var check in health.Registrations.Where(r => r.Name.StartsWith("StackExchange.Redis", StringComparison.Ordinal)))
            {
                check.Name = ConnectionName;
                check.Tags.Add("ready");
            }

            // Not connected (refused, unauthenticated) is unhealthy at once: StackExchange.Redis would hold the check's
            // PING until its command timeout. Connected but slow (a paused server) is degraded: jobs are still accepted.
            Health.TimeBoundHealthCheck.Apply(health, ConnectionName, HealthStatus.Degraded, "redis", "redis");
            foreach (var check in health.Registrations.Where(r => r.Name == ConnectionName))
            {
                var timeBound = check.Factory;
                check.Factory = services => new ConnectedRedisHealthCheck(services.GetRequiredService<IConnectionMultiplexer>(), timeBound(services));
            }
        });
        return builder;
    }

    /// <summary>
    /// Until disposed, this flow's Redis commands are not traced. For what runs on a timer with or without work (reads
    /// that find nothing, heartbeats, queue gauges): the instrumentation makes a span of every command without a parent,
    /// so an idle service would export a span a second. Their parent here is a span nobody samples, which its children
    /// follow. A job's own commands (submit, claim, events) stay traced.
    /// </summary>
    public static IDisposable Untraced()
    {
        var parent = new Activity("llmworkflow.untraced");
        parent.SetIdFormat(ActivityIdFormat.W3C);
        parent.ActivityTraceFlags = ActivityTraceFlags.None;
        return parent.Start();
    }
}

/// <summary>Unhealthy without asking Redis when the multiplexer has no connection; otherwise the wrapped check decides.</summary>
internal sealed class ConnectedRedisHealthCheck(IConnectionMultiplexer redis, IHealthCheck inner) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        redis.IsConnected
            ? inner.CheckHealthAsync(context, cancellationToken)
            : Task.FromResult(HealthCheckResult.Unhealthy("redis unreachable: no connection (refused, unauthenticated or not yet established)."));
}
