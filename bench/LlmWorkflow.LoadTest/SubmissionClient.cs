using System.Globalization;

namespace LlmWorkflow.LoadTest;

/// <summary>
/// Who sends a scenario's submissions: this tool's own HttpClient (the default), or with
/// <c>LLMWF_BENCH_CLIENT=node</c> the independent Node client <c>bench/node/submit.mjs</c> (undici, the HTTP client
/// under Node's fetch, which the documents' main app submits with), so that a figure can be confirmed by a load client
/// this project's code is not part of.
/// </summary>
internal static class SubmissionClient
{
    public static bool IsNode => Environment.GetEnvironmentVariable("LLMWF_BENCH_CLIENT") == "node";

    /// <summary>Each submission's latency in milliseconds, in the order sent.</summary>
    public static async Task<double[]> SubmitManyAsync(Uri apiUrl, string workflow, int count, Func<int, object> input, int concurrency)
    {
        if (!IsNode)
        {
            using var submitter = new Submitter(apiUrl).Configure();
            return await submitter.SubmitManyAsync(workflow, count, input, concurrency);
        }

        var latenciesFile = Path.GetTempFileName();
        try
        {
            await NodeScript.RunAsync("submit.mjs", apiUrl.ToString().TrimEnd('/'), BenchEnvironment.CallerKey,
                workflow, count.ToString(CultureInfo.InvariantCulture), concurrency.ToString(CultureInfo.InvariantCulture), latenciesFile);
            return [.. (await File.ReadAllLinesAsync(latenciesFile)).Select(line => double.Parse(line, CultureInfo.InvariantCulture))];
        }
        finally
        {
            File.Delete(latenciesFile);
        }
    }
}
