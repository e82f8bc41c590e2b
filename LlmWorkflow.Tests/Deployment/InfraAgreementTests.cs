using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using LlmWorkflow.ServiceDefaults.Health;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Redis;
using LlmWorkflow.Storage.Webhooks;

namespace LlmWorkflow.Tests.Deployment;

/// <summary>
/// The Bicep compiler and azd are not available here, so these tests hold infra/ and azure.yaml to the code: every
/// setting the services read in production gets a value, stream and group names are the code's, probes hit mapped
/// routes, module calls pass every required parameter, and the connection strings Key Vault stores parse as intended.
/// </summary>
[IntegrationTest]
public sealed partial class InfraAgreementTests(TestServers servers)
{
    private static readonly string Infra = Path.Combine(RepositoryPaths.Root, "infra");
    private static readonly BicepText Main = new(Path.Combine(Infra, "main.bicep"));
    private static readonly BicepText ApiApp = new(Path.Combine(Infra, "modules", "api.bicep"));
    private static readonly BicepText WorkerApp = new(Path.Combine(Infra, "modules", "worker.bicep"));
    private static readonly BicepText KeyVault = new(Path.Combine(Infra, "modules", "keyvault.bicep"));

    [Fact]
    public void AzureYamlDeploysBothProjectsToContainerAppsTaggedInTheBicep()
    {
        var yaml = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "azure.yaml"));
        Assert.Matches(new Regex(@"^infra:\s*\n\s+provider: bicep\s*\n\s+path: infra", RegexOptions.Multiline), yaml);
        foreach (var (service, project) in new[] { ("api", "LlmWorkflow.Api"), ("worker", "LlmWorkflow.Worker") })
        {
            Assert.Matches(new Regex($@"^  {service}:\s*\n    project: ./{project}\s*\n    language: dotnet\s*\n    host: containerapp", RegexOptions.Multiline), yaml);
            Assert.True(File.Exists(Path.Combine(RepositoryPaths.Root, project, project + ".csproj")));
            // azd finds the app to update by this tag.
            Assert.Contains($"union(tags, {{ 'azd-service-name': '{service}' }})", Main.Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void EveryRequiredParameterHasAValueAndEveryModuleCallMatchesItsModule()
    {
        var parameters = JsonNode.Parse(File.ReadAllText(Path.Combine(Infra, "main.parameters.json")))!["parameters"]!.AsObject();
        foreach (var (name, hasDefault) in Main.Parameters)
        {
            Assert.True(hasDefault || parameters.ContainsKey(name), $"main.bicep parameter {name} has no default and no value in main.parameters.json");
        }

        Assert.All(parameters, p => Assert.True(Main.Parameters.ContainsKey(p.Key), $"main.parameters.json sets {p.Key}, which main.bicep does not declare"));

        Assert.NotEmpty(Main.Modules);
        foreach (var module in Main.Modules)
        {
            var (file, passed) = Main.ModuleCall(module);
            var declared = new BicepText(Path.Combine(Infra, file)).Parameters;
            Assert.All(passed, key => Assert.True(declared.ContainsKey(key), $"module {module} passes {key}, which {file} does not declare"));
            Assert.All(declared.Where(d => !d.Value), d => Assert.True(passed.Contains(d.Key), $"module {module} does not pass required parameter {d.Key} of {file}"));
        }
    }

    [Fact]
    public async Task EverySettingTheServicesReadInProductionHasAValue()
    {
        // What the AppHost's deployment model gives each project (its manifest), apart from the port, which the image
        // fixes (ASPNETCORE_HTTP_PORTS) and the ingress targets.
        var manifest = await PublishManifestAsync();
        foreach (var (service, app) in new[] { ("api", ApiApp), ("worker", WorkerApp) })
        {
            var env = app.Env;
            foreach (var (name, value) in manifest["resources"]![service]!["env"]!.AsObject())
            {
                if (name == "HTTP_PORTS")
                {
                    continue;
                }

                Assert.True(env.ContainsKey(name), $"{service}: the manifest sets {name}, the Bicep does not");
                // Connection strings and parameters are secrets in the model, so they must be secrets in Azure too.
                if (((string)value!).Contains(".connectionString}", StringComparison.Ordinal) || ((string)value!).Contains(".value}", StringComparison.Ordinal))
                {
                    Assert.Equal("secretRef", env[name].Kind);
                }
            }

            // Read by the code directly from the environment.
            Assert.Equal("secretRef", env[WebhookOptions.SecretEnvironmentVariable].Kind);
            Assert.Contains(OpenTelemetryExtensions.OtlpEndpointVariable, env.Keys);
            Assert.Equal($"'{service}'", env["OTEL_SERVICE_NAME"].Value);

            // Every secretRef names a secret of the same app, and every such secret exists in Key Vault.
            var appSecrets = app.KeyVaultSecrets;
            foreach (var (name, (kind, value)) in env.Where(e => e.Value.Kind == "secretRef"))
            {
                Assert.True(appSecrets.ContainsKey(value.Trim('\'')), $"{service}: {name} refers to secret {value}, which the app does not declare");
            }

            foreach (var vaultSecret in appSecrets.Values)
            {
                Assert.True(KeyVaultDefines(vaultSecret), $"{service} reads Key Vault secret {vaultSecret}, which nothing creates");
            }
        }

        // Provider keys: every built-in provider's variable (LlmProviderRegistry) can be supplied.
        var registry = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Engine", "Llm", "LlmProviderRegistry.cs"), TestContext.Current.CancellationToken);
        var providerVariables = ProviderKeyVariable().Matches(registry).Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(providerVariables);
        foreach (var variable in providerVariables)
        {
            Assert.Contains($"env: '{variable}'", Main.Text, StringComparison.Ordinal);
        }

        Assert.Contains("optionalSecretEnv", Main.ModuleCall("api").Keys);
        Assert.Contains("optionalSecretEnv", Main.ModuleCall("worker").Keys);
    }

    [Fact]
    public void KedaRulesWatchTheCodesStreamsAndConsumerGroupOverTls()
    {
        var queue = new QueueOptions();
        Assert.Equal(queue.ConsumerGroup, WorkerApp.Variable("consumerGroup"));
        var streams = StreamEntry().Matches(WorkerApp.Text).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(PriorityBands.ReadOrder.Select(b => b.StreamKey(queue.KeyPrefix)), streams);

        var rule = WorkerApp.Text[WorkerApp.Text.IndexOf("rules: [for s in streams:", StringComparison.Ordinal)..];
        Assert.Contains("type: 'redis-streams'", rule, StringComparison.Ordinal);
        Assert.Contains("consumerGroup: consumerGroup", rule, StringComparison.Ordinal);
        Assert.Contains("lagCount: string(lagPerReplica)", rule, StringComparison.Ordinal);
        Assert.Contains("enableTLS: 'true'", rule, StringComparison.Ordinal);
        Assert.Contains("secretRef: 'redis-password'", rule, StringComparison.Ordinal);
        Assert.Contains("triggerParameter: 'password'", rule, StringComparison.Ordinal);
        Assert.Equal("redis-password", WorkerApp.KeyVaultSecrets["redis-password"]);

        // No ingress for the worker; at least one replica (webhooks and maintenance run there).
        Assert.DoesNotContain("ingress:", WorkerApp.Text, StringComparison.Ordinal);
        Assert.Matches(new Regex(@"^param minReplicas int = 1$", RegexOptions.Multiline), WorkerApp.Text);

        // The drain the worker is given on SIGTERM, plus the host's 10 s margin, fits the platform's grace period.
        var drain = TimeSpan.Parse(WorkerApp.Variable("drainTimeout"), System.Globalization.CultureInfo.InvariantCulture);
        var grace = TimeSpan.FromSeconds(int.Parse(WorkerApp.Variable("terminationGracePeriodSeconds"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(drain + TimeSpan.FromSeconds(10) < grace, $"drain {drain} + 10 s does not fit the grace period {grace}");
        Assert.Equal("drainTimeout", WorkerApp.Env["Worker__DrainTimeout"].Value);
    }

    [Fact]
    public async Task ProbesAndIngressTargetTheApisMappedRoutesAndImagePort()
    {
        // The port the image listens on (csproj) is the one ingress and probes use.
        var csproj = XDocument.Load(Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Api", "LlmWorkflow.Api.csproj"));
        var imagePort = csproj.Descendants("ContainerEnvironmentVariable").Single(e => (string?)e.Attribute("Include") == "ASPNETCORE_HTTP_PORTS").Attribute("Value")!.Value;
        Assert.Equal(imagePort, ApiApp.Variable("targetPort"));
        Assert.Contains("targetPort: targetPort", ApiApp.Text, StringComparison.Ordinal);
        Assert.Contains("external: true", ApiApp.Text, StringComparison.Ordinal);

        var probes = ProbeEntry().Matches(ApiApp.Text).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        Assert.Equal(HealthEndpointPaths.Alive, probes["Liveness"]);
        Assert.Equal(HealthEndpointPaths.Health, probes["Readiness"]);
        Assert.Equal(HealthEndpointPaths.Alive, probes["Startup"]);

        // And the API really maps them, anonymously.
        var environment = await TestEnvironment.CreateAsync(servers, nameof(InfraAgreementTests));
        await using var api = new ApiFactory(environment.Settings());
        using var client = api.CreateClient();
        var routes = api.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().Select(e => e.RoutePattern.RawText).ToList();
        foreach (var path in probes.Values.Distinct())
        {
            Assert.Contains(path, routes);
            using var response = await client.GetAsync(path, TestContext.Current.CancellationToken);
            Assert.True(response.IsSuccessStatusCode, $"{path} answered {(int)response.StatusCode}");
        }
    }

    [Fact]
    public void ConnectionStringsInKeyVaultRequireTlsAndParseAsTheServicesReadThem()
    {
        // Substitute sample values for the Bicep interpolations and parse with the services' own parsers.
        var postgresTemplate = Interpolated("postgres-connection");
        var postgres = new NpgsqlConnectionStringBuilder(Substitute(postgresTemplate));
        Assert.Equal(SslMode.Require, postgres.SslMode);
        Assert.Equal("sample-postgresDatabase", postgres.Database);
        Assert.Equal("sample-postgresPassword", postgres.Password);

        var redis = RedisConnectionOptions.Parse(Substitute(Interpolated("redis-connection")));
        Assert.True(redis.Ssl);
        Assert.Equal("sample-redis.properties.hostName", redis.Host);
        Assert.Equal("sample-redisDatabase.listKeys().primaryKey", redis.Password);

        // The Redis port in the connection string is the database's TLS port.
        Assert.Contains(":${redisDatabase.properties.port},", Interpolated("redis-connection"), StringComparison.Ordinal);
        Assert.Contains("clientProtocol: 'Encrypted'", File.ReadAllText(Path.Combine(Infra, "modules", "redis.bicep")), StringComparison.Ordinal);
    }

    private static bool KeyVaultDefines(string secret) =>
        KeyVault.Text.Contains($"name: '{secret}'", StringComparison.Ordinal)
        || Main.Text.Contains($"'{secret}': ", StringComparison.Ordinal)
        || Main.Text.Contains($"{{ secret: '{secret}',", StringComparison.Ordinal);

    private static string Interpolated(string secretName)
    {
        var match = Regex.Match(KeyVault.Text, $@"name: '{Regex.Escape(secretName)}'\s*\n\s*properties: \{{\s*\n\s*value: '([^']+)'", RegexOptions.Multiline);
        Assert.True(match.Success, $"keyvault.bicep does not create {secretName} from a string");
        return match.Groups[1].Value;
    }

    private static string Substitute(string template) =>
        Regex.Replace(template, @"\$\{([^}]+)\}", m => m.Groups[1].Value.EndsWith(".port", StringComparison.Ordinal) ? "10000" : "sample-" + m.Groups[1].Value);

    private static async Task<JsonNode> PublishManifestAsync()
    {
        var folder = Directory.CreateTempSubdirectory("llmwf-infra-manifest-");
        try
        {
            var path = Path.Combine(folder.FullName, "aspire-manifest.json");
            await AppHostManifestTests.PublishManifestAsync(path);
            return JsonNode.Parse(await File.ReadAllTextAsync(path))!;
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [GeneratedRegex(@"""([A-Z]+_API_KEY)""")]
    private static partial Regex ProviderKeyVariable();

    [GeneratedRegex(@"\{ rule: '[a-z-]+', stream: '([^']+)' \}")]
    private static partial Regex StreamEntry();

    [GeneratedRegex(@"type: '(\w+)'\s*\n\s*httpGet: \{ path: '([^']+)', port: targetPort \}")]
    private static partial Regex ProbeEntry();
}
