using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace LlmWorkflow.ServiceDefaults.Telemetry;

/// <summary>
/// Completes ASP.NET Core's request activity with what only the end of the request knows: the response status, the
/// route template (also used as the span name, e.g. <c>GET /api/v1/jobs/{job_id}</c>) and the error type. ASP.NET
/// Core itself only adds the request tags; the instrumentation package that would add these is not available here.
/// Runs first in the pipeline through a startup filter, so apps need no extra call.
/// </summary>
internal sealed class HttpServerActivityEnricher : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(EnrichAsync);
        next(app);
    };

    private static async Task EnrichAsync(HttpContext context, RequestDelegate next)
    {
        var activity = context.Features.Get<IHttpActivityFeature>()?.Activity;
        if (activity is not { IsAllDataRequested: true })
        {
            await next(context);
            return;
        }

        try
        {
            await next(context);
            Complete(activity, context, context.Response.StatusCode, error: null);
        }
        catch (Exception ex)
        {
            // Kestrel answers 500 once the exception leaves the pipeline.
            Complete(activity, context, StatusCodes.Status500InternalServerError, ex.GetType().FullName);
            throw;
        }
    }

    private static void Complete(Activity activity, HttpContext context, int statusCode, string? error)
    {
        activity.SetTag("http.response.status_code", statusCode);
        if (context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } route })
        {
            activity.SetTag("http.route", route);
            activity.DisplayName = $"{context.Request.Method} {route}";
        }

        if (statusCode >= 500)
        {
            activity.SetTag("error.type", error ?? statusCode.ToString(System.Globalization.CultureInfo.InvariantCulture));
            activity.SetStatus(ActivityStatusCode.Error);
        }
    }
}
