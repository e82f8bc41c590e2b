using System.Text.Json.Serialization;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// This process's view of its LLM providers for the operators' provider health view: every HTTP attempt the gateway
/// makes (answered or failed, by provider and model) over the last <see cref="Window"/>, the last few errors, and the
/// state of the circuit breaker of each provider host (the hosts' resilience handler reports its changes). Workers
/// publish a <see cref="Snapshot"/> with their heartbeat; the API merges them.
/// </summary>
public sealed class ProviderHealthTracker(TimeProvider time)
{
    /// <summary>How far back the error rate looks.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    /// <summary>How many of the latest errors each model keeps.</summary>
    public const int LastErrorCount = 5;

    // Bounds a model's outcomes in the window (a busy worker makes thousands of calls in five minutes); the rate
    // is then over the latest ones.
    private const int MaxOutcomes = 2000;

    private readonly object _gate = new();
    private readonly Dictionary<(string Provider, string Model), ModelState> _models = [];
    private readonly Dictionary<string, CircuitReport> _circuits = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>An HTTP attempt to <paramref name="model"/> was answered.</summary>
    public void Answered(ModelId model) => Record(model, null);

    /// <summary>An HTTP attempt to <paramref name="model"/> failed with <paramref name="error"/> (classified).</summary>
    public void Failed(ModelId model, WorkflowError error) => Record(model, error);

    /// <summary>
    /// The circuit breaker of a provider host changed state: <c>open</c> (calls refused until <paramref name="openUntil"/>),
    /// <c>half_open</c> (the next call probes), <c>closed</c>.
    /// </summary>
    /// <param name="authority">The breaker's key, the host's scheme, host and port (one breaker per authority).</param>
    public void CircuitChanged(string authority, string state, DateTimeOffset? openUntil)
    {
        lock (_gate)
        {
            _circuits[Normalize(authority)] = new CircuitReport(Normalize(authority), state, time.GetUtcNow(), openUntil);
        }
    }

    private void Record(ModelId model, WorkflowError? error)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (!_models.TryGetValue((model.Provider, model.Model), out var state))
            {
                _models[(model.Provider, model.Model)] = state = new ModelState();
            }

            state.Outcomes.Enqueue((now, error?.Type));
            while (state.Outcomes.Count > MaxOutcomes)
            {
                state.Outcomes.Dequeue();
            }

            if (error is null)
            {
                state.LastAnsweredAt = now;
                return;
            }

            state.LastErrors.Insert(0, new ProviderError(now, error.Type, error.Message,
                error.Details?["http_status"] is { } status && status.GetValueKind() == System.Text.Json.JsonValueKind.Number ? status.GetValue<int>() : null));
            if (state.LastErrors.Count > LastErrorCount)
            {
                state.LastErrors.RemoveAt(LastErrorCount);
            }
        }
    }

    /// <summary>
    /// The models called in the last <see cref="Window"/> (and every model with a remembered error), with the circuit
    /// of each model's provider host; <paramref name="authorityOf"/> names a provider's host (null: unknown).
    /// </summary>
    public ProviderHealthSnapshot Snapshot(Func<string, string?> authorityOf)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            var models = new List<ModelHealth>();
            foreach (var ((provider, model), state) in _models)
            {
                while (state.Outcomes.TryPeek(out var oldest) && now - oldest.At > Window)
                {
                    state.Outcomes.Dequeue();
                }

                var failures = state.Outcomes.Where(o => o.ErrorType is not null).GroupBy(o => o.ErrorType!).ToDictionary(g => g.Key, g => g.Count());
                var authority = authorityOf(provider) is { } host ? Normalize(host) : null;
                models.Add(new ModelHealth(provider, model, state.Outcomes.Count, failures.Values.Sum(), failures,
                    state.LastAnsweredAt, [.. state.LastErrors], authority is not null && _circuits.TryGetValue(authority, out var circuit) ? circuit : null));
            }

            return new ProviderHealthSnapshot(now, Window.TotalSeconds, models);
        }
    }

    /// <summary>Breaker keys (<c>https://host:port</c>) and provider base URLs in one form: scheme://host:port, lower case.</summary>
    public static string Normalize(string authority) =>
        Uri.TryCreate(authority, UriKind.Absolute, out var url)
            ? $"{url.Scheme}://{url.Host}:{url.Port}".ToLowerInvariant()
            : authority.TrimEnd('/').ToLowerInvariant();

    private sealed class ModelState
    {
        public Queue<(DateTimeOffset At, string? ErrorType)> Outcomes { get; } = new();

        public List<ProviderError> LastErrors { get; } = [];

        public DateTimeOffset? LastAnsweredAt { get; set; }
    }
}

/// <summary>One process's provider health: the calls of the last <c>window_seconds</c> by model.</summary>
public sealed record ProviderHealthSnapshot(
    [property: JsonPropertyName("reported_at")] DateTimeOffset ReportedAt,
    [property: JsonPropertyName("window_seconds")] double WindowSeconds,
    [property: JsonPropertyName("models")] IReadOnlyList<ModelHealth> Models);

/// <summary>A model's calls in the window: how many, how many failed (by error type), its last errors and its host's circuit.</summary>
public sealed record ModelHealth(
    [property: JsonPropertyName("provider")] string Provider,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("calls")] int Calls,
    [property: JsonPropertyName("failures")] int Failures,
    [property: JsonPropertyName("failures_by_type")] IReadOnlyDictionary<string, int> FailuresByType,
    [property: JsonPropertyName("last_answered_at")] DateTimeOffset? LastAnsweredAt,
    [property: JsonPropertyName("last_errors")] IReadOnlyList<ProviderError> LastErrors,
    [property: JsonPropertyName("circuit")] CircuitReport? Circuit);

/// <summary>One failed call: when, its error type and message, and the provider's HTTP status when it answered.</summary>
public sealed record ProviderError(
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("http_status")] int? HttpStatus);

/// <summary>A provider host's circuit breaker: <c>closed</c>, <c>open</c> (until <c>open_until</c>) or <c>half_open</c>, since <c>changed_at</c>.</summary>
public sealed record CircuitReport(
    [property: JsonPropertyName("authority")] string Authority,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("changed_at")] DateTimeOffset ChangedAt,
    [property: JsonPropertyName("open_until")] DateTimeOffset? OpenUntil);
