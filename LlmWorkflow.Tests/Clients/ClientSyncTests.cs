using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LlmWorkflow.Client;
using LlmWorkflow.Tests.Contract;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Clients;

/// <summary>
/// The client packages are in step with the live OpenAPI document: every route and every schema field the service
/// documents is in the TypeScript package (its generated types and route table) and in the .NET package (its route
/// table, methods and records). A route or field added to the service without <c>npm run generate</c> in
/// clients/typescript fails here, naming it.
/// </summary>
[SystemTest]
public sealed class ClientSyncTests(ContractFixture fixture, ITestOutputHelper output) : IClassFixture<ContractFixture>
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch"];

    /// <summary>Where the live document is saved for regenerating the clients from it.</summary>
    private static string LiveDocumentPath { get; } = Path.Combine(AppContext.BaseDirectory, "clients-out", "openapi.json");

    private async Task<JsonObject> LiveDocumentAsync()
    {
        using var http = new HttpClient { BaseAddress = fixture.Api.BaseAddress };
        return await http.GetFromJsonAsync<JsonObject>("/openapi/v1.json", TestContext.Current.CancellationToken)
            ?? throw new InvalidOperationException("no OpenAPI document");
    }

    [Fact]
    public async Task GeneratedFilesOfBothClientsMatchTheLiveOpenApiDocument()
    {
        var document = await LiveDocumentAsync();
        // Kept after the run: on a failure, `npm run generate -- <this file>` in clients/typescript regenerates both clients.
        Directory.CreateDirectory(Path.GetDirectoryName(LiveDocumentPath)!);
        await File.WriteAllTextAsync(LiveDocumentPath, document.ToJsonString(), TestContext.Current.CancellationToken);
        var text = await ExternalCommand.RunAsync("node", [Path.Combine("scripts", "generate.mjs"), "--check", LiveDocumentPath],
            TimeSpan.FromMinutes(2), workingDirectory: TypeScriptPackage.Directory, allowFailure: true);
        output.WriteLine(text);
        Assert.True(text.Contains("in sync (TypeScript and .NET)", StringComparison.Ordinal), text);
    }

    [Fact]
    public async Task DotnetClientHasAMethodForEveryRouteAndAPropertyForEveryField()
    {
        var document = await LiveDocumentAsync();
        var missing = MissingRoutes(document).Concat(MissingFields(document)).ToList();
        Assert.True(missing.Count == 0, $"The .NET client lags the OpenAPI document (run `npm run generate -- {LiveDocumentPath}` in clients/typescript after GeneratedFilesOfBothClientsMatchTheLiveOpenApiDocument saved it):\n" + string.Join('\n', missing));
    }

    private static IEnumerable<string> MissingRoutes(JsonObject document)
    {
        var table = LlmWorkflowRoutes.All.ToDictionary(r => $"{r.Method} {r.Path}");
        var clientMethods = typeof(LlmWorkflowClient).GetMethods(BindingFlags.Public | BindingFlags.Instance).Select(m => m.Name).ToHashSet();
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var method in Methods.Where(m => item?[m] is not null))
            {
                var key = $"{method.ToUpperInvariant()} {path}";
                if (!table.TryGetValue(key, out var route))
                {
                    yield return $"route missing from the .NET client: {key}";
                }
                else if (route.ClientMethod is null ? string.IsNullOrEmpty(route.Note) : !clientMethods.Contains(route.ClientMethod))
                {
                    yield return $"route without a client method: {key} ({route.ClientMethod ?? "no reason given"})";
                }
            }
        }
    }

    private static IEnumerable<string> MissingFields(JsonObject document)
    {
        var schemas = document["components"]!["schemas"]!.AsObject();
        foreach (var (name, schema) in schemas)
        {
            if (!LlmWorkflowRoutes.Schemas.TryGetValue(name, out var type))
            {
                yield return $"schema missing from the .NET client: {name}";
                continue;
            }

            if (type is null)
            {
                continue;
            }

            var known = JsonNames(type);
            foreach (var field in Properties(schemas, schema!.AsObject()).Where(f => !known.Contains(f)))
            {
                yield return $"field missing from the .NET client: {name}.{field} ({type.FullName})";
            }
        }
    }

    /// <summary>The JSON names a type reads: [JsonPropertyName] or the client's snake_case policy.</summary>
    private static HashSet<string> JsonNames(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .Select(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name))
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>A schema's property names, with allOf parts (and the schemas they refer to) merged.</summary>
    private static IEnumerable<string> Properties(JsonObject schemas, JsonObject schema)
    {
        var own = (schema["properties"] as JsonObject)?.Select(p => p.Key) ?? [];
        var parts = (schema["allOf"] as JsonArray ?? []).OfType<JsonObject>()
            .SelectMany(part => part["$ref"] is JsonValue reference
                ? Properties(schemas, schemas[((string)reference!).Split('/')[^1]]!.AsObject())
                : Properties(schemas, part));
        return own.Concat(parts).Distinct();
    }
}
