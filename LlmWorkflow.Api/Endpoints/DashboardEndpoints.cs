using System.ComponentModel;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>The settings the service dashboard's script reads (it is static files, so it cannot read configuration).</summary>
internal static class DashboardEndpoints
{
    public static RouteGroupBuilder MapDashboardEndpoints(this RouteGroupBuilder admin)
    {
        admin.MapGet("/dashboard/config", Config)
            .WithName("DashboardConfig")
            .WithSummary("Settings of the service dashboard")
            .WithDescription("aspire_dashboard_url: the AspireDashboard:Url setting (env AspireDashboard__Url), the base URL of the Aspire " +
                             "dashboard where a job's trace opens at {aspire_dashboard_url}/traces/detail/{trace_id}; null when unset or not an http(s) URL.");
        return admin;
    }

    private static Ok<DashboardConfigResponse> Config(IConfiguration configuration)
    {
        var url = configuration["AspireDashboard:Url"];
        var valid = Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
        return TypedResults.Ok(new DashboardConfigResponse(valid ? uri!.AbsoluteUri.TrimEnd('/') : null));
    }
}

/// <summary>What the service dashboard needs from the API's settings.</summary>
public sealed record DashboardConfigResponse(
    [property: Description("Base URL of the Aspire dashboard (traces, logs), without a trailing slash; null when not configured.")] string? AspireDashboardUrl);
