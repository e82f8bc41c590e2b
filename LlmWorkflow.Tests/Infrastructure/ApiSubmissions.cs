using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>Submits a job through the API as the main app does and returns its id (a non-2xx answer fails the test).</summary>
public static class ApiSubmissions
{
    public static async Task<Guid> SubmitAsync(HttpClient client, string workflow, object input, CancellationToken cancellationToken)
    {
        var response = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = workflow, input_data = input }, cancellationToken);
        response.EnsureSuccessStatusCode();
        return Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken))!["job_id"]!);
    }
}
