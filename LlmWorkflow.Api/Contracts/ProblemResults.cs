using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;

namespace LlmWorkflow.Api.Contracts;

/// <summary>
/// A 404 whose body is written as <c>application/problem+json</c> (TypedResults.NotFound writes any value, a
/// ProblemDetails included, as plain application/json) and declared so in the OpenAPI document.
/// </summary>
public sealed class NotFoundProblem(ProblemDetails problem) : IResult, IStatusCodeHttpResult, IValueHttpResult<ProblemDetails>, IValueHttpResult, IEndpointMetadataProvider
{
    public int? StatusCode => StatusCodes.Status404NotFound;

    public ProblemDetails Value => problem;

    object? IValueHttpResult.Value => problem;

    public Task ExecuteAsync(HttpContext httpContext) => ProblemResults.WriteAsync(httpContext, problem, StatusCodes.Status404NotFound);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) => ProblemResults.Declare(builder, StatusCodes.Status404NotFound);
}

/// <summary>A 409 with an <c>application/problem+json</c> body, declared so in the OpenAPI document.</summary>
public sealed class ConflictProblem(ProblemDetails problem) : IResult, IStatusCodeHttpResult, IValueHttpResult<ProblemDetails>, IValueHttpResult, IEndpointMetadataProvider
{
    public int? StatusCode => StatusCodes.Status409Conflict;

    public ProblemDetails Value => problem;

    object? IValueHttpResult.Value => problem;

    public Task ExecuteAsync(HttpContext httpContext) => ProblemResults.WriteAsync(httpContext, problem, StatusCodes.Status409Conflict);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) => ProblemResults.Declare(builder, StatusCodes.Status409Conflict);
}

internal static class ProblemResults
{
    public const string ContentType = "application/problem+json";

    public static Task WriteAsync(HttpContext httpContext, ProblemDetails problem, int status)
    {
        problem.Status ??= status;
        return TypedResults.Problem(problem).ExecuteAsync(httpContext);
    }

    public static void Declare(EndpointBuilder builder, int status) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(status, typeof(ProblemDetails), [ContentType]));
}

/// <summary>A 422 with an <c>application/problem+json</c> body, declared so in the OpenAPI document.</summary>
public sealed class UnprocessableProblem(ProblemDetails problem) : IResult, IStatusCodeHttpResult, IValueHttpResult<ProblemDetails>, IValueHttpResult, IEndpointMetadataProvider
{
    public int? StatusCode => StatusCodes.Status422UnprocessableEntity;

    public ProblemDetails Value => problem;

    object? IValueHttpResult.Value => problem;

    public Task ExecuteAsync(HttpContext httpContext) => ProblemResults.WriteAsync(httpContext, problem, StatusCodes.Status422UnprocessableEntity);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) => ProblemResults.Declare(builder, StatusCodes.Status422UnprocessableEntity);
}
