using System.Globalization;

namespace LlmWorkflow.AppHost.Hosting;

/// <summary>A .NET project the AppHost builds once and runs as one or more replicas.</summary>
public sealed class ProjectResource
{
    private readonly List<IResourceWithConnectionString> _references = [];
    private readonly Dictionary<string, string> _environment = new(StringComparer.Ordinal);
    private readonly List<(string Label, string Path)> _links = [];

    /// <summary>Declares the project; <paramref name="projectPath"/> is absolute.</summary>
    public ProjectResource(string name, string projectPath)
    {
        Name = name;
        ProjectPath = projectPath;
    }

    /// <summary>The resource name; replicas are named <c>{name}-1</c>, <c>{name}-2</c>, ...</summary>
    public string Name { get; }

    /// <summary>The project file.</summary>
    public string ProjectPath { get; }

    /// <summary>Resources whose connection strings the project receives.</summary>
    public IReadOnlyList<IResourceWithConnectionString> References => _references;

    /// <summary>Extra environment variables.</summary>
    public IReadOnlyDictionary<string, string> Environment => _environment;

    /// <summary>The HTTP port on 127.0.0.1, if the project serves HTTP.</summary>
    public int? HttpPort { get; private set; }

    /// <summary>The HTTP base address, if the project serves HTTP.</summary>
    public string? HttpUrl => HttpPort is { } port ? $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}" : null;

    /// <summary>The path answering 200 when the project is ready (needs an HTTP endpoint).</summary>
    public string? HealthCheckPath { get; private set; }

    /// <summary>Text the project logs once it is ready (for projects without HTTP).</summary>
    public string? ReadyLogLine { get; private set; }

    /// <summary>Pages worth opening once the project runs (label, path under <see cref="HttpUrl"/>).</summary>
    public IReadOnlyList<(string Label, string Path)> Links => _links;

    /// <summary>How many copies run.</summary>
    public int Replicas { get; private set; } = 1;

    /// <summary>The variable that tells each replica its name, if any.</summary>
    public string? ReplicaIdVariable { get; private set; }

    /// <summary>The replicas' names: the project name alone, or numbered when replicated.</summary>
    public IReadOnlyList<string> ReplicaNames => Replicas == 1 && ReplicaIdVariable is null
        ? [Name]
        : [.. Enumerable.Range(1, Replicas).Select(i => $"{Name}-{i.ToString(CultureInfo.InvariantCulture)}")];

    /// <summary>Hands the resource's connection string to the project as <c>ConnectionStrings__{name}</c>.</summary>
    public ProjectResource WithReference(IResourceWithConnectionString resource)
    {
        _references.Add(resource);
        return this;
    }

    /// <summary>Serves HTTP on 127.0.0.1:<paramref name="port"/> (through <c>ASPNETCORE_URLS</c>).</summary>
    public ProjectResource WithHttpEndpoint(int port)
    {
        HttpPort = port;
        return this;
    }

    /// <summary>Counts the project ready when <paramref name="path"/> answers 200.</summary>
    public ProjectResource WithHttpHealthCheck(string path)
    {
        HealthCheckPath = path;
        return this;
    }

    /// <summary>Lists a page of the project under the resource table once it is ready (needs an HTTP endpoint).</summary>
    public ProjectResource WithLink(string label, string path)
    {
        _links.Add((label, path));
        return this;
    }

    /// <summary>Counts the project ready when it logs a line containing <paramref name="text"/>.</summary>
    public ProjectResource WithReadyLogLine(string text)
    {
        ReadyLogLine = text;
        return this;
    }

    /// <summary>Runs <paramref name="count"/> copies (0 runs none), each told its name in <paramref name="idVariable"/>.</summary>
    public ProjectResource WithReplicas(int count, string? idVariable = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        Replicas = count;
        ReplicaIdVariable = idVariable;
        return this;
    }

    /// <summary>Sets an environment variable for every replica.</summary>
    public ProjectResource WithEnvironment(string name, string value)
    {
        _environment[name] = value;
        return this;
    }
}
