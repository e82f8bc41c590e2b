namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>A clock that stands still at <paramref name="start"/> until a test moves it (<see cref="Advance"/>).</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public void Advance(TimeSpan by) => _now += by;

    public override DateTimeOffset GetUtcNow() => _now;
}
