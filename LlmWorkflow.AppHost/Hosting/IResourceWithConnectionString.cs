namespace LlmWorkflow.AppHost.Hosting;

/// <summary>A resource other resources reference by connection string (<c>ConnectionStrings__{name}</c>).</summary>
public interface IResourceWithConnectionString
{
    /// <summary>The resource name, which is also the connection string's name.</summary>
    string Name { get; }

    /// <summary>The connection string; known once the resource has started.</summary>
    string ConnectionString { get; }
}
