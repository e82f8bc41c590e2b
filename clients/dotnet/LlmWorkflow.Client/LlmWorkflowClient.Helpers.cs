using System.Net;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using LlmWorkflow.Contracts;

namespace LlmWorkflow.Client;

/// <summary>A submission's answer, with the Idempotency-Key that was sent and whether it was a replay.</summary>
/// <param name="IdempotencyKey">The key sent (given or generated): send it again to retry the same submission safely.</param>
/// <param name="Replayed">True when the answer carried <c>Idempotent-Replayed: true</c>: the key was seen before and this is the original job.</param>
public sealed record SubmittedJob(JobAcceptedResponse Job, string IdempotencyKey, bool Replayed);

/// <summary>How <see cref="LlmWorkflowClient.WaitForCompletionAsync"/> polls.</summary>
public sealed record WaitOptions
{
    /// <summary>Give up after this long (default 10 minutes).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>First pause between polls, multiplied by <see cref="Factor"/> up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    public double Factor { get; init; } = 1.5;

    /// <summary>Throw <see cref="LlmWorkflowJobFailedException"/> when the job ends failed or cancelled (default true).</summary>
    public bool ThrowOnFailure { get; init; } = true;

    /// <summary>Called with every status read, e.g. to show progress_percent.</summary>
    public Action<JobStatusResponse>? OnStatus { get; init; }
}

/// <summary>One live event: its SSE id (pass it as <c>lastEventId</c> to resume after it), type, typed payload and raw JSON.</summary>
/// <param name="Event">The payload as a <see cref="LiveJobEvent"/> subtype (<see cref="StepStartedEvent"/>, <see cref="RunCompletedEvent"/>, ...).</param>
public sealed record LiveEventMessage(string Id, string Type, LiveJobEvent? Event, string Data);

public partial class LlmWorkflowClient
{
    private static readonly HashSet<string> TerminalStatuses = new(StringComparer.Ordinal)
    {
        JobStatusValues.Completed, JobStatusValues.Failed, JobStatusValues.Cancelled,
    };

    /// <summary>
    /// Submits a workflow run with an Idempotency-Key (a new GUID when none is given), so that a retried call never
    /// starts, or bills, the workflow twice. Derive the key from what makes the work unique in your app.
    /// </summary>
    public async Task<SubmittedJob> SubmitAsync(SubmitWorkflowRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        var key = idempotencyKey ?? Guid.NewGuid().ToString();
        using var response = await SendCheckedAsync(HttpMethod.Post, "/api/v1/workflow", [], [("Idempotency-Key", key)], request, cancellationToken);
        var job = await ReadJsonAsync<JobAcceptedResponse>(response, cancellationToken);
        return new SubmittedJob(job, key, IsReplay(response));
    }

    /// <summary>
    /// Polls the job with backoff until it is completed, failed or cancelled and returns its last status. A failed or
    /// cancelled job throws <see cref="LlmWorkflowJobFailedException"/> unless <see cref="WaitOptions.ThrowOnFailure"/> is false.
    /// </summary>
    public async Task<JobStatusResponse> WaitForCompletionAsync(Guid jobId, WaitOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new WaitOptions();
        var deadline = DateTimeOffset.UtcNow + options.Timeout;
        for (var pause = options.InitialDelay; ; pause = TimeSpan.FromTicks(Math.Min((long)(pause.Ticks * options.Factor), options.MaxDelay.Ticks)))
        {
            var status = await GetJobStatusAsync(jobId, cancellationToken);
            options.OnStatus?.Invoke(status);
            if (TerminalStatuses.Contains(status.Status))
            {
                return status.Status == JobStatusValues.Completed || !options.ThrowOnFailure
                    ? status
                    : throw new LlmWorkflowJobFailedException(jobId, status.Status, status.Error);
            }

            if (DateTimeOffset.UtcNow + pause > deadline)
            {
                throw new TimeoutException($"job {jobId} still {status.Status} after {options.Timeout}");
            }

            await Task.Delay(pause, cancellationToken);
        }
    }

    /// <summary>
    /// The job's live events (<c>GET /api/v1/jobs/{job_id}/events</c>), ending after the terminal one (run_completed,
    /// run_failed, cancelled). A dropped connection is resumed with Last-Event-ID, so no event is lost or repeated;
    /// to resume later, pass the last event's <see cref="LiveEventMessage.Id"/> as <paramref name="lastEventId"/>. A
    /// finished job's stream resumed at its end yields nothing (the service answers 204).
    /// </summary>
    public async IAsyncEnumerable<LiveEventMessage> EventsAsync(Guid jobId, string? lastEventId = null, int maxReconnects = 5,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var reconnects = 0; ; reconnects++)
        {
            using var response = await SendCheckedAsync(HttpMethod.Get, $"/api/v1/jobs/{jobId}/events", [],
                [("Accept", "text/event-stream"), ("Last-Event-ID", lastEventId)], null, cancellationToken, HttpCompletionOption.ResponseHeadersRead);
            if (response.StatusCode == HttpStatusCode.NoContent)
            {
                yield break;
            }

            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            await using var items = SseParser.Create(stream).EnumerateAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (await NextOrDroppedAsync(items, reconnects < maxReconnects, cancellationToken))
            {
                var message = ToMessage(items.Current);
                lastEventId = message.Id.Length > 0 ? message.Id : lastEventId;
                yield return message;
                if (LiveEventTypes.Terminal.Contains(message.Type))
                {
                    yield break;
                }
            }

            if (reconnects >= maxReconnects)
            {
                throw new IOException($"the event stream of job {jobId} closed {reconnects + 1} times before its terminal event");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(250 * Math.Pow(2, reconnects), 5000)), cancellationToken);
        }
    }

    /// <summary>The next SSE item; false at the end of the stream, or when the connection dropped and a reconnect may follow.</summary>
    private static async Task<bool> NextOrDroppedAsync(IAsyncEnumerator<SseItem<string>> items, bool mayReconnect, CancellationToken cancellationToken)
    {
        try
        {
            return await items.MoveNextAsync();
        }
        catch (Exception error) when (mayReconnect && !cancellationToken.IsCancellationRequested && error is IOException or HttpRequestException)
        {
            return false;
        }
    }

    private static LiveEventMessage ToMessage(SseItem<string> item)
    {
        var payload = JsonSerializer.Deserialize<LiveJobEvent>(item.Data, JsonOptions);
        return new LiveEventMessage(item.EventId ?? "", payload?.Type ?? item.EventType, payload, item.Data);
    }
}
