using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmWorkflow.ServiceDefaults.Health;

/// <summary>
/// One dependency in document 001's health shape (<c>services.database: {status, type}</c>,
/// <c>services.celery: {status, workers}</c>): the status in lower case, the dependency's type and a worker count
/// when its check reports them (data <c>type</c>, <c>workers</c>). A check tagged <c>alias:&lt;name&gt;</c> is also
/// reported under that name, e.g. the workers check as <c>celery</c>.
/// </summary>
public sealed record DocumentServiceHealth(string Name, string Status, string? Type, int? Workers, string? Description, string? Error)
{
    /// <summary>The tag prefix that reports a check under another name too.</summary>
    public const string AliasTagPrefix = "alias:";

    /// <summary>Every check but the process's own (<c>self</c>), then each alias.</summary>
    public static IReadOnlyList<DocumentServiceHealth> From(HealthReport report)
    {
        var services = new List<DocumentServiceHealth>();
        foreach (var (name, entry) in report.Entries.Where(e => e.Key != "self"))
        {
            var service = new DocumentServiceHealth(
                name, Wire(entry.Status), entry.Data.GetValueOrDefault("type") as string,
                entry.Data.GetValueOrDefault("workers") is int workers ? workers : null, entry.Description, entry.Exception?.Message);
            services.Add(service);
            services.AddRange(entry.Tags
                .Where(tag => tag.StartsWith(AliasTagPrefix, StringComparison.Ordinal) && !report.Entries.ContainsKey(tag[AliasTagPrefix.Length..]))
                .Select(tag => service with { Name = tag[AliasTagPrefix.Length..] }));
        }

        return services;
    }

    /// <summary>healthy, degraded or unhealthy, as the documents spell it.</summary>
    public static string Wire(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "healthy",
        HealthStatus.Degraded => "degraded",
        _ => "unhealthy",
    };
}
