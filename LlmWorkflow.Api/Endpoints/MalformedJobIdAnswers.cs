using System.Text.RegularExpressions;
using LlmWorkflow.Api.Contracts;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>
/// The job routes take <c>{jobId:guid}</c>, so an id that is not a UUID matches none of them and would get the
/// framework's generic 404 (a numeric <c>status</c> that pollers reading <c>status.status</c> do not understand). This
/// middleware rewrites only that answer: a 404 for which routing found no endpoint, on a job route's path whose id is
/// not a UUID. A middleware rather than catch-all routes, because a catch-all endpoint competes in endpoint selection
/// and made a real route lose a body-less POST.
/// </summary>
internal static partial class MalformedJobIdAnswers
{
    public static IApplicationBuilder UseMalformedJobIdAnswers(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        await next(context);
        if (context.Response is { StatusCode: StatusCodes.Status404NotFound, HasStarted: false }
            && context.GetEndpoint() is null
            && JobRoute().Match(context.Request.Path.Value ?? "") is { Success: true } match
            && !Guid.TryParse(match.Groups["id"].Value, out _))
        {
            await new JobProblemResult(JobProblem.MalformedId(Uri.UnescapeDataString(match.Groups["id"].Value))).ExecuteAsync(context);
        }
    });

    [GeneratedRegex("^/api/v1/(?:status/(?<id>[^/]+)|workflow/(?<id>[^/]+)|jobs/(?<id>[^/]+)(?:/.*)?)/?$")]
    private static partial Regex JobRoute();
}
