using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Client;

/// <summary>
/// Helpers over the generated methods for what a main app does with jobs that wait and with schedules: send a signal
/// with any payload, move a scheduled job, pause or resume a schedule, and follow a project of document 004's
/// generator to its end. Each is one request (or a poll of one), and throws the same typed exceptions.
/// </summary>
public partial class LlmWorkflowClient
{
    private static readonly HashSet<string> FinishedProjectStatuses = new(StringComparer.Ordinal) { "complete", "error" };

    /// <summary>
    /// Sends the signal <paramref name="eventName"/> to a job (<c>POST /api/v1/jobs/{id}/signals/{event}</c>): a
    /// <c>wait_for_event</c> step waiting for it takes it; one sent earlier waits in the job's inbox. The payload is
    /// any value serialized as JSON (an empty object when null). Pass an idempotency key so that a retried call is not
    /// a second signal.
    /// </summary>
    public Task<SignalResponse> SignalAsync(Guid jobId, string eventName, object? payload = null, string? idempotencyKey = null,
        CancellationToken cancellationToken = default)
    {
        var body = payload switch
        {
            null => new JsonObject(),
            JsonNode node => node,
            _ => JsonSerializer.SerializeToNode(payload, payload.GetType(), JsonOptions) ?? new JsonObject(),
        };
        return SendSignalAsync(jobId, eventName, body, idempotencyKey, cancellationToken);
    }

    /// <summary>Moves a scheduled (not yet started) job to run at <paramref name="runAt"/> (<c>PATCH /api/v1/jobs/{id}</c>).</summary>
    public Task<LlmWorkflow.Contracts.JobStatusResponse> RescheduleAsync(Guid jobId, DateTimeOffset runAt, CancellationToken cancellationToken = default) =>
        RescheduleJobAsync(jobId, new RescheduleJobRequest { RunAt = runAt.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture) }, cancellationToken);

    /// <summary>
    /// Moves a scheduled job to run <paramref name="delay"/> from now, in whole seconds rounded up. The service's shortest
    /// delay is one second, so <see cref="TimeSpan.Zero"/> (run it now) asks for that, as the dashboard's Run now does.
    /// </summary>
    public Task<LlmWorkflow.Contracts.JobStatusResponse> RescheduleAsync(Guid jobId, TimeSpan delay, CancellationToken cancellationToken = default) =>
        RescheduleJobAsync(jobId, new RescheduleJobRequest { DelaySeconds = Math.Max(1, (long)Math.Ceiling(delay.TotalSeconds)) }, cancellationToken);

    /// <summary>Pauses a schedule: its ticks are recorded skipped (reason paused) until it is resumed.</summary>
    public Task<ScheduleResponse> PauseScheduleAsync(Guid scheduleId, CancellationToken cancellationToken = default) =>
        UpdateScheduleAsync(scheduleId, new UpdateScheduleRequest { Paused = true }, cancellationToken);

    /// <summary>Resumes a paused schedule; its next tick is computed from now.</summary>
    public Task<ScheduleResponse> ResumeScheduleAsync(Guid scheduleId, CancellationToken cancellationToken = default) =>
        UpdateScheduleAsync(scheduleId, new UpdateScheduleRequest { Paused = false }, cancellationToken);

    /// <summary>
    /// Polls document 004's <c>GET /generator/status/{project_id}</c> with the backoff of <paramref name="options"/>
    /// until the project's document is <c>complete</c> or <c>error</c>, and returns it (an error document is returned,
    /// not thrown: its <c>Error</c> says what failed).
    /// </summary>
    public async Task<ProjectDocument> WaitForProjectAsync(string projectId, WaitOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new WaitOptions();
        var deadline = DateTimeOffset.UtcNow + options.Timeout;
        for (var pause = options.InitialDelay; ; pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * options.Factor, options.MaxDelay.TotalMilliseconds)))
        {
            var document = await GeneratorStatusAsync(projectId, cancellationToken);
            if (FinishedProjectStatuses.Contains(document.Status))
            {
                return document;
            }

            if (DateTimeOffset.UtcNow + pause > deadline)
            {
                throw new TimeoutException($"project {projectId} still {document.Status} after {options.Timeout}");
            }

            await Task.Delay(pause, cancellationToken);
        }
    }
}
