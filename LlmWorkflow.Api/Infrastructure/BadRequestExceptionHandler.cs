using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace LlmWorkflow.Api.Infrastructure;

/// <summary>
/// Turns malformed, oversized or too-deep request bodies and unparsable query values into 4xx problem details that
/// name the field (its JSON path), the type expected in JSON terms and, for bodies, where the value is (line and byte
/// as System.Text.Json counts them, from 0), instead of the framework's bare 400 (or a 500). The framework's own
/// messages are never passed on: they name .NET types (<c>System.Nullable`1[System.Int32]</c>) and C# parameters.
/// </summary>
internal sealed partial class BadRequestExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException badRequest)
        {
            return false;
        }

        var problem = new ProblemDetails
        {
            Status = badRequest.StatusCode,
            Title = badRequest.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Request body too large" : "Malformed request",
        };
        var (field, detail) = Describe(badRequest, problem.Extensions);
        problem.Detail = detail;
        if (field is not null)
        {
            problem.Extensions["field"] = field;
        }

        httpContext.Response.StatusCode = badRequest.StatusCode;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    /// <summary>The field and a message in the contract's terms; extension members for the body position.</summary>
    internal static (string? Field, string Detail) Describe(BadHttpRequestException badRequest, IDictionary<string, object?> extensions)
    {
        if (FindJsonException(badRequest) is { } json)
        {
            return DescribeJson(json, extensions);
        }

        if (badRequest.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return ("body", "The request body is larger than this service accepts.");
        }

        // A query or route value that does not parse: the framework names the C# parameter (overlapSeconds) and type
        // (int?); the contract's names are the snake_case form (overlap_seconds) and the JSON type (integer).
        if (UnboundParameter().Match(badRequest.Message) is { Success: true } unbound)
        {
            var field = JsonNamingPolicy.SnakeCaseLower.ConvertName(unbound.Groups["name"].Value);
            return (field, $"{field}: \"{unbound.Groups["value"].Value}\" is not a valid {JsonTypeName(unbound.Groups["type"].Value)}.");
        }

        if (MissingBody().IsMatch(badRequest.Message))
        {
            return ("body", "The request body is required: send a JSON object (Content-Type: application/json).");
        }

        if (UnsupportedMediaType().Match(badRequest.Message) is { Success: true } media)
        {
            return ("Content-Type", $"The body must be JSON (Content-Type: application/json), not \"{media.Groups["type"].Value}\".");
        }

        return ("body", "The request body could not be read: send a JSON object (Content-Type: application/json).");
    }

    private static (string? Field, string Detail) DescribeJson(JsonException json, IDictionary<string, object?> extensions)
    {
        var field = json.Path is { Length: > 1 } path ? path.TrimStart('$', '.') : null;
        var at = json.LineNumber is { } line && json.BytePositionInLine is { } position
            ? $" (line {line}, byte {position}, counted from 0)"
            : "";
        if (json.LineNumber is { } lineNumber)
        {
            extensions["line_number"] = lineNumber;
        }

        if (json.BytePositionInLine is { } bytePosition)
        {
            extensions["byte_position_in_line"] = bytePosition;
        }

        if (NotConvertible().Match(json.Message) is { Success: true } conversion)
        {
            var expected = JsonTypeName(conversion.Groups["type"].Value);
            extensions["expected"] = expected;
            return field is null
                ? ("body", $"The request body must be a JSON {expected}{at}.")
                : (field, $"Field '{field}' must be {Article(expected)} {expected}{at}.");
        }

        // A syntax error (truncated body, stray character): the reader's message without its own position suffix,
        // unless it names a .NET type, which a caller cannot act on.
        var reason = PositionSuffix().Replace(json.Message, "").TrimEnd('.', ' ');
        if (reason.Contains("System.", StringComparison.Ordinal) || reason.Contains("LlmWorkflow.", StringComparison.Ordinal) || reason.Length == 0)
        {
            reason = "the value is not valid here";
        }

        return field is null
            ? ("body", $"The request body is not valid JSON: {reason}{at}.")
            : (field, $"Field '{field}' is invalid: {reason}{at}.");
    }

    /// <summary>A .NET type as its JSON type: what a caller of a JSON API can act on.</summary>
    internal static string JsonTypeName(string dotnetType)
    {
        var type = NullableWrapper().Match(dotnetType) is { Success: true } inner ? inner.Groups["inner"].Value : dotnetType.TrimEnd('?');
        if (type.StartsWith("Nullable<", StringComparison.Ordinal))
        {
            type = type["Nullable<".Length..^1];
        }

        var bare = type.Contains('`', StringComparison.Ordinal) ? type[..type.IndexOf('[', StringComparison.Ordinal)] : type;
        var name = bare[(bare.LastIndexOf('.') + 1)..];
        return name switch
        {
            "Int16" or "Int32" or "Int64" or "UInt16" or "UInt32" or "UInt64" or "Byte" or "SByte" or "int" or "long" or "short" or "uint" or "ulong" => "integer",
            "Double" or "Single" or "Decimal" or "double" or "float" or "decimal" => "number",
            "Boolean" or "bool" => "boolean",
            "String" or "string" or "Char" or "char" => "string",
            "Guid" => "string (a UUID)",
            "DateTimeOffset" or "DateTime" => "string (an ISO 8601 date-time)",
            "TimeSpan" => "string (a duration, e.g. 00:05:00)",
            "JsonArray" => "array",
            _ when name.StartsWith("List`", StringComparison.Ordinal) || name.StartsWith("IReadOnlyList`", StringComparison.Ordinal)
                || name.StartsWith("IEnumerable`", StringComparison.Ordinal) || name.StartsWith("IList`", StringComparison.Ordinal)
                || name.StartsWith("IReadOnlyCollection`", StringComparison.Ordinal) || name.StartsWith("ICollection`", StringComparison.Ordinal)
                || name.EndsWith("[]", StringComparison.Ordinal) => "array",
            _ => "object",
        };
    }

    private static string Article(string jsonType) => jsonType.StartsWith('a') || jsonType.StartsWith('i') || jsonType.StartsWith('o') ? "an" : "a";

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

    [GeneratedRegex("^Failed to bind parameter \"(?<type>[^\" ]+) (?<name>\\w+)\" from \"(?<value>.*)\"\\.$", RegexOptions.Singleline)]
    private static partial Regex UnboundParameter();

    [GeneratedRegex("^Required parameter \"[^\"]+\" was not provided from body", RegexOptions.Singleline)]
    private static partial Regex MissingBody();

    [GeneratedRegex("^Expected a supported JSON media type but got \"(?<type>[^\"]*)\"", RegexOptions.Singleline)]
    private static partial Regex UnsupportedMediaType();

    [GeneratedRegex("could not be converted to (?<type>\\S+?)\\. Path:", RegexOptions.Singleline)]
    private static partial Regex NotConvertible();

    [GeneratedRegex("^System\\.Nullable`1\\[(?<inner>[^\\]]+)\\]$")]
    private static partial Regex NullableWrapper();

    [GeneratedRegex("\\s*(Path: .*?\\|\\s*)?LineNumber: \\d+ \\| BytePositionInLine: \\d+\\.?", RegexOptions.Singleline)]
    private static partial Regex PositionSuffix();
}
