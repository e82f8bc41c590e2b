namespace LlmWorkflow.Worker;

/// <summary>
/// The consumer's recovery from a lost consumer group (a first start, or Redis lost its data): the reconciler recreates
/// it and dispatches every queued job again.
/// </summary>
internal sealed partial class JobConsumerService
{
    /// <summary>Heals a missing consumer group; returns why it could not (the read then counts as failed), or null.</summary>
    private async Task<Exception?> TryHealAsync(CancellationToken stoppingToken)
    {
        try
        {
            await reconciler.HealLostGroupsAsync(stoppingToken);
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogHealFailed(ex);
            return ex;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The dispatch consumer group is missing and could not be recreated; retrying")]
    private partial void LogHealFailed(Exception ex);
}
