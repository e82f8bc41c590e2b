using System.Text.Json;

namespace LlmWorkflow.AppHost.Hosting.Manifest;

/// <summary>
/// Writes the Aspire manifest (<c>https://json.schemastore.org/aspire-8.0.json</c>) of the declared model, the
/// document azd and Kubernetes tools such as Aspirate deploy from: PostgreSQL as <c>postgres.server.v0</c> with its
/// <c>postgres.database.v0</c>, Redis as <c>redis.v0</c>, parameters as secret <c>parameter.v0</c> inputs and each
/// project as <c>project.v0</c> whose environment refers to them with <c>{resource.connectionString}</c> and
/// <c>{parameter.value}</c> expressions. Replica counts are not part of the format (Aspire does not write them
/// either): scaling belongs to the deployment target (KEDA rules in infra/, replicas in Kubernetes).
/// </summary>
internal static class ManifestPublisher
{
    public const string SchemaUrl = "https://json.schemastore.org/aspire-8.0.json";

    /// <summary>The binding every HTTP project gets; deployment tools choose the port and pass it in HTTP_PORTS.</summary>
    private const string HttpBinding = "http";

    public static async Task WriteAsync(DistributedApplicationBuilder builder, string outputPath, CancellationToken cancellationToken)
    {
        var fullPath = Path.GetFullPath(outputPath);
        var directory = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(directory);
        await using var file = File.Create(fullPath);
        await using var writer = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true });

        writer.WriteStartObject();
        writer.WriteString("$schema", SchemaUrl);
        writer.WriteStartObject("resources");
        foreach (var postgres in builder.PostgresResources)
        {
            writer.WriteStartObject(postgres.Name);
            writer.WriteString("type", "postgres.server.v0");
            writer.WriteEndObject();
            if (HasOwnDatabaseResource(postgres))
            {
                writer.WriteStartObject(postgres.DatabaseName);
                writer.WriteString("type", "postgres.database.v0");
                writer.WriteString("parent", postgres.Name);
                writer.WriteEndObject();
            }
        }

        foreach (var redis in builder.RedisResources)
        {
            writer.WriteStartObject(redis.Name);
            writer.WriteString("type", "redis.v0");
            writer.WriteEndObject();
        }

        foreach (var parameter in builder.ParameterResources)
        {
            WriteParameter(writer, parameter);
        }

        foreach (var project in builder.ProjectResources)
        {
            WriteProject(writer, project, directory);
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
        await writer.FlushAsync(cancellationToken);
    }

    private static bool HasOwnDatabaseResource(PostgresServerResource postgres) =>
        !string.Equals(postgres.DatabaseName, postgres.Name, StringComparison.Ordinal);

    private static void WriteParameter(Utf8JsonWriter writer, ParameterResource parameter)
    {
        writer.WriteStartObject(parameter.Name);
        writer.WriteString("type", "parameter.v0");
        writer.WriteString("value", $"{{{parameter.Name}.inputs.value}}");
        writer.WriteStartObject("inputs");
        writer.WriteStartObject("value");
        writer.WriteString("type", "string");
        if (parameter.Secret)
        {
            writer.WriteBoolean("secret", true);
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteProject(Utf8JsonWriter writer, ProjectResource project, string manifestDirectory)
    {
        writer.WriteStartObject(project.Name);
        writer.WriteString("type", "project.v0");
        // Relative to the manifest file, with forward slashes, as Aspire writes it.
        writer.WriteString("path", Path.GetRelativePath(manifestDirectory, project.ProjectPath).Replace('\\', '/'));

        writer.WriteStartObject("env");
        foreach (var (name, value) in Environment(project))
        {
            writer.WriteString(name, value);
        }

        writer.WriteEndObject();

        if (project.HttpPort is not null)
        {
            writer.WriteStartObject("bindings");
            writer.WriteStartObject(HttpBinding);
            writer.WriteString("scheme", "http");
            writer.WriteString("protocol", "tcp");
            writer.WriteString("transport", "http");
            if (project.HasExternalHttpEndpoints)
            {
                writer.WriteBoolean("external", true);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }

    /// <summary>
    /// The project's environment as deployment expressions. Run-only settings (development environment, loopback
    /// URLs, terminal log format, replica ids) stay out: the deployed services run with their production defaults.
    /// </summary>
    internal static IEnumerable<KeyValuePair<string, string>> Environment(ProjectResource project)
    {
        if (project.HttpPort is not null)
        {
            yield return new("HTTP_PORTS", $"{{{project.Name}.bindings.{HttpBinding}.targetPort}}");
            // Ingress terminates TLS; the API sees the caller's scheme and address from X-Forwarded-*.
            yield return new("ASPNETCORE_FORWARDEDHEADERS_ENABLED", "true");
        }

        foreach (var reference in project.References)
        {
            var source = reference is PostgresServerResource postgres && HasOwnDatabaseResource(postgres)
                ? postgres.DatabaseName
                : reference.Name;
            yield return new($"ConnectionStrings__{reference.Name}", $"{{{source}.connectionString}}");
        }

        foreach (var (name, value) in project.Environment)
        {
            yield return new(name, value);
        }

        foreach (var (name, parameter) in project.ParameterEnvironment)
        {
            yield return new(name, $"{{{parameter.Name}.value}}");
        }
    }
}
