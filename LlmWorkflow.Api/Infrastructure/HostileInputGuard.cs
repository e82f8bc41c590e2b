using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.Net.Http.Headers;

namespace LlmWorkflow.Api.Infrastructure;

/// <summary>
/// The edge check for text the service would store or pass on: every API request's path, query values, headers and
/// JSON body strings are refused with a 400 naming the field when they hold U+0000 or a lone UTF-16 surrogate
/// (PostgreSQL text and jsonb cannot store either, and they only come from broken or hostile callers). JSON bodies
/// are also refused for duplicate keys, numbers outside the range of a double, and nesting deeper than the
/// configured depth; a Content-Type whose charset is not UTF-8 (or is empty) gets 415.
/// </summary>
public static partial class HostileInputGuard
{
    public static IApplicationBuilder UseHostileInputGuard(this IApplicationBuilder app, int maxJsonDepth) =>
        app.Use(async (context, next) =>
        {
            // The API and document 004's generator surface beside it.
            if (!context.Request.Path.StartsWithSegments("/api") && !context.Request.Path.StartsWithSegments("/generator"))
            {
                await next(context);
                return;
            }

            // The Content-Type is parsed once, for both the charset check and whether the body is JSON.
            var mediaType = ParseContentType(context.Request, out var unparsable);
            var problem = CheckPathQueryAndHeaders(context.Request) ?? CheckContentType(mediaType, unparsable);
            if (problem is null && context.Request.ContentLength != 0 && IsJson(mediaType))
            {
                var body = await ReadBodyAsync(context.Request, context.RequestAborted);
                problem = body.Length == 0 ? null : CheckJsonBody(body, maxJsonDepth);
                context.Request.Body = new MemoryStream(body, writable: false);
            }

            if (problem is not null)
            {
                context.Response.StatusCode = problem.Status;
                var extensions = new Dictionary<string, object?> { ["field"] = problem.Field };
                if (problem.LineNumber is { } line && problem.BytePositionInLine is { } position)
                {
                    extensions["line_number"] = line;
                    extensions["byte_position_in_line"] = position;
                }

                await Results.Problem(
                    title: problem.Status == StatusCodes.Status415UnsupportedMediaType ? "Unsupported media type" : "Invalid input",
                    detail: problem.Detail,
                    statusCode: problem.Status,
                    extensions: extensions).ExecuteAsync(context);
                return;
            }

            await next(context);
        });

    /// <summary>
    /// Why a request was refused: the field (parameter, header or JSON path), what is wrong with it and, for a body
    /// that is not JSON, where the reader stopped (System.Text.Json's line and byte, counted from 0).
    /// </summary>
    public sealed record Problem(string Field, string Detail, int Status = StatusCodes.Status400BadRequest, long? LineNumber = null, long? BytePositionInLine = null);

    /// <summary>A reason the text cannot be stored, or null when it is clean.</summary>
    public static string? TextProblem(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0')
            {
                return "contains U+0000 (NUL), which cannot be stored";
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return "contains a lone UTF-16 surrogate, which is not valid Unicode text";
            }
        }

        return null;
    }

    private static Problem? CheckPathQueryAndHeaders(HttpRequest request)
    {
        if (request.Path.Value is { } path && TextProblem(path) is { } pathProblem)
        {
            return new Problem("path", "The request path " + pathProblem + ".");
        }

        // Only a request with a query string has query values to check (reading Query would build an empty collection).
        foreach (var (name, values) in request.QueryString.HasValue ? request.Query : QueryCollection.Empty)
        {
            foreach (var text in (IEnumerable<string?>)[name, .. values])
            {
                if (text is not null && TextProblem(text) is { } queryProblem)
                {
                    return new Problem(name, $"Query parameter '{Printable(name)}' {queryProblem}.");
                }
            }
        }

        foreach (var (name, values) in request.Headers)
        {
            foreach (var text in values)
            {
                if (text is not null && TextProblem(text) is { } headerProblem)
                {
                    return new Problem(name, $"Header '{name}' {headerProblem}.");
                }
            }
        }

        return null;
    }

    private static MediaTypeHeaderValue? ParseContentType(HttpRequest request, out bool unparsable)
    {
        unparsable = false;
        if (request.Headers.ContentType.Count == 0 || string.IsNullOrEmpty(request.ContentType))
        {
            return null;
        }

        unparsable = !MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType);
        return mediaType;
    }

    private static Problem? CheckContentType(MediaTypeHeaderValue? mediaType, bool unparsable)
    {
        if (unparsable)
        {
            return new Problem("Content-Type", "The Content-Type header cannot be parsed.", StatusCodes.Status415UnsupportedMediaType);
        }

        if (mediaType is null)
        {
            return null;
        }

        // JSON is UTF-8 (RFC 8259); an empty or other charset would make the body reader fail later.
        var charsetGiven = mediaType.Parameters.Any(p => p.Name.Equals("charset", StringComparison.OrdinalIgnoreCase));
        var charset = mediaType.Charset.HasValue ? mediaType.Charset.Value!.Trim('"') : "";
        if (charsetGiven && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
        {
            return new Problem("Content-Type", $"Unsupported charset '{Printable(charset)}'; send UTF-8 (e.g. 'application/json; charset=utf-8').",
                StatusCodes.Status415UnsupportedMediaType);
        }

        return null;
    }

    private static bool IsJson(MediaTypeHeaderValue? mediaType) =>
        mediaType is not null
        && (mediaType.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));

    /// <summary>Reads the whole body; its size is already bounded by Kestrel's MaxRequestBodySize and the 413 check.</summary>
    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength is { } declared and > 0 and < int.MaxValue)
        {
            // Kestrel ends the body at the declared length (and fails a shorter one with a 400), so one exact read suffices.
            var body = new byte[declared];
            await request.Body.ReadExactlyAsync(body, cancellationToken);
            return body;
        }

        using var buffer = new MemoryStream(request.ContentLength is { } length and < int.MaxValue ? (int)length : 1024);
        await request.Body.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    /// <summary>One pass of a JSON reader over the body: strings, property names, numbers, duplicate keys, depth.</summary>
    public static Problem? CheckJsonBody(ReadOnlySpan<byte> body, int maxDepth)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = maxDepth + 1, CommentHandling = JsonCommentHandling.Disallow });
        var walk = new JsonBodyWalk();
        try
        {
            while (reader.Read())
            {
                if (walk.Visit(ref reader) is { } problem)
                {
                    return problem;
                }
            }
        }
        catch (JsonException ex)
        {
            return walk.SyntaxProblem(ex, reader.CurrentDepth, maxDepth);
        }

        return null;
    }

    /// <summary>Where the reader is in a body (the JSON path, each open object's keys so far) and what is wrong there.</summary>
    private sealed class JsonBodyWalk
    {
        private readonly List<string> _path = [];
        private readonly Stack<HashSet<string>?> _keys = new();
        private string? _pendingProperty;
        // The property the reader last finished or entered, to name where a syntax error is (after 'workflow_name').
        private string? _lastProperty;

        public Problem? Visit(ref Utf8JsonReader reader)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                case JsonTokenType.StartArray:
                    Enter(reader.TokenType == JsonTokenType.StartObject);
                    return null;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    Leave();
                    return null;
                case JsonTokenType.PropertyName:
                    return Property(ref reader);
                case JsonTokenType.String:
                    // Unescaped UTF-8 cannot hold U+0000 (the reader refuses raw control characters) and holds a
                    // surrogate only as invalid UTF-8, so validating the bytes spares decoding every string.
                    return Value(reader.ValueIsEscaped
                        ? ReadStringProblem(ref reader)
                        : Utf8.IsValid(reader.ValueSpan) ? null : LoneSurrogate);
                case JsonTokenType.Number:
                    return Value(reader.TryGetDouble(out var number) && double.IsFinite(number)
                        ? null
                        : "is a number outside the supported range (about ±1.7e308)");
                default:
                    _pendingProperty = null;
                    return null;
            }
        }

        public Problem SyntaxProblem(JsonException ex, int depth, int maxDepth)
        {
            var at = Join(_path, _pendingProperty ?? _lastProperty ?? "");
            var field = at.Length == 0 ? "body" : at;
            if (depth >= maxDepth)
            {
                return new Problem(field, $"The JSON body is nested deeper than {maxDepth} levels (at '{field}').");
            }

            var reason = ReaderPosition().Replace(ex.Message, "").TrimEnd('.', ' ');
            var where = at.Length == 0 ? "" : $" at '{at}'";
            return new Problem(field, $"The request body is not valid JSON{where}: {reason} (line {ex.LineNumber}, byte {ex.BytePositionInLine}, counted from 0).",
                LineNumber: ex.LineNumber, BytePositionInLine: ex.BytePositionInLine);
        }

        private void Enter(bool isObject)
        {
            _path.Add(_pendingProperty ?? (_keys.Count == 0 ? "" : "[]"));
            _keys.Push(isObject ? new HashSet<string>(StringComparer.Ordinal) : null);
            _pendingProperty = null;
            _lastProperty = null;
        }

        private void Leave()
        {
            _keys.Pop();
            _lastProperty = _path[^1] is { Length: > 0 } container && container != "[]" ? container : null;
            _path.RemoveAt(_path.Count - 1);
            _pendingProperty = null;
        }

        private Problem? Property(ref Utf8JsonReader reader)
        {
            var name = ReadString(ref reader, out var nameProblem);
            var field = Join(_path, name ?? "?");
            if (nameProblem is not null)
            {
                return new Problem(field, $"Property name at '{field}' {nameProblem}.");
            }

            if (_keys.Peek() is { } seen && !seen.Add(name!))
            {
                return new Problem(field, $"Property '{field}' appears more than once in the same object.");
            }

            _pendingProperty = name;
            _lastProperty = name;
            return null;
        }

        /// <summary>A string or number value: its problem, named by where it is, or null (and the pending property is done).</summary>
        private Problem? Value(string? problem)
        {
            if (problem is not null)
            {
                var at = Join(_path, _pendingProperty ?? "[]");
                return new Problem(at, $"Field '{at}' {problem}.");
            }

            _pendingProperty = null;
            return null;
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\s*(Path: .*?\|\s*)?LineNumber: \d+ \| BytePositionInLine: \d+\.?", System.Text.RegularExpressions.RegexOptions.Singleline)]
    private static partial System.Text.RegularExpressions.Regex ReaderPosition();

    private const string LoneSurrogate = "contains a lone UTF-16 surrogate, which is not valid Unicode text";

    private static string? ReadStringProblem(ref Utf8JsonReader reader)
    {
        ReadString(ref reader, out var problem);
        return problem;
    }

    private static string? ReadString(ref Utf8JsonReader reader, out string? problem)
    {
        try
        {
            var value = reader.GetString()!;
            problem = TextProblem(value);
            return value;
        }
        catch (InvalidOperationException)
        {
            // The reader refuses escapes that decode to invalid UTF-16 (e.g. a lone "\ud800") and invalid UTF-8.
            problem = LoneSurrogate;
            return null;
        }
    }

    private static string Join(List<string> path, string leaf)
    {
        var builder = new StringBuilder();
        foreach (var segment in path.Skip(1).Append(leaf))
        {
            if (segment.Length == 0)
            {
                continue;
            }

            if (segment == "[]")
            {
                builder.Append("[]");
                continue;
            }

            if (builder.Length > 0)
            {
                builder.Append('.');
            }

            builder.Append(Printable(segment));
        }

        return builder.ToString();
    }

    /// <summary>The text with control characters and surrogates shown as escapes, safe to echo in a problem.</summary>
    private static string Printable(string text)
    {
        var builder = new StringBuilder(Math.Min(text.Length, 100));
        foreach (var c in text.Take(100))
        {
            builder.Append(char.IsControl(c) || char.IsSurrogate(c) ? $"\\u{(int)c:x4}" : c);
        }

        return builder.ToString();
    }
}
