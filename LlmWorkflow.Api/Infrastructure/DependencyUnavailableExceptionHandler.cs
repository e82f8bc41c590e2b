using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using StackExchange.Redis;

namespace LlmWorkflow.Api.Infrastructure;

/// <summary>
/// PostgreSQL or Redis unreachable is a temporary condition, not a bug: answer 503 with Retry-After so callers
/// retry, instead of a 500. Nothing was accepted, so nothing is lost.
/// </summary>
internal sealed partial class DependencyUnavailableExceptionHandler(IProblemDetailsService problems, ILogger<DependencyUnavailableExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var dependency = Classify(exception);
        if (dependency is null)
        {
            return false;
        }

        LogUnavailable(dependency, exception.GetType().Name);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = "5";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Service temporarily unavailable",
                Detail = $"The {dependency} is unreachable; retry shortly.",
            },
        });
    }

    private static string? Classify(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case PostgresException postgres:
                    // Server-side errors (constraint violations, bad SQL) are bugs, not outages: let them surface.
                    if (postgres.IsTransient)
                    {
                        return "database";
                    }

                    break;
                case NpgsqlException:
                    return "database";
                case RedisConnectionException or RedisTimeoutException:
                    return "queue";
                case TimeoutException when current.Source?.StartsWith("Npgsql", StringComparison.Ordinal) == true:
                    return "database";
            }
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Answering 503: the {Dependency} is unavailable ({ExceptionType})")]
    private partial void LogUnavailable(string dependency, string exceptionType);
}
