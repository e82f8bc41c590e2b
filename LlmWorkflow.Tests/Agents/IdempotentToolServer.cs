using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using Microsoft.AspNetCore.Http;

namespace LlmWorkflow.Tests.Agents;

/// <summary>
/// An order service that honours <c>Idempotency-Key</c> the way payment APIs do: the first request with a key runs
/// the operation and keeps its answer; a later request with the same key gets that answer again and runs nothing.
/// <c>GET /orders/{id}</c> looks an order up, <c>POST /refunds</c> issues a refund numbered in the order refunds were
/// issued. It counts requests and executions per key; <see cref="Hold"/> keeps one order's calls to one route waiting
/// (the operation runs when released, as a service would finish work whose caller died).
/// </summary>
public sealed class IdempotentToolServer : FakeHttpServer
{
    private readonly ConcurrentDictionary<string, int> _requests = new();
    private readonly ConcurrentDictionary<string, Lazy<string>> _executed = new();
    private readonly ConcurrentDictionary<string, string> _routeOfKey = new();
    private readonly ConcurrentDictionary<(string Route, string Order), HeldCall> _holds = new();
    private int _refunds;

    public static async Task<IdempotentToolServer> StartAsync()
    {
        var server = new IdempotentToolServer();
        await server.StartServerAsync();
        return server;
    }

    /// <summary>Requests per Idempotency-Key (a retry with the same key counts again).</summary>
    public IReadOnlyDictionary<string, int> RequestsPerKey => _requests;

    /// <summary>The keys whose operation ran, each with the route it ran (every key runs at most once here by design).</summary>
    public IReadOnlyDictionary<string, string> Executions => _routeOfKey;

    /// <summary>The refund id the refund under <paramref name="key"/> issued.</summary>
    public string RefundIdOf(string key) => (string)JsonNode.Parse(_executed[key].Value)!["refund_id"]!;

    /// <summary>Requests that came without an Idempotency-Key.</summary>
    public int Unkeyed { get; private set; }

    /// <summary>The first call of <paramref name="route"/> (<c>orders</c> or <c>refunds</c>) for <paramref name="order"/> waits for its release.</summary>
    public HeldCall Hold(string route, string order) => _holds.GetOrAdd((route, order), _ => new HeldCall());

    protected override string ErrorBody(int statusCode, string message) => new JsonObject { ["error"] = message }.ToJsonString();

    protected override async Task HandleAsync(HttpContext context, RecordedRequest request)
    {
        if (request.Header("Idempotency-Key") is not { Length: > 0 } key)
        {
            Unkeyed++;
            await WriteJsonAsync(context, ErrorBody(400, "Idempotency-Key is required."), 400);
            return;
        }

        _requests.AddOrUpdate(key, 1, (_, n) => n + 1);
        var parts = request.Path.Trim('/').Split('/');
        var (route, order) = parts switch
        {
            ["orders", var id] => ("orders", id),
            ["refunds"] => ("refunds", (string?)request.Json?["order_id"] ?? string.Empty),
            _ => ("unknown", string.Empty),
        };
        if (_holds.TryGetValue((route, order), out var held) && held.TryTake())
        {
            await held.WaitAsync(CancellationToken.None);
        }

        // The stored answer of a key already used; else the operation runs now (once per key).
        var answer = _executed.GetOrAdd(key, _ => new Lazy<string>(() => Execute(route, order, request, key))).Value;
        await WriteJsonAsync(context, answer, route == "unknown" ? 404 : 200);
    }

    private string Execute(string route, string order, RecordedRequest request, string key)
    {
        _routeOfKey[key] = route;
        return route switch
        {
            "orders" => new JsonObject { ["order_id"] = order, ["status"] = "delivered", ["total_usd"] = 12.5 }.ToJsonString(),
            "refunds" => new JsonObject
            {
                ["refund_id"] = $"rf-{Interlocked.Increment(ref _refunds)}",
                ["order_id"] = order,
                ["amount_usd"] = request.Json?["amount_usd"]?.DeepClone(),
            }.ToJsonString(),
            _ => ErrorBody(404, "no route"),
        };
    }
}
