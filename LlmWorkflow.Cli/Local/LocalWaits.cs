using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Cli.Local;

/// <summary>
/// What the service does with a parked run, done in this process for <c>llmwf run</c>: sleeps are slept, and
/// <c>wait_for_event</c> steps take the signals given with <c>--signal event=JSON</c> (a wait without one sleeps until
/// its timeout, as the service's would). Finished steps come back from in-memory checkpoints when the run resumes.
/// </summary>
internal sealed class LocalWaits : ISignalInbox
{
    private readonly Dictionary<string, Queue<JsonNode?>> _signals = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RunSignal> _taken = new(StringComparer.Ordinal);
    private readonly InMemoryCheckpointStore _checkpoints = new();

    /// <summary>Reads <c>event=JSON</c> values; a bad one is a usage error naming the option.</summary>
    public LocalWaits(IEnumerable<string> signals)
    {
        foreach (var signal in signals)
        {
            var equals = signal.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new UsageException($"--signal {signal}: expected event=JSON, e.g. --signal 'approval={{\"approved\": true}}'.");
            }

            JsonNode? body;
            try
            {
                body = signal.Length == equals + 1 ? null : JsonNode.Parse(signal[(equals + 1)..]);
            }
            catch (JsonException ex)
            {
                throw new UsageException($"--signal {signal[..equals]}: the body is not valid JSON: {ex.Message}");
            }

            var name = signal[..equals];
            if (!_signals.TryGetValue(name, out var queue))
            {
                _signals[name] = queue = new Queue<JsonNode?>();
            }

            queue.Enqueue(body);
        }
    }

    public ValueTask<RunSignal?> TakeAsync(string runId, string eventName, string stepKey, CancellationToken cancellationToken)
    {
        if (!_taken.TryGetValue(stepKey, out var signal) && _signals.TryGetValue(eventName, out var queue) && queue.Count > 0)
        {
            _taken[stepKey] = signal = new RunSignal(queue.Dequeue());
        }

        return ValueTask.FromResult(signal);
    }

    // Any event the run awaits: several branches of a parallel or for_each may wait at once (RunWait.Events).
    private bool HasSignalFor(RunWait wait) => wait.Events.Any(eventName => _signals.TryGetValue(eventName, out var queue) && queue.Count > 0);

    /// <summary>Runs the workflow, sleeping through each wait and resuming it, until the run ends.</summary>
    public async Task<WorkflowRunResult> RunAsync(
        WorkflowRunner runner, Engine.Definitions.WorkflowDefinition workflow, JsonNode? input, WorkflowRunOptions options,
        Action<RunWait> waiting, TimeProvider time, CancellationToken cancellationToken)
    {
        options = options with { Checkpoints = _checkpoints, Signals = this };
        while (true)
        {
            var result = await runner.RunAsync(workflow, input, options, cancellationToken);
            if (result is not { Status: WorkflowRunStatus.Waiting, Wait: { } wait })
            {
                return result;
            }

            waiting(wait);
            var left = wait.Until - time.GetUtcNow();
            // A step that parks before it looks at the inbox (an agent's tool waiting for approval) resumes at once
            // when the signal it waits for was given; otherwise the wait is slept to its end, as the service would.
            if (left > TimeSpan.Zero && !HasSignalFor(wait))
            {
                await Task.Delay(left, time, cancellationToken);
            }

            options = options with { ResumedWait = wait };
        }
    }
}
