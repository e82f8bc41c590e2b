using System.Diagnostics;
using System.Net.Http.Json;

namespace LlmWorkflow.LoadTest;

/// <summary>Submits jobs over HTTP, as the main app would.</summary>
internal sealed class Submitter(Uri apiUrl) : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { MaxConnectionsPerServer = 512 }) { BaseAddress = apiUrl };

    /// <param name="apiKey">The caller's key (its tenant's); the bench caller's by default.</param>
    public Submitter Configure(string? apiKey = null)
    {
        _http.DefaultRequestHeaders.Add("X-API-Key", apiKey ?? BenchEnvironment.CallerKey);
        return this;
    }

    /// <summary>Submits one job and returns its latency in milliseconds, or null on a non-2xx answer.</summary>
    public async Task<double?> SubmitAsync(string workflow, object input)
    {
        var started = Stopwatch.GetTimestamp();
        using var response = await _http.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = workflow, input_data = input });
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        return response.IsSuccessStatusCode ? elapsed : null;
    }

    /// <summary>
    /// Submits <paramref name="count"/> jobs with bounded concurrency (closed loop), as fast as the API accepts them;
    /// returns each submission's latency in milliseconds, in the order they were sent.
    /// </summary>
    public async Task<double[]> SubmitManyAsync(string workflow, int count, Func<int, object> input, int concurrency = 64)
    {
        var next = -1;
        var failures = 0;
        var latencies = new double[count];
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                if (await SubmitAsync(workflow, input(i)) is { } ms)
                {
                    latencies[i] = ms;
                }
                else
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }));
        if (failures > 0)
        {
            throw new InvalidOperationException($"{failures} submissions failed.");
        }

        return latencies;
    }

    public void Dispose() => _http.Dispose();
}
