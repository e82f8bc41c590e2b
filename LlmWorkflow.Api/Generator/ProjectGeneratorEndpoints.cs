using System.Net.ServerSentEvents;
using LlmWorkflow.Api.Auth;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Api.Endpoints;
using LlmWorkflow.Api.Infrastructure;
using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Api.Generator;

/// <summary>
/// Document 004's project generator service, served under <see cref="Prefix"/> (its routes with the prefix in front,
/// so a 004 client changes only its base URL; the prefix keeps 004's <c>/health</c> apart from the service's own):
/// <c>POST /start</c>, <c>GET /events/stream?run_id=</c>, <c>GET /status/{project_id}</c> and <c>GET /health</c>.
/// Every route but health takes the same API keys as /api/v1 and sees only the caller's tenant.
/// </summary>
internal static class ProjectGeneratorEndpoints
{
    public const string Prefix = "/generator";
    public const string Tag = "Project generator (document 004)";

    public static IServiceCollection AddProjectGenerator(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ProjectGeneratorOptions>()
            .Bind(configuration.GetSection(ProjectGeneratorOptions.SectionName))
            .PostConfigure(options => options.ModelPrimary ??= configuration[ProjectGeneratorOptions.ModelPrimaryVariable] is { Length: > 0 } model ? model : null)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<ProjectGeneratorOptions>, ProjectGeneratorOptionsValidation>();
        services.AddSingleton<ProjectRunStore>();
        services.AddSingleton<PrimaryModelVersion>();
        services.AddScoped<ProjectGenerator>();
        services.AddScoped<ProjectDocumentReader>();
        return services;
    }

    public static WebApplication MapProjectGenerator(this WebApplication app, bool rateLimited)
    {
        var generator = app.MapGroup(Prefix).WithTags(Tag);
        generator.MapGet("/health", () => TypedResults.Ok(new GeneratorHealthResponse(true)))
            .AllowAnonymous()
            .WithName("GeneratorHealth")
            .WithSummary("Document 004's health check: {\"ok\": true} (no key needed)");

        var routes = generator.MapGroup("").RequireAuthorization(AuthServiceCollectionExtensions.CallerPolicy);
        if (rateLimited)
        {
            routes.RequireRateLimiting(RateLimitingSetup.Policy);
        }

        routes.MapPost("/start", StartAsync)
            .Accepts<StartProjectRequest>("application/json")
            .WithName("GeneratorStart")
            .WithSummary("Start generating a project (document 004's POST /start)")
            .WithDescription("Runs the generate_project workflow for the body's project. 202 {run_id} for a new run; 200 with the same run_id " +
                             "when this project_id and chat_id already started one (idempotent). The run_id is also the job id under /api/v1/jobs.");
        routes.MapGet("/events/stream", StreamAsync)
            .WithName("GeneratorEventStream")
            .WithSummary("A run's progress as Server-Sent Events (document 004's event names)")
            .WithDescription("Events: " + string.Join(", ", ProjectGeneratorEvents.All) + ". Each data is JSON with run_id and status; the section " +
                             "events carry section_id; error carries the job's error. Every event has an id; resume with the Last-Event-ID header " +
                             "(or ?last_event_id=). The stream closes after run_completed or error, and a request resuming after it answers 204 " +
                             "No Content, which ends EventSource's reconnects. EventSource cannot send headers, so browsers may pass the key as ?api_key=.")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .Produces(StatusCodes.Status204NoContent);
        routes.MapGet("/status/{projectId}", StatusAsync)
            .WithName("GeneratorStatus")
            .WithSummary("The project's proj.v1 document (its newest run), section by section as each completes");
        return app;
    }

    // The body is read here, not bound: binding stops at the first field of the wrong JSON kind, and would hide every
    // other problem of the body (a missing id, a value out of range) behind it (issue 80).
    private static async Task<Results<Accepted<StartProjectResponse>, Ok<StartProjectResponse>, ValidationProblem>> StartAsync(
        ProjectGenerator generator, HttpContext http, CancellationToken cancellationToken)
    {
        var (request, input, bodyProblem) = await StartProjectBody.ReadAsync(http.Request, cancellationToken);
        if (bodyProblem is not null)
        {
            return SubmissionProblem.ToResult([bodyProblem]);
        }

        // The run belongs to the caller's user as a job would: the key's bound user, else X-User-Id, else ?user_id=.
        var scope = CallerScope.From(http);
        if (scope.Contradictory)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["user_id"] = [$"The key's user, {CallerScope.UserHeader} and user_id name different users."] });
        }

        var outcome = await generator.StartAsync(request!, scope.TenantId, scope.UserId, cancellationToken, input);
        if (outcome.RunId is not { } runId)
        {
            return SubmissionProblem.ToResult(outcome.Problems);
        }

        var body = new StartProjectResponse(runId);
        return outcome.Created ? TypedResults.Accepted((string?)null, body) : TypedResults.Ok(body);
    }

    private static async Task<Results<ServerSentEventsResult<string>, NoContent, NotFoundProblem, ValidationProblem>> StreamAsync(
        [FromQuery(Name = "run_id")] string? runId,
        [FromHeader(Name = "Last-Event-ID")] string? lastEventIdHeader,
        [FromQuery(Name = "last_event_id")] string? lastEventIdQuery,
        LlmWorkflowDbContext db,
        JobEventStream events,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(runId, out var id))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["run_id"] = [string.IsNullOrEmpty(runId) ? "run_id is required: the run_id POST /generator/start answered." : $"'{runId}' is not a run id (a UUID)."],
            });
        }

        return await EventEndpoints.StreamJobAsync(id, lastEventIdHeader, lastEventIdQuery, db, events, http,
            static items => ProjectGeneratorEvents.View(items), RunNotFound, cancellationToken);
    }

    private static async Task<Results<Ok<ProjectDocument>, NotFoundProblem>> StatusAsync(
        string projectId, ProjectRunStore runs, ProjectDocumentReader documents, HttpContext http, CancellationToken cancellationToken)
    {
        var run = await runs.LatestAsync(CallerScope.From(http), projectId, cancellationToken);
        var document = run is null ? null : await documents.ReadAsync(run, cancellationToken);
        return document is null
            ? new NotFoundProblem(new ProblemDetails { Title = "Project not found", Detail = $"No project '{projectId}' was started with this key's tenant.", Status = 404 })
            : TypedResults.Ok(document);
    }

    private static NotFoundProblem RunNotFound(Guid runId) =>
        new(new ProblemDetails { Title = "Run not found", Detail = $"No run with id {runId}.", Status = 404 });
}
