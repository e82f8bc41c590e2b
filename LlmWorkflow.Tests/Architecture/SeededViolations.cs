// Types that break the module rule on purpose, for ArchitectureTests.TheRuleFailsOnASeededViolation.
namespace LlmWorkflow.Tests.Architecture.SeededCore
{
    internal static class UsesScheduling
    {
        public static string Describe(LlmWorkflow.Storage.Schedules.Schedule schedule) => schedule.ToString();
    }

    internal static class UsesOnlyTheCore
    {
        public static string Describe(LlmWorkflow.Storage.Jobs.JobStatus status) => status.ToString();
    }
}

namespace LlmWorkflow.Tests.Architecture.SeededModule
{
    internal static class UsesWebhooks
    {
        public static int Count(IReadOnlyList<LlmWorkflow.Storage.Webhooks.WebhookOutbox> outboxes) => outboxes.Count;
    }
}
