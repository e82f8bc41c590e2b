namespace LlmWorkflow.Tests.Architecture;

/// <summary>
/// A capability plugs in beside the job core, never through it (docs/ARCHITECTURE.md, issue 81): the core references
/// no capability module, and no module reaches into another. Read from the built assemblies with Mono.Cecil
/// (<see cref="TypeUses"/>); the layout is <see cref="ModuleLayout.Current"/>. The uses that break the rule today are
/// listed below, each with why, and the list may only shrink: an entry that no longer breaks it fails the test until
/// it is removed.
/// </summary>
[UnitTest]
public sealed class ArchitectureTests(ITestOutputHelper output)
{
    // "using type -> module it uses" → why it is still there. Remove an entry when its use goes.
    private static readonly Dictionary<string, string> KnownViolations = new(StringComparer.Ordinal)
    {
        ["LlmWorkflow.Api.Generator.PrimaryModelVersion -> Versions"] = "the generator reads the stored version it generates from; Versions offers no public port yet",
        ["LlmWorkflow.Api.Generator.ProjectGenerator -> Versions"] = "the generator reads the stored version it generates from; Versions offers no public port yet",
        ["LlmWorkflow.Api.Jobs.ApiJobServices -> Scheduling"] = "the endpoints' shared service bag carries the schedule commands; split it per endpoint group",
        ["LlmWorkflow.Api.Jobs.ApiJobServices -> Webhooks"] = "the endpoints' shared service bag carries the webhook admin; split it per endpoint group",
        ["LlmWorkflow.Api.Jobs.JobCommands -> Versions"] = "a retry or fork reruns the job's pinned version; needs a version port in the core",
        ["LlmWorkflow.Api.Jobs.JobComparison -> Versions"] = "comparing two jobs diffs their pinned versions; belongs to the Versions module",
        ["LlmWorkflow.Api.Jobs.JobForks -> Versions"] = "a fork reruns the job's pinned version; belongs with the forks (Scheduling) or a version port",
        ["LlmWorkflow.Api.Jobs.JobSubmission -> Versions"] = "the submit pins the definition's version in the row; needs a version port in the core",
        ["LlmWorkflow.Api.Jobs.JobSubmitter -> Versions"] = "the submit stores the definition's version; needs a version port in the core",
        ["LlmWorkflow.Api.Jobs.JobSubmitter -> Webhooks"] = "the submit seals webhook_secret with the webhooks' protector; move behind a submission hook",
        ["LlmWorkflow.Api.Jobs.SubmissionValidator -> Webhooks"] = "the submit validates webhook_url and webhook_events with the webhooks' policy; move behind a submission hook",
        ["LlmWorkflow.Api.Schedules.ScheduleCommands -> Webhooks"] = "a schedule seals its jobs' webhook secret like the submit",
        ["LlmWorkflow.Api.Mcp.WorkflowMcpTools -> Scheduling"] = "the MCP job status carries a waiting job's approval links, as the REST status does",
        ["LlmWorkflow.Engine.Agents.AgentLoop -> Admission"] = "the agent's caps reserve each model turn through admission before the spend (issue 78), and a turn parks on a budget like an llm step",
        ["LlmWorkflow.Engine.Execution.BudgetGuard -> Admission"] = "the run-wide spend check in the runner; to become a chat-client middleware (Admission)",
        ["LlmWorkflow.Engine.Execution.JobCostForecast -> Admission"] = "the run's cost forecast reads learned step costs; belongs to Admission",
        ["LlmWorkflow.Engine.Execution.ProgressEventJson -> Admission"] = "the run_waiting event names the provider and reason of a budget wait; move that vocabulary into RunWait",
        ["LlmWorkflow.Engine.Execution.RunState -> Admission"] = "the run state carries the spend budget and cost history; to become a chat-client middleware",
        ["LlmWorkflow.Engine.Execution.WorkflowRunOptions -> Admission"] = "the run options carry the spend budget and cost history; to become a chat-client middleware",
        ["LlmWorkflow.Engine.Execution.WorkflowRunner -> Admission"] = "the runner passes the spend budget and cost history on; to become a chat-client middleware",
        ["LlmWorkflow.Storage.Jobs.JobLifecycleStore -> Webhooks"] = "the finish writes the terminal webhook event in its own statement (one transaction, docs/JOB_LIFECYCLE.md)",
        ["LlmWorkflow.Storage.Schedules.ScheduleTickRunner -> Versions"] = "a schedule's tick pins the version its jobs run",
        ["LlmWorkflow.Storage.Versions.WorkflowVersion -> Agents"] = "a pinned version holds the agent step's instruction files as it holds an llm step's prompts; a step module should name its files",
        ["LlmWorkflow.Worker.Jobs.JobRun -> Scheduling"] = "a parked run's wait description and approval links (the waiting event)",
        ["LlmWorkflow.Worker.Jobs.JobRuns -> Scheduling"] = "hands the approval links to the run for its wait description",
        ["LlmWorkflow.Worker.Jobs.RunnableWorkflows -> Versions"] = "a pinned job runs its stored version; needs a version port in the core",
        ["LlmWorkflow.Worker.Jobs.TenantSlotShares -> Admission"] = "the slot shares sit in Worker/Jobs and read Admission's options; they belong to Admission",
        ["LlmWorkflow.Worker.Jobs.UnfinishedRuns -> Scheduling"] = "a parked run's wait description and approval links for the opt-in waiting event",
        ["LlmWorkflow.Worker.Jobs.UnfinishedRuns -> Webhooks"] = "the opt-in workflow.waiting webhook event is written at the park",
        ["LlmWorkflow.Worker.Jobs.WorkflowRunOptionsFactory -> Admission"] = "the run options carry the tenant spend budget; to become a chat-client middleware",
        ["LlmWorkflow.Worker.Jobs.WorkflowRunOptionsFactory -> Reporting"] = "the CSV run log wraps the run's progress; to become a progress sink the module registers",
        ["LlmWorkflow.Worker.Jobs.WorkflowRunOptionsFactory -> Webhooks"] = "the opt-in step events wrap the run's progress; to become a progress sink the module registers",
    };

    [Fact]
    public void TheCoreUsesNoModuleAndNoModuleUsesAnother()
    {
        var violations = ModuleLayout.Current.Violations(TypeUses.OfProduction());
        foreach (var group in violations.GroupBy(v => v.Key).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"{group.Key}  ({group.First().FromPlace}; {string.Join(", ", group.Select(v => v.To).Distinct())})");
        }

        var unexpected = violations.Where(v => !KnownViolations.ContainsKey(v.Key)).Select(v => $"{v.Key} (uses {v.To})").Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.True(unexpected.Count == 0, "Plug the capability in beside the core (a step handler, a lifecycle transition, a chat-client " +
            $"middleware, a background service, an endpoint group) instead of using it from here:\n{string.Join('\n', unexpected)}");
        var gone = KnownViolations.Keys.Except(violations.Select(v => v.Key)).ToList();
        Assert.True(gone.Count == 0, $"No longer a violation, remove from the known list: {string.Join(", ", gone)}");
    }

    [Fact]
    public void TheRuleFailsOnASeededViolation()
    {
        // The layout with this test's seeded types as the core and as a module of their own: the core's type that
        // uses a Scheduling type is found, and so is the seeded module's use of the Webhooks module.
        var layout = ModuleLayout.Current with
        {
            CoreNamespaces = [typeof(SeededCore.UsesScheduling).Namespace!],
            Modules = [.. ModuleLayout.Current.Modules, new CapabilityModule("Seeded", [typeof(SeededModule.UsesWebhooks).Namespace!])],
        };
        var violations = layout.Violations(TypeUses.Of(["LlmWorkflow.Tests"]));

        Assert.Contains(violations, v => v.From == typeof(SeededCore.UsesScheduling).FullName && v.FromPlace == "core" && v.ToModule == "Scheduling"
            && v.To == typeof(LlmWorkflow.Storage.Schedules.Schedule).FullName);
        Assert.Contains(violations, v => v.From == typeof(SeededModule.UsesWebhooks).FullName && v.FromPlace == "Seeded" && v.ToModule == "Webhooks");
        Assert.DoesNotContain(violations, v => v.From == typeof(SeededCore.UsesOnlyTheCore).FullName);
    }
}
