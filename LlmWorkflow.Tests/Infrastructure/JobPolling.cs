using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>Polls a job's status URL until it reaches a terminal state (or the timeout, which fails the test).</summary>
public static class JobPolling
{
    private static readonly string[] Terminal = ["completed", "failed", "cancelled"];

    public static async Task<JsonObject> WaitForTerminalAsync(HttpClient client, string statusUrl, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        JsonObject? last = null;
        try
        {
            while (true)
            {
                last = await client.GetFromJsonAsync<JsonObject>(statusUrl, deadline.Token);
                if (last is not null && Terminal.Contains((string?)last["status"]))
                {
                    return last;
                }

                await Task.Delay(50, deadline.Token);
            }
        }
        // The in-memory server answers a request the deadline aborted with 499 rather than a cancellation: a timeout too.
        catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException && deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Job at {statusUrl} did not finish within {timeout}; last state: {last?.ToJsonString()}");
        }
    }

    /// <summary>Polls until the job is in <paramref name="status"/> (a waiting state, say) and returns that status body.</summary>
    public static Task<JsonObject> WaitForStatusAsync(HttpClient client, string statusUrl, string status, TimeSpan timeout, CancellationToken cancellationToken) =>
        WaitUntilAsync(client, statusUrl, job => (string?)job["status"] == status, status, timeout, cancellationToken);

    /// <summary>Polls until the job's status body satisfies <paramref name="until"/> (described as <paramref name="what"/> on timeout) and returns it.</summary>
    public static async Task<JsonObject> WaitUntilAsync(
        HttpClient client, string statusUrl, Func<JsonObject, bool> until, string what, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        JsonObject? last = null;
        try
        {
            while (true)
            {
                last = await client.GetFromJsonAsync<JsonObject>(statusUrl, deadline.Token);
                if (last is not null && until(last))
                {
                    return last;
                }

                await Task.Delay(50, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Job at {statusUrl} was not {what} within {timeout}; last state: {last?.ToJsonString()}");
        }
    }
}
