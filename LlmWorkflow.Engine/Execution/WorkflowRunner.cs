using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Expressions;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Steps;
using LlmWorkflow.Engine.Templates;
using LlmWorkflow.Engine.Transforms;

namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// Runs a workflow definition: steps in order (control-flow steps run their blocks), then the <c>output</c>
/// template. Never throws for a failing workflow: failures, timeouts and cancellation come back as a
/// <see cref="WorkflowRunResult"/> with the records of the steps that did run.
/// </summary>
public sealed class WorkflowRunner
{
    private readonly StepRunner _steps;
    private readonly TimeProvider _time;

    /// <param name="transforms">The operations <c>transform</c> steps can name, usually <see cref="TransformRegistry.CreateDefault"/>.</param>
    /// <param name="llm">Needed by <c>llm</c> steps; without it they fail with a CONFIG_ERROR.</param>
    /// <param name="external">Needed by <c>external_api</c> steps.</param>
    /// <param name="prompts">Resolves <c>prompt_file</c>/<c>system_file</c> and includes; inline prompts work without it.</param>
    /// <param name="prices">Used for the budget check before LLM calls; without it budgets cannot be enforced.</param>
    /// <param name="modules">Step types of capability modules (the agent step's <c>AgentStepModule</c>); a type no one adds is refused.</param>
    public WorkflowRunner(
        TransformRegistry transforms,
        ILlmGateway? llm = null,
        IExternalServiceGateway? external = null,
        PromptLibrary? prompts = null,
        IPriceTable? prices = null,
        TimeProvider? time = null,
        IEnumerable<StepModule>? modules = null)
    {
        _time = time ?? TimeProvider.System;
        var handlers = new Dictionary<string, IStepHandler>(StringComparer.Ordinal)
        {
            [StepTypes.Llm] = new LlmStepHandler(llm, prompts, prices),
            [StepTypes.Transform] = new TransformStepHandler(transforms),
            [StepTypes.ExternalApi] = new ExternalApiStepHandler(external),
            [StepTypes.Conditional] = new ConditionalStepHandler(),
            [StepTypes.Parallel] = new ParallelStepHandler(),
            [StepTypes.ForEach] = new ForEachStepHandler(),
            [StepTypes.Sleep] = new SleepStepHandler(),
            [StepTypes.WaitForEvent] = new WaitForEventStepHandler(),
            [StepTypes.Approval] = new ApprovalStepHandler(),
        };
        var services = new StepServices(transforms, llm, external, prompts, prices);
        foreach (var module in modules ?? [])
        {
            handlers[module.StepType] = module.CreateHandler(services);
        }

        _steps = new StepRunner(handlers);
    }

    public async Task<WorkflowRunResult> RunAsync(WorkflowDefinition workflow, JsonNode? input, WorkflowRunOptions options, CancellationToken cancellationToken)
    {
        var run = new RunState
        {
            RunId = options.RunId,
            Workflow = workflow,
            Input = input,
            Context = options.Context,
            Progress = options.Progress ?? NullProgressSink.Instance,
            Checkpoints = options.Checkpoints,
            Usage = new RunUsage(options.MaxCostUsd ?? workflow.MaxCostUsd),
            Time = _time,
            ResumedWait = options.ResumedWait,
            Signals = options.Signals,
            Prompts = options.Prompts,
            Prices = options.Prices,
            SpendBudget = options.SpendBudget,
            CostHistory = options.CostHistory,
            TenantId = options.TenantId,
            UserId = options.UserId,
            ServiceTier = options.ServiceTier,
            Priority = options.Priority,
        };
        var startedAt = run.Now;
        using var workflowTimeout = workflow.TimeoutSeconds is { } seconds ? new CancellationTokenSource(TimeSpan.FromSeconds(seconds), _time) : null;
        using var linked = workflowTimeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, workflowTimeout.Token);
        var token = linked?.Token ?? cancellationToken;
        var frame = new ExecutionFrame { Outputs = new LayeredStepOutputs(null) };

        try
        {
            await run.Progress.PublishAsync(new RunStarted(run.RunId, startedAt, workflow.Name, run.TotalTopLevelSteps), token);
            var last = await _steps.RunBlockAsync(workflow.Steps, frame, run, token);
            var output = (workflow.Output is null ? last : ValueResolver.Resolve(workflow.Output, frame.CreateScope(run)))?.DeepClone();
            var result = Result(run, startedAt, WorkflowRunStatus.Completed, output, null);
            await run.Progress.PublishAsync(new RunCompleted(run.RunId, result.FinishedAt, output, result.CostUsd, result.TotalTokens), CancellationToken.None);
            return result;
        }
        catch (RunParkedException parked)
        {
            // Not an ending: no terminal event. The steps before it are checkpointed; the caller stores the wait.
            var result = Result(run, startedAt, WorkflowRunStatus.Waiting, null, null) with { Wait = parked.Wait };
            await run.Progress.PublishAsync(new RunWaiting(run.RunId, result.FinishedAt, parked.Wait), CancellationToken.None);
            return result;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return await FailAsync(run, startedAt, WorkflowRunStatus.Cancelled, new WorkflowError
            {
                Type = "cancelled",
                Category = ErrorCategory.UserError,
                Message = "The run was cancelled.",
            });
        }
        catch (OperationCanceledException) when (workflowTimeout?.IsCancellationRequested == true)
        {
            return await FailAsync(run, startedAt, WorkflowRunStatus.Failed, new WorkflowError
            {
                Type = "workflow_timeout",
                Category = ErrorCategory.SystemError,
                Message = $"Workflow \"{workflow.Name}\" did not finish within {workflow.TimeoutSeconds} s.",
                Retryable = false,
                Details = new JsonObject { ["timeout_seconds"] = workflow.TimeoutSeconds },
            });
        }
        catch (WorkflowException ex)
        {
            return await FailAsync(run, startedAt, WorkflowRunStatus.Failed, ex.Error);
        }
        catch (ExpressionSyntaxException ex)
        {
            return await FailAsync(run, startedAt, WorkflowRunStatus.Failed, new WorkflowError
            {
                Type = "expression_syntax",
                Category = ErrorCategory.ConfigError,
                Message = $"The workflow output template is invalid: {ex.Message}",
            });
        }
    }

    private async Task<WorkflowRunResult> FailAsync(RunState run, DateTimeOffset startedAt, WorkflowRunStatus status, WorkflowError error)
    {
        var result = Result(run, startedAt, status, null, ErrorSuggestions.WithDefaults(ErrorSanitizer.Sanitize(error)));
        await run.Progress.PublishAsync(
            new RunFailed(run.RunId, result.FinishedAt, result.Error!, status == WorkflowRunStatus.Cancelled), CancellationToken.None);
        return result;
    }

    private WorkflowRunResult Result(RunState run, DateTimeOffset startedAt, WorkflowRunStatus status, JsonNode? output, WorkflowError? error) => new()
    {
        Status = status,
        Output = output,
        Error = error,
        Steps = run.SnapshotRecords(),
        InputTokens = run.Usage.InputTokens,
        OutputTokens = run.Usage.OutputTokens,
        CostUsd = run.Usage.CostUsd,
        Unpriced = run.Usage.Unpriced,
        Provider = run.Usage.Provider,
        Model = run.Usage.Model,
        Models = run.Usage.Models,
        ListCostUsd = run.Usage.ListCostUsd,
        RequestedServiceTier = run.ServiceTier is { Tier: not Llm.ServiceTiers.Standard } tier ? tier.Tier : null,
        StartedAt = startedAt,
        FinishedAt = _time.GetUtcNow(),
    };
}
