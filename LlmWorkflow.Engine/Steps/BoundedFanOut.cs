using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Steps;

/// <summary>
/// Runs <c>count</c> blocks concurrently, at most <c>maxConcurrency</c> at once, as <c>parallel</c> and <c>for_each</c>
/// do. The first <see cref="WorkflowException"/> is rethrown once every block has stopped; with
/// <paramref name="failFast"/> it also cancels the blocks still running or waiting. A block that parks on a wait (a
/// sleep, a signal, an approval) does not stop the others: they run until they finish or park too, and then the run
/// parks once on all their waits (<see cref="NestedWaits.Combine"/>). A failure wins over a park.
/// </summary>
internal static class BoundedFanOut
{
    public static async Task RunAsync(
        int count,
        int maxConcurrency,
        bool failFast,
        Func<int, CancellationToken, Task> runBlock,
        CancellationToken cancellationToken)
    {
        using var gate = new SemaphoreSlim(Math.Max(1, maxConcurrency));
        using var siblings = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = failFast ? siblings.Token : cancellationToken;
        WorkflowException? firstFailure = null;
        var parked = new RunWait?[count];

        async Task RunOneAsync(int index)
        {
            await gate.WaitAsync(token);
            try
            {
                await runBlock(index, token);
            }
            catch (RunParkedException park)
            {
                parked[index] = park.Wait;
            }
            catch (WorkflowException failure)
            {
                Interlocked.CompareExchange(ref firstFailure, failure, null);
                await siblings.CancelAsync();
            }
            finally
            {
                gate.Release();
            }
        }

        try
        {
            await Task.WhenAll(Enumerable.Range(0, count).Select(RunOneAsync));
        }
        catch (OperationCanceledException) when (firstFailure is not null && !cancellationToken.IsCancellationRequested)
        {
            // Blocks cancelled because another failed; that failure is reported below.
        }

        if (firstFailure is not null)
        {
            throw firstFailure;
        }

        if (parked.Any(wait => wait is not null))
        {
            throw new RunParkedException(NestedWaits.Combine(parked.OfType<RunWait>()));
        }
    }
}
