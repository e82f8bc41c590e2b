using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Deployment;

/// <summary>
/// <c>dotnet run --project LlmWorkflow.AppHost -- --publisher manifest --output-path f</c>: Aspire's own manifest publisher
/// writes the model the AppHost runs, valid against the published aspire-8.0 schema (checked by Ajv, not by our code),
/// and starts nothing.
/// </summary>
[SystemTest]
public sealed partial class AppHostManifestTests
{
    private static readonly string Schema = Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Tests", "Deployment", "Schemas", "aspire-8.0.json");

    /// <summary>Runs the built AppHost (its own output folder, so its launch settings and project metadata apply) as the manifest publisher.</summary>
    internal static Task<string> PublishManifestAsync(string manifestPath, params string[] extraArguments) =>
        ExternalCommand.RunAsync(
            "dotnet",
            ["run", "--project", Path.Combine(RepositoryPaths.Root, "LlmWorkflow.AppHost"), "--no-build", "-c", ExternalCommand.BuildConfiguration,
             "--", "--publisher", "manifest", "--output-path", manifestPath, .. extraArguments],
            TimeSpan.FromSeconds(120),
            workingDirectory: RepositoryPaths.Root);

    [Fact]
    public async Task WritesASchemaValidManifestOfTheRunModelAndStartsNothing()
    {
        var folder = Directory.CreateTempSubdirectory("llmwf-manifest-");
        try
        {
            var manifestPath = Path.Combine(folder.FullName, "out", "aspire-manifest.json");
            var data = Path.Combine(folder.FullName, "data");
            var output = await PublishManifestAsync(manifestPath, "--data", data);

            Assert.Contains("Published manifest to", output, StringComparison.Ordinal);
            Assert.False(Directory.Exists(data), "publishing must not start PostgreSQL or Redis:\n" + output);
            Assert.DoesNotContain("run from the local binaries", output, StringComparison.Ordinal);

            Assert.Equal("valid", (await ValidateAsync(manifestPath)).Trim());

            var manifest = JsonNode.Parse(await File.ReadAllTextAsync(manifestPath, TestContext.Current.CancellationToken))!;
            var resources = manifest["resources"]!.AsObject();
            var types = resources.ToDictionary(r => r.Key, r => (string)r.Value!["type"]!);
            foreach (var (name, type) in new[]
            {
                ("postgres", "container.v0"), ("llmworkflow", "value.v0"), ("redis", "container.v0"),
                ("api-key", "parameter.v0"), ("admin-key", "parameter.v0"), ("webhook-secret", "parameter.v0"),
                ("postgres-password", "parameter.v0"), ("redis-password", "parameter.v0"),
                ("api", "project.v0"), ("worker", "project.v0"),
            })
            {
                Assert.Equal(type, types.GetValueOrDefault(name));
            }

            Assert.StartsWith("docker.io/library/postgres:", (string?)resources["postgres"]!["image"], StringComparison.Ordinal);
            Assert.Equal("{postgres.connectionString};Database=llmworkflow", (string?)resources["llmworkflow"]!["connectionString"]);
            Assert.True((bool)resources["api-key"]!["inputs"]!["value"]!["secret"]!);
            // Deployments generate the servers' passwords; only a local run uses the fixed development ones.
            Assert.NotNull(resources["postgres-password"]!["inputs"]!["value"]!["default"]!["generate"]);

            // Project paths are relative to the manifest and name the projects the AppHost runs.
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

            // The projects see the same two connection strings as in a local run, and only those of their references.
            var apiEnv = resources["api"]!["env"]!.AsObject();
            var workerEnv = resources["worker"]!["env"]!.AsObject();
            foreach (var env in new[] { apiEnv, workerEnv })
            {
                Assert.Equal("{llmworkflow.connectionString}", (string?)env["ConnectionStrings__postgres"]);
                Assert.Equal("{redis.connectionString}", (string?)env["ConnectionStrings__redis"]);
                Assert.Equal("{webhook-secret.value}", (string?)env["LLM_WEBHOOK_SECRET"]);
                Assert.DoesNotContain(env, e => e.Key.StartsWith("POSTGRES_", StringComparison.Ordinal) || e.Key.StartsWith("REDIS_", StringComparison.Ordinal));
                // Development-only settings stay out of what gets deployed.
                Assert.DoesNotContain(env, e => e.Key is "Webhooks__AllowPrivateNetworks" or "Worker__Id" or "AspireDashboard__Url" or "ASPNETCORE_ENVIRONMENT" or "ASPNETCORE_URLS");
            }

            Assert.Equal("{api-key.value}", (string?)apiEnv["LLM_MICROSERVICE_API_KEY"]);
            Assert.Equal("{admin-key.value}", (string?)apiEnv["ADMIN_API_KEY"]);
            Assert.Equal("{api.bindings.http.targetPort}", (string?)apiEnv["HTTP_PORTS"]);

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

    [Fact]
    public async Task AMissingServerProgramStopsTheLocalRunInOneLine()
    {
        var data = Directory.CreateTempSubdirectory("llmwf-missing-");
        try
        {
            var output = await ExternalCommand.RunAsync(
                "dotnet",
                ["run", "--project", Path.Combine(RepositoryPaths.Root, "LlmWorkflow.AppHost"), "--no-build", "-c", ExternalCommand.BuildConfiguration,
                 "--", "--data", data.FullName],
                TimeSpan.FromSeconds(120),
                environment: new Dictionary<string, string> { ["REDIS_SERVER"] = "/nonexistent/redis-server" },
                workingDirectory: RepositoryPaths.Root,
                allowFailure: true);

            Assert.Contains("Cannot start: REDIS_SERVER names /nonexistent/redis-server, which does not exist.", output, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        }
        finally
        {
            data.Delete(recursive: true);
        }
    }

    private static Task<string> ValidateAsync(string document, bool expectValid = true) =>
        ExternalCommand.RunAsync(
            "node",
            [SetupScripts.JsonSchemaValidator, Schema, document],
            TimeSpan.FromSeconds(60),
            allowFailure: !expectValid);

    [GeneratedRegex(@"\{([A-Za-z0-9-]+)\.[^}]+\}")]
    private static partial Regex Expression();
}
