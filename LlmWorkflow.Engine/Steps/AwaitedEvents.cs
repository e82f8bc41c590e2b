using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Llm.Budgets;

namespace LlmWorkflow.Engine.Steps;

/// <summary>
/// Which signal events a workflow's steps can wait for, nested steps included: a <c>wait_for_event</c> step's
/// <c>event</c>, an <c>approval</c> step's (<c>approval</c> by default), a step over budget's <c>budget.&lt;step id&gt;</c>
/// under <c>on_budget: wait_for_approval</c>, and whatever each step module answers for its own steps. A signal for
/// any other event would never be taken, so the API refuses it; asking here keeps the API from naming any module.
/// </summary>
public static class AwaitedEvents
{
    public static IReadOnlySet<string> Of(WorkflowDefinition workflow, IEnumerable<StepModule> modules)
    {
        var steps = WorkflowWalker.Walk(workflow).Select(l => l.Step).ToList();
        var moduleList = modules.ToList();
        var events = new HashSet<string>(StringComparer.Ordinal);
        foreach (var step in steps)
        {
            if (step.Type == StepTypes.WaitForEvent && (string?)step.Config["event"] is { } awaited)
            {
                events.Add(awaited);
            }
            else if (step.Type == StepTypes.Approval)
            {
                events.Add((string?)step.Config["event"] ?? ApprovalStepHandler.DefaultEvent);
            }

            events.UnionWith(moduleList.SelectMany(m => m.EventsOf(step)));
        }

        if (OnBudget.Of(workflow) == OnBudget.WaitForApproval)
        {
            events.UnionWith(steps.Select(s => StepSpend.ApprovalEvent(s.Id)));
        }

        return events;
    }
}
