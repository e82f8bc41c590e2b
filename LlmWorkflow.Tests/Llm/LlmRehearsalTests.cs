using System.Diagnostics.Metrics;
using EngineTelemetry = LlmWorkflow.Engine.Telemetry;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Tests.Llm;

/// <summary>
/// <see cref="LlmRehearsal"/>, the worker's rehearsal of an LLM call: it runs an llm step through the OpenAI SDK and the
/// provider's transport against an answer served on a loopback port (the SDK's parse of it reaches the step's record), and inside
/// <see cref="EngineTelemetry.BeginRehearsal"/> it adds nothing to the step and token metrics it adds to outside.
/// </summary>
public sealed class LlmRehearsalTests
{
    [Fact]
    public async Task TheRehearsalRunsAnLlmStepThroughTheSdk()
    {
        var result = await LlmRehearsal.RunAsync(TestGateways.Prices, TestContext.Current.CancellationToken);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal("ready", result.Output?["answer"]?.GetValue<string>());
        var step = Assert.Single(result.Steps);
        Assert.Equal("llm", step.Type);
        // The usage the in-memory answer reports, as the SDK parsed it: the call went through the provider path.
        Assert.Equal((4, 1), (result.InputTokens, result.OutputTokens));
    }

    [Fact]
    public async Task InsideARehearsalScopeNoMetricIsRecorded()
    {
        var ct = TestContext.Current.CancellationToken;
        using var measurements = new RehearsalMeasurements();

        await LlmRehearsal.RunAsync(TestGateways.Prices, ct);
        var outside = measurements.Names();
        // The step duration and the input and output tokens: without the scope the rehearsal is counted like any run.
        Assert.Contains("llmworkflow.steps.duration", outside);
        Assert.Contains("llmworkflow.llm.tokens", outside);

        measurements.Clear();
        using (EngineTelemetry.BeginRehearsal())
        {
            // A scope inside another ends without ending the outer one.
            using (EngineTelemetry.BeginRehearsal())
            {
                await LlmRehearsal.RunAsync(TestGateways.Prices, ct);
            }

            await LlmRehearsal.RunAsync(TestGateways.Prices, ct);
        }

        Assert.Empty(measurements.Names());
    }

    /// <summary>Measurements of the service's meter that carry the rehearsal's workflow or provider (tests run in parallel).</summary>
    private sealed class RehearsalMeasurements : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<string> _names = [];

        public RehearsalMeasurements()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, EngineTelemetry.Meter))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) => Add(instrument, tags));
            _listener.SetMeasurementEventCallback<double>((instrument, _, tags, _) => Add(instrument, tags));
            _listener.Start();
        }

        public List<string> Names()
        {
            lock (_names)
            {
                return [.. _names.Distinct()];
            }
        }

        public void Clear()
        {
            lock (_names)
            {
                _names.Clear();
            }
        }

        public void Dispose() => _listener.Dispose();

        private void Add(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key is "workflow" or "gen_ai.provider.name" && tag.Value as string == "rehearsal")
                {
                    lock (_names)
                    {
                        _names.Add(instrument.Name);
                    }

                    return;
                }
            }
        }
    }
}
