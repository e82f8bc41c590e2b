using System.Text.Json.Nodes;
using LlmWorkflow.Api.Contracts;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace LlmWorkflow.Api.Infrastructure.OpenApi;

/// <summary>
/// Makes the generated document describe what the service really sends, so strict validators and generated clients
/// agree with it: real shapes for JSON-document properties, string enums, required members, nullable references as
/// <c>anyOf</c> (a <c>oneOf</c> with <c>null</c> and an open schema is ambiguous), problem+json error bodies, the
/// 401/403/429/503 answers every protected route can give, and the event stream's media type.
/// </summary>
internal sealed partial class OpenApiContractTransformer : IOpenApiDocumentTransformer
{
    private const string ProblemJson = "application/problem+json";

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        FixSchemas(document);
        FixOperations(document, AdminOnlyOperations(context));
        foreach (var server in document.Servers ?? [])
        {
            server.Url = server.Url?.TrimEnd('/');
        }

        return Task.CompletedTask;
    }

    private static void FixSchemas(OpenApiDocument document)
    {
        var schemas = document.Components!.Schemas!;
        foreach (var (name, shape) in OpenApiSchemaShapes.Components(document))
        {
            schemas[name] = shape;
        }

        var overrides = OpenApiSchemaShapes.PropertyOverrides(document);
        foreach (var (name, component) in schemas)
        {
            if (component is not OpenApiSchema { Properties: { Count: > 0 } properties } schema)
            {
                continue;
            }

            foreach (var property in properties.Keys.ToList())
            {
                if (overrides.TryGetValue((name, property), out var replacement))
                {
                    properties[property] = replacement;
                }
                else if (properties[property] is OpenApiSchema { OneOf: { Count: 2 } oneOf } nullable && oneOf.Any(IsNull))
                {
                    var target = oneOf.First(s => !IsNull(s));
                    properties[property] = target is OpenApiSchemaReference { Reference.Id: "JsonNode" }
                        ? OpenApiSchemaShapes.AnyJson(nullable.Description)
                        : new OpenApiSchema { Description = nullable.Description, AnyOf = [.. oneOf] };
                }
            }

            schema.Required = OpenApiSchemaShapes.ExplicitRequired.TryGetValue(name, out var required)
                ? new HashSet<string>(required)
                : new HashSet<string>(properties.Keys);
        }

        schemas.Remove("JsonNode");
    }

    private static bool IsNull(IOpenApiSchema schema) => schema is OpenApiSchema { Type: JsonSchemaType.Null };

    private static void FixOperations(OpenApiDocument document, HashSet<string> adminOnly)
    {
        foreach (var (path, item) in document.Paths)
        {
            foreach (var (method, operation) in item.Operations ?? [])
            {
                operation.Responses ??= new OpenApiResponses();
                foreach (var (_, response) in operation.Responses)
                {
                    if (response is OpenApiResponse { Content: { } content })
                    {
                        ProblemContentType(content);
                    }
                }

                if (path == "/api/v1/health")
                {
                    AddProblem(document, operation, "503", "A dependency is unhealthy (the body is the health report).", schema: "ApiHealthResponse", json: true);
                    continue;
                }

                if (OpenApiDocumentSetup.AnonymousPaths.Contains(path))
                {
                    continue;
                }

                AddProblem(document, operation, "401", "No API key, or an unknown one (X-API-Key or X-API-Secret).");
                if (adminOnly.Contains(OperationKey(method.Method, path)))
                {
                    AddProblem(document, operation, "403", "The key is not an admin key.");
                }

                AddProblem(document, operation, "429", "Rate limit exceeded (when enabled); see Retry-After.");
                AddProblem(document, operation, "503", "PostgreSQL or Redis is unreachable; retry after Retry-After seconds.");
                if (operation.RequestBody is not null)
                {
                    // A body of any JSON (a signal's) is declared as any JSON, not as .NET's JsonNode type.
                    foreach (var media in operation.RequestBody.Content?.Values ?? [])
                    {
                        if (media.Schema is OpenApiSchemaReference { Reference.Id: "JsonNode" })
                        {
                            media.Schema = OpenApiSchemaShapes.AnyJson("Any JSON value.");
                        }
                    }

                    AddProblem(document, operation, "400", "Malformed JSON or invalid fields; errors names each field.", schema: "HttpValidationProblemDetails");
                    AddProblem(document, operation, "413", "The body exceeds Api:MaxRequestBodyBytes.");
                }

                foreach (var parameter in operation.Parameters ?? [])
                {
                    if (parameter is OpenApiParameter { Name: "status_filter", Schema: OpenApiSchema filter })
                    {
                        filter.Enum = JobListQuery.StatusFilterValues.Select(v => (JsonNode)JsonValue.Create(v)!).ToList();
                    }
                }

                if (path == "/api/v1/jobs" && method == HttpMethod.Get
                    && operation.Responses.TryGetValue("400", out var listProblem) && listProblem is OpenApiResponse { Content: { } listContent })
                {
                    listContent[ProblemJson] = new OpenApiMediaType { Schema = new OpenApiSchemaReference("InvalidLimitResultsProblem", document) };
                }

                if (path.EndsWith("/events", StringComparison.Ordinal) && method == HttpMethod.Get)
                {
                    DescribeEventStream(operation);
                }
                else if (path == "/generator/events/stream")
                {
                    DescribeEventStream(operation, "The run's events under document 004's names as Server-Sent Events: `id:` (the stream entry id), " +
                                                   "`event:` (run_started, section_started, section_completed, run_completed or error) and `data:` " +
                                                   "(a JSON object with run_id, status, timestamp and the event's fields). Ends after run_completed or error.");
                }
            }
        }
    }

    /// <summary>ProblemDetails bodies are written as application/problem+json, whatever the generator guessed.</summary>
    private static void ProblemContentType(IDictionary<string, OpenApiMediaType> content)
    {
        if (content.TryGetValue("application/json", out var media)
            && media.Schema is OpenApiSchemaReference { Reference.Id: "ProblemDetails" or "HttpValidationProblemDetails" })
        {
            content.Remove("application/json");
            content[ProblemJson] = media;
        }
    }

    private static void AddProblem(OpenApiDocument document, OpenApiOperation operation, string status, string description, string schema = "ProblemDetails", bool json = false)
    {
        if (operation.Responses!.ContainsKey(status))
        {
            return;
        }

        operation.Responses[status] = new OpenApiResponse
        {
            Description = description,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                [json ? "application/json" : ProblemJson] = new() { Schema = new OpenApiSchemaReference(schema, document) },
            },
        };
    }

    private static void DescribeEventStream(OpenApiOperation operation, string? description = null)
    {
        if (operation.Responses!.TryGetValue("200", out var ok) && ok is OpenApiResponse okResponse)
        {
            okResponse.Description = description ?? "The job's events as Server-Sent Events: `id:` (the stream entry id), `event:` (the type) and " +
                                     "`data:` (a JSON object with type, job_id, timestamp and the event's fields). Ends after run_completed, run_failed or cancelled.";
            okResponse.Content = new Dictionary<string, OpenApiMediaType>
            {
                ["text/event-stream"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String } },
            };
        }

        if (operation.Responses.TryGetValue("204", out var noContent) && noContent is OpenApiResponse noContentResponse)
        {
            noContentResponse.Description = "The request resumed at or after the terminal event: nothing more will come (EventSource stops reconnecting).";
        }
    }

    /// <summary>
    /// The operations whose endpoint requires the admin policy, read from the endpoints' own authorization metadata (a
    /// group's or the route's), so a new admin route is declared 403 wherever it is mapped.
    /// </summary>
    private static HashSet<string> AdminOnlyOperations(OpenApiDocumentTransformerContext context) =>
        context.DescriptionGroups.SelectMany(group => group.Items)
            .Where(api => api.ActionDescriptor.EndpointMetadata.OfType<Microsoft.AspNetCore.Authorization.IAuthorizeData>()
                .Any(a => a.Policy == Auth.AuthServiceCollectionExtensions.AdminPolicy))
            .Select(api => OperationKey(api.HttpMethod ?? "", "/" + RouteParameter().Replace(api.RelativePath ?? "", "{$1}").TrimEnd('/')))
            .ToHashSet(StringComparer.Ordinal);

    private static string OperationKey(string method, string path) => $"{method.ToUpperInvariant()} {path}";

    // A route template's parameter as the document writes it: {jobId:guid} and {name?} are {jobId} and {name}.
    [System.Text.RegularExpressions.GeneratedRegex(@"\{([^}:?]+)[^}]*\}")]
    private static partial System.Text.RegularExpressions.Regex RouteParameter();
}
