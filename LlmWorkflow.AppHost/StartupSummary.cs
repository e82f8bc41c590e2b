using System.Globalization;
using System.Text;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace LlmWorkflow.AppHost;

/// <summary>The Aspire dashboard of this run, when one runs.</summary>
public static class AspireDashboard
{
    /// <summary>The dashboard's base address (the AppHost's first URL), or null when the dashboard is disabled (tests).</summary>
    public static string? Url(IDistributedApplicationBuilder builder) =>
        builder.Resources.Any(resource => resource.Name == "aspire-dashboard")
        && builder.Configuration["ASPNETCORE_URLS"]?.Split(';', StringSplitOptions.RemoveEmptyEntries) is [var first, ..]
            ? first.TrimEnd('/')
            : null;
}

/// <summary>
/// Once the api is healthy and every worker replica runs, prints where a newcomer goes next: the Aspire dashboard's
/// login URL, the api's pages and the development keys, then that the application runs until Ctrl+C.
/// </summary>
public sealed class StartupSummary(
    IServiceProvider services, IDistributedApplicationBuilder builder, AppHostSettings settings, IReadOnlyList<(string Label, string Value)> notes)
    : BackgroundService
{
    /// <summary>The last line printed, once everything is ready.</summary>
    public const string ReadyLine = "[apphost] running; press Ctrl+C to stop";

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var notifications = services.GetRequiredService<ResourceNotificationService>();
        var runningWorkers = new HashSet<string>(StringComparer.Ordinal);
        var apiReady = false;
        try
        {
            await foreach (var change in notifications.WatchAsync(stoppingToken))
            {
                var running = change.Snapshot.State?.Text == KnownResourceStates.Running;
                if (change.Resource.Name == "api")
                {
                    apiReady = running && change.Snapshot.HealthStatus == HealthStatus.Healthy;
                }
                else if (change.Resource.Name == "worker" && !(running ? runningWorkers.Add(change.ResourceId) : runningWorkers.Remove(change.ResourceId)))
                {
                    continue;
                }

                if (apiReady && runningWorkers.Count >= settings.Workers)
                {
                    Console.Write(Format());
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped before everything was ready: nothing to print.
        }
    }

    private string Format()
    {
        var api = $"http://localhost:{settings.ApiPort.ToString(CultureInfo.InvariantCulture)}";
        var lines = new List<(string Label, string Value)>();
        if (AspireDashboard.Url(builder) is { } dashboard)
        {
            lines.Add(("Aspire dashboard", builder.Configuration["AppHost:BrowserToken"] is { Length: > 0 } token ? $"{dashboard}/login?t={token}" : dashboard));
        }

        lines.AddRange(ServicePages.Links.Select(link => (link.Label, api + link.Path)));
        lines.AddRange(notes);
        var width = lines.Max(line => line.Label.Length);
        var text = new StringBuilder("\n");
        foreach (var (label, value) in lines)
        {
            text.Append(label.PadRight(width + 2)).Append(value).Append('\n');
        }

        return text.Append('\n').Append(ReadyLine).Append('\n').ToString();
    }
}
