namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// Test classes whose assertions include a wall-clock bound that only holds with the machine to themselves (a
/// submission answered within 3 s while Redis is stopped, a job started within 2 s of its time through kill -9): they
/// run alone, after the parallel classes, so running more classes at once (xunit.runner.json) cannot make them flaky
/// and their bounds need not be loosened.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimeBoundTests
{
    public const string Name = "time-bound tests (run alone)";
}
