namespace LlmWorkflow.AppHost.Hosting;

/// <summary>Declares the resources of the local distributed application, in the shape of Aspire's builder.</summary>
public sealed class DistributedApplicationBuilder
{
    private readonly List<PostgresServerResource> _postgres = [];
    private readonly List<RedisServerResource> _redis = [];
    private readonly List<ProjectResource> _projects = [];
    private readonly List<(string Label, string Text)> _notes = [];

    internal DistributedApplicationBuilder(AppHostOptions options, string repositoryRoot)
    {
        Options = options;
        RepositoryRoot = repositoryRoot;
        DataDirectory = Path.GetFullPath(options.DataDirectory ?? Path.Combine(repositoryRoot, ".data"));
    }

    /// <summary>A bad command line or a missing repository, reported when the application runs.</summary>
    internal string? StartupError { get; init; }

    /// <summary>The parsed command line.</summary>
    public AppHostOptions Options { get; }

    /// <summary>The directory holding <c>LlmWorkflow.sln</c>; project paths are relative to it.</summary>
    public string RepositoryRoot { get; }

    /// <summary>Where local servers keep their data (one sub-directory each).</summary>
    public string DataDirectory { get; }

    /// <summary>PostgreSQL: the server given by <c>--postgres</c>, or a local one with data under <c>{data}/{name}</c>.</summary>
    public PostgresServerResource AddPostgres(string name)
    {
        var resource = new PostgresServerResource(name, Options.PostgresConnectionString, Path.Combine(DataDirectory, name));
        _postgres.Add(resource);
        return resource;
    }

    /// <summary>Redis: the server given by <c>--redis</c>, or a local one (append-only file on) under <c>{data}/{name}</c>.</summary>
    public RedisServerResource AddRedis(string name)
    {
        var resource = new RedisServerResource(name, Options.RedisConnectionString, Path.Combine(DataDirectory, name));
        _redis.Add(resource);
        return resource;
    }

    /// <summary>A project to build and run; <paramref name="projectPath"/> is relative to the repository root.</summary>
    public ProjectResource AddProject(string name, string projectPath)
    {
        var resource = new ProjectResource(name, Path.GetFullPath(Path.Combine(RepositoryRoot, projectPath)));
        _projects.Add(resource);
        return resource;
    }

    /// <summary>Notes printed under the resource table and the projects' links (e.g. the development keys).</summary>
    public IReadOnlyList<(string Label, string Text)> Notes => _notes;

    /// <summary>Adds a note printed under the resource table once everything is ready.</summary>
    public DistributedApplicationBuilder AddNote(string label, string text)
    {
        _notes.Add((label, text));
        return this;
    }

    /// <summary>Creates the application from the declared resources.</summary>
    public DistributedApplication Build() => new(this, [.. _postgres], [.. _redis], [.. _projects]);
}
