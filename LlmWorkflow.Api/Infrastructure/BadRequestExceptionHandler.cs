using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace LlmWorkflow.Api.Infrastructure;

/// <summary>
/// Turns malformed, oversized or too-deep request bodies into 4xx problem details that name the offending field,
/// instead of the framework's bare 400 (or a 500).
/// </summary>
internal sealed partial class BadRequestExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException badRequest)
        {
            return false;
        }

        var json = FindJsonException(badRequest);
        var field = json?.Path is { Length: > 1 } path ? path.TrimStart('$', '.') : null;
        var detail = json is null
            ? badRequest.Message
            : field is null ? "The request body is not valid JSON: " + json.Message : $"Field '{field}' is invalid: {json.Message}";

        // A query or route value that does not parse: the framework names the C# parameter (overlapSeconds); the
        // contract's name is its snake_case form (overlap_seconds).
        if (json is null && UnboundParameter().Match(badRequest.Message) is { Success: true } unbound)
        {
            field = JsonNamingPolicy.SnakeCaseLower.ConvertName(unbound.Groups["name"].Value);
            detail = $"{field}: \"{unbound.Groups["value"].Value}\" is not a valid {unbound.Groups["type"].Value.TrimEnd('?')}.";
        }

        var problem = new ProblemDetails
        {
            Status = badRequest.StatusCode,
            Title = badRequest.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Request body too large" : "Malformed request",
            Detail = detail,
        };
        if (field is not null)
        {
            problem.Extensions["field"] = field;
        }

        httpContext.Response.StatusCode = badRequest.StatusCode;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    [GeneratedRegex("^Failed to bind parameter \"(?<type>[^\" ]+) (?<name>\\w+)\" from \"(?<value>.*)\"\\.$", RegexOptions.Singleline)]
    private static partial Regex UnboundParameter();

    private static JsonException? FindJsonException(Exception exception)
    {
        for (var current = exception.InnerException; current is not null; current = current.InnerException)
        {
            if (current is JsonException json)
            {
                return json;
            }
        }

        return null;
    }
}
