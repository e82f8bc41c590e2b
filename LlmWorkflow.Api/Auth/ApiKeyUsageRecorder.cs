using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Api.Auth;

/// <summary>
/// Keeps database keys' <c>last_used_at</c> without a write per request: uses are noted in memory and written for
/// all keys in one statement every <see cref="ApiKeyOptions.KeyUsageFlushInterval"/>, and once more at shutdown.
/// </summary>
public sealed partial class ApiKeyUsageRecorder(ApiKeyStore store, IOptions<ApiKeyOptions> options, ILogger<ApiKeyUsageRecorder> logger)
    : BackgroundService
{
    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _pending = new();

    public void Record(Guid keyId, DateTimeOffset at) =>
        _pending.AddOrUpdate(keyId, at, (_, previous) => previous > at ? previous : at);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(options.Value.KeyUsageFlushInterval, stoppingToken);
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: the last flush follows.
        }

        using var lastChance = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await FlushAsync(lastChance.Token);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        var batch = new List<(Guid Id, DateTimeOffset At)>();
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var at))
            {
                batch.Add((id, at));
            }
        }

        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            await store.RecordUseAsync(batch.Select(b => b.Id).ToArray(), batch.Select(b => b.At).ToArray(), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Only bookkeeping: keep the times for the next flush instead of failing anything.
            foreach (var (id, at) in batch)
            {
                Record(id, at);
            }

            LogFlushFailed(batch.Count, ex.GetType().Name, ex.Message);
        }
        catch (OperationCanceledException)
        {
            LogFlushFailed(batch.Count, nameof(OperationCanceledException), "shutdown");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the last use of {Count} API key(s) ({Error}: {Message}); retrying at the next flush")]
    private partial void LogFlushFailed(int count, string error, string message);
}
