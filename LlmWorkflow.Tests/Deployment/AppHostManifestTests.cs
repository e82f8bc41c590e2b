using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Deployment;

/// <summary>
/// <c>LlmWorkflow.AppHost -- --publisher manifest --output-path f</c> writes the Aspire manifest of the model it runs,
/// valid against the published aspire-8.0 schema (checked by Ajv, not by our code), and starts nothing.
/// </summary>
public sealed partial class AppHostManifestTests
{
    private static readonly string Schema = Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Tests", "Deployment", "Schemas", "aspire-8.0.json");

    [Fact]
    public async Task WritesASchemaValidManifestOfTheRunModelAndStartsNothing()
    {
        var folder = Directory.CreateTempSubdirectory("llmwf-manifest-");
        try
        {
            var manifestPath = Path.Combine(folder.FullName, "out", "aspire-manifest.json");
            var data = Path.Combine(folder.FullName, "data");
            var output = await ExternalCommand.RunAsync(
                "dotnet",
                [Path.Combine(AppContext.BaseDirectory, "LlmWorkflow.AppHost.dll"), "--publisher", "manifest", "--output-path", manifestPath, "--data", data],
                TimeSpan.FromSeconds(60),
                workingDirectory: RepositoryPaths.Root);

            Assert.Contains("Wrote the Aspire manifest", output, StringComparison.Ordinal);
            Assert.False(Directory.Exists(data), "publishing must not start PostgreSQL or Redis:\n" + output);

            Assert.Equal("valid", (await ValidateAsync(manifestPath)).Trim());

            var manifest = JsonNode.Parse(await File.ReadAllTextAsync(manifestPath, TestContext.Current.CancellationToken))!;
            Assert.Equal("https://json.schemastore.org/aspire-8.0.json", (string?)manifest["$schema"]);
            var resources = manifest["resources"]!.AsObject();
            var types = resources.ToDictionary(r => r.Key, r => (string)r.Value!["type"]!);
            Assert.Equal(
                new Dictionary<string, string>
                {
                    ["postgres"] = "postgres.server.v0",
                    ["llmworkflow"] = "postgres.database.v0",
                    ["redis"] = "redis.v0",
                    ["api-key"] = "parameter.v0",
                    ["admin-key"] = "parameter.v0",
                    ["webhook-secret"] = "parameter.v0",
                    ["api"] = "project.v0",
                    ["worker"] = "project.v0",
                },
                types);
            Assert.Equal("postgres", (string?)resources["llmworkflow"]!["parent"]);
            Assert.True((bool)resources["api-key"]!["inputs"]!["value"]!["secret"]!);

            // Project paths are relative to the manifest and name the projects the AppHost builds and runs.
            foreach (var (project, file) in new[] { ("api", "LlmWorkflow.Api.csproj"), ("worker", "LlmWorkflow.Worker.csproj") })
            {
                var path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(manifestPath)!, (string)resources[project]!["path"]!));
                Assert.Equal(Path.Combine(RepositoryPaths.Root, Path.GetFileNameWithoutExtension(file), file), path);
            }

            // The api is reachable from outside; the worker has no endpoint.
            var http = resources["api"]!["bindings"]!["http"]!;
            Assert.Equal("http", (string?)http["scheme"]);
            Assert.True((bool)http["external"]!);
            Assert.Null(resources["worker"]!["bindings"]);

            var apiEnv = resources["api"]!["env"]!.AsObject();
            Assert.Equal("{llmworkflow.connectionString}", (string?)apiEnv["ConnectionStrings__postgres"]);
            Assert.Equal("{redis.connectionString}", (string?)apiEnv["ConnectionStrings__redis"]);
            Assert.Equal("{api-key.value}", (string?)apiEnv["LLM_MICROSERVICE_API_KEY"]);
            Assert.Equal("{api.bindings.http.targetPort}", (string?)apiEnv["HTTP_PORTS"]);
            var workerEnv = resources["worker"]!["env"]!.AsObject();
            Assert.Equal("{llmworkflow.connectionString}", (string?)workerEnv["ConnectionStrings__postgres"]);
            Assert.Equal("{redis.connectionString}", (string?)workerEnv["ConnectionStrings__redis"]);
            Assert.Equal("{webhook-secret.value}", (string?)workerEnv["LLM_WEBHOOK_SECRET"]);

            // Development-only settings stay out of what gets deployed.
            foreach (var env in new[] { apiEnv, workerEnv })
            {
                Assert.DoesNotContain(env, e => e.Key is "Webhooks__AllowPrivateNetworks" or "ASPNETCORE_ENVIRONMENT" or "DOTNET_ENVIRONMENT" or "ASPNETCORE_URLS");
            }

            // Every expression refers to a declared resource.
            foreach (var (_, value) in apiEnv.Concat(workerEnv))
            {
                foreach (Match reference in Expression().Matches((string)value!))
                {
                    Assert.True(resources.ContainsKey(reference.Groups[1].Value), $"{value} refers to an undeclared resource");
                }
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task TheValidatorRejectsAManifestThatBreaksTheSchema()
    {
        var folder = Directory.CreateTempSubdirectory("llmwf-manifest-bad-");
        try
        {
            // A project without its path, and a binding with an unknown scheme.
            var bad = Path.Combine(folder.FullName, "bad.json");
            await File.WriteAllTextAsync(
                bad,
                """{"resources":{"api":{"type":"project.v0","bindings":{"http":{"scheme":"gopher","protocol":"tcp","transport":"http"}}}}}""",
                TestContext.Current.CancellationToken);
            var errors = await ValidateAsync(bad, expectValid: false);
            Assert.Contains("\"missingProperty\": \"path\"", errors, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static Task<string> ValidateAsync(string document, bool expectValid = true) =>
        ExternalCommand.RunAsync(
            "node",
            [Path.Combine(RepositoryPaths.Root, "tools", "json-schema-validator", "validate.mjs"), Schema, document],
            TimeSpan.FromSeconds(60),
            allowFailure: !expectValid);

    [GeneratedRegex(@"\{([A-Za-z0-9-]+)\.[^}]+\}")]
    private static partial Regex Expression();
}
