namespace LlmWorkflow.AppHost.Hosting;

/// <summary>
/// The environment a project replica starts with, using Aspire's variable names so the services read the same
/// settings under this launcher, under Aspire and in a container.
/// </summary>
public static class ChildEnvironment
{
    /// <summary>OpenTelemetry settings handed down from the AppHost's own environment when set.</summary>
    private static readonly string[] PassedThrough =
        ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS"];

    /// <summary>Builds the variables for one replica of <paramref name="project"/>.</summary>
    /// <param name="project">The project being started.</param>
    /// <param name="replicaName">The replica's name (<c>api</c>, <c>worker-2</c>): its service name and id.</param>
    /// <param name="parentVariable">Reads the AppHost's own environment.</param>
    public static IReadOnlyDictionary<string, string> Build(
        ProjectResource project, string replicaName, Func<string, string?> parentVariable)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(parentVariable);
        var variables = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["DOTNET_ENVIRONMENT"] = "Development",
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["OTEL_SERVICE_NAME"] = replicaName,
            // Readable one-line logs in the AppHost's terminal; services log JSON elsewhere.
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
        };
        foreach (var name in PassedThrough)
        {
            if (parentVariable(name) is { Length: > 0 } value)
            {
                variables[name] = value;
            }
        }

        foreach (var reference in project.References)
        {
            variables[$"ConnectionStrings__{reference.Name}"] = reference.ConnectionString;
        }

        if (project.HttpUrl is { } url)
        {
            variables["ASPNETCORE_URLS"] = url;
        }

        if (project.ReplicaIdVariable is { } idVariable)
        {
            variables[idVariable] = replicaName;
        }

        foreach (var (name, value) in project.Environment)
        {
            variables[name] = value;
        }

        foreach (var (name, parameter) in project.ParameterEnvironment)
        {
            variables[name] = parameter.RunValue;
        }

        return variables;
    }
}
