using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.External;

namespace LlmWorkflow.Tests.Engine.Fakes;

/// <summary>An in-memory service registry: answers with a handler, counts calls and the peak number running at once.</summary>
internal sealed class FakeExternalServiceGateway(Func<string, JsonObject, CancellationToken, Task<JsonNode?>>? handler = null) : IExternalServiceGateway
{
    private int _running;
    private int _maxRunning;

    public ConcurrentQueue<(string Operation, JsonObject Parameters)> Calls { get; } = new();

    public int MaxConcurrent => _maxRunning;

    /// <summary>Echoes the parameters back, tagged with the operation.</summary>
    public static Task<JsonNode?> Echo(string operation, JsonObject parameters, CancellationToken cancellationToken) =>
        Task.FromResult<JsonNode?>(new JsonObject { ["operation"] = operation, ["params"] = parameters.DeepClone() });

    public async Task<JsonNode?> CallAsync(string service, string operation, JsonObject parameters, CancellationToken cancellationToken)
    {
        Calls.Enqueue((operation, parameters));
        var running = Interlocked.Increment(ref _running);
        InterlockedMax(ref _maxRunning, running);
        try
        {
            return await (handler ?? Echo)(operation, parameters, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    public string? Describe(string service, string operation) =>
        service == "fake" ? null : $"Unknown service \"{service}\".";

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
