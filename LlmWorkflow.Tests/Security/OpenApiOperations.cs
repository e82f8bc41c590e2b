using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Tests.Security;

/// <summary>One operation of the service's own OpenAPI document: method, path template, parameters, body.</summary>
public sealed record OpenApiOperation(
    string Method,
    string Path,
    IReadOnlyList<OpenApiParameter> Parameters,
    bool HasBody)
{
    public string Key => $"{Method} {Path}";

    /// <summary>Operator routes (the admin key's): /api/v1/admin/… and the LLM providers' pause, resume and limits.</summary>
    public bool IsAdmin => Path.StartsWith("/api/v1/admin", StringComparison.Ordinal) || Path.StartsWith("/api/v1/providers", StringComparison.Ordinal);

    public IEnumerable<string> PathParameters => Parameters.Where(p => p.In == "path").Select(p => p.Name);

    public IEnumerable<OpenApiParameter> Query => Parameters.Where(p => p.In == "query");

    public IEnumerable<OpenApiParameter> Headers => Parameters.Where(p => p.In == "header");

    /// <summary>The path with its parameters filled in (URL-escaped unless <paramref name="escaped"/> says they already are).</summary>
    public string Fill(IReadOnlyDictionary<string, string> values, bool escaped = false)
    {
        var path = Path;
        foreach (var name in PathParameters)
        {
            path = path.Replace("{" + name + "}", escaped ? values[name] : Uri.EscapeDataString(values[name]), StringComparison.Ordinal);
        }

        return path;
    }
}

public sealed record OpenApiParameter(string Name, string In, string? Type);

/// <summary>Reads <c>/openapi/v1.json</c> so security tests cover every route the service documents, including future ones.</summary>
public static class OpenApiOperations
{
    private static readonly string[] Methods = ["get", "post", "put", "patch", "delete"];

    public static async Task<IReadOnlyList<OpenApiOperation>> LoadAsync(HttpClient client, CancellationToken cancellationToken)
    {
        var document = await client.GetFromJsonAsync<JsonObject>("/openapi/v1.json", cancellationToken)
            ?? throw new InvalidOperationException("No OpenAPI document");
        var operations = new List<OpenApiOperation>();
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var method in Methods)
            {
                if (item?[method] is not JsonObject operation)
                {
                    continue;
                }

                var parameters = (operation["parameters"] as JsonArray ?? [])
                    .OfType<JsonObject>()
                    .Select(p => new OpenApiParameter((string)p["name"]!, (string)p["in"]!, TypeOf(p["schema"])))
                    .ToList();
                operations.Add(new OpenApiOperation(method.ToUpperInvariant(), path, parameters, operation["requestBody"] is not null));
            }
        }

        return operations;
    }

    private static string? TypeOf(JsonNode? schema) => schema?["type"] switch
    {
        JsonValue value => (string?)value,
        JsonArray types => types.Select(t => (string?)t).FirstOrDefault(t => t != "null"),
        _ => null,
    };
}
