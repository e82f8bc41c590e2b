using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace LlmWorkflow.Engine;

/// <summary>
/// The service's own ActivitySources and Meter (ServiceDefaults subscribes to them by name). Every span, metric and
/// attribute named here is listed in docs/OBSERVABILITY.md.
/// </summary>
public static class Telemetry
{
    public const string Name = "LlmWorkflow";

    /// <summary>The project's cost attribute on LLM spans (USD; absent when the model is unpriced).</summary>
    public const string CostAttribute = "llmworkflow.cost_usd";

    /// <summary>Spans for job runs (<c>job.run</c>), steps (<c>step {id}</c>) and LLM calls (<c>chat {model}</c>).</summary>
    public static readonly ActivitySource ActivitySource = new(Name);

    public static readonly Meter Meter = new(Name);

    public static readonly Counter<long> JobsSubmitted = Meter.CreateCounter<long>(
        "llmworkflow.jobs.submitted", unit: "{job}", description: "Jobs accepted by the API, by workflow.");

    public static readonly Counter<long> JobsFinished = Meter.CreateCounter<long>(
        "llmworkflow.jobs.finished", unit: "{job}", description: "Jobs that reached a terminal state (completed, failed, cancelled), by workflow and status.");

    public static readonly Histogram<double> JobDuration = Meter.CreateHistogram<double>(
        "llmworkflow.jobs.duration", unit: "s", description: "Wall time of a job run in a worker, by workflow and status.");

    public static readonly Histogram<double> StepDuration = Meter.CreateHistogram<double>(
        "llmworkflow.steps.duration", unit: "s", description: "Wall time of a step (retries included), by workflow, step type and status.");

    public static readonly Counter<long> LlmTokens = Meter.CreateCounter<long>(
        "llmworkflow.llm.tokens", unit: "{token}", description: "Tokens of answered LLM calls, by provider, model and gen_ai.token.type (input, output).");

    public static readonly Counter<double> LlmCost = Meter.CreateCounter<double>(
        "llmworkflow.llm.cost", unit: "USD", description: "Cost of answered, priced LLM calls, by provider and model.");

    public static readonly Counter<long> FlexRefusals = Meter.CreateCounter<long>(
        "llmworkflow.llm.flex_refusals", unit: "{call}", description: "Flex calls refused for capacity (429 resource unavailable), by what followed (llmworkflow.flex.action: retry, park, fallback).");

    public static readonly Counter<long> Batches = Meter.CreateCounter<long>(
        "llmworkflow.llm.batches", unit: "{batch}", description: "Batch API batches, by llmworkflow.batch.outcome: created, adopted (found at the provider after a restart), completed, errored, expired, failed, cancelled, fallback (run at standard after the batch ended unanswered).");

    public static readonly Counter<long> WebhookDeliveries = Meter.CreateCounter<long>(
        "llmworkflow.webhooks.deliveries", unit: "{attempt}", description: "Webhook delivery attempts, by event type and outcome (delivered, failed, dead_lettered, gone).");

    public static readonly Counter<long> CheckpointResumptions = Meter.CreateCounter<long>(
        "llmworkflow.checkpoints.resumed", unit: "{step}", description: "Steps restored from a checkpoint instead of run again, by workflow.");

    public static readonly Counter<long> HeldWritesStarted = Meter.CreateCounter<long>(
        "llmworkflow.writes.held", unit: "{write}", description: "Step results (checkpoint and usage rows) a worker held because PostgreSQL was unreachable.");

    public static readonly Counter<long> HeldWritesDiscarded = Meter.CreateCounter<long>(
        "llmworkflow.writes.held_discarded", unit: "{write}", description: "Held step results given up because PostgreSQL stayed unreachable beyond the hold, by reason (time, memory).");

    /// <summary>Marks an activity as failed the way OpenTelemetry expects: error status, error.type, an exception event.</summary>
    public static void RecordFailure(this Activity? activity, string errorType, string message, Exception? exception = null)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, message);
        activity.SetTag("error.type", errorType);
        if (exception is not null)
        {
            activity.AddException(exception);
        }
        else
        {
            activity.AddEvent(new ActivityEvent("exception", tags: new ActivityTagsCollection
            {
                ["exception.type"] = errorType,
                ["exception.message"] = message,
            }));
        }
    }
}
