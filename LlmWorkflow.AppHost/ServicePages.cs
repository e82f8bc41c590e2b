namespace LlmWorkflow.AppHost;

/// <summary>The api's pages a newcomer opens next: shown as the api's links in the Aspire dashboard and printed after start.</summary>
public static class ServicePages
{
    /// <summary>Label and path under the api's base address.</summary>
    public static readonly IReadOnlyList<(string Label, string Path)> Links =
    [
        ("Dashboard", "/dashboard/"),
        ("API docs", "/docs"),
        ("API reference", "/scalar/"),
        ("OpenAPI", "/openapi/v1.json"),
        ("Health", "/health"),
    ];
}
