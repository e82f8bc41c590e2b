// A new console app that added the packed LlmWorkflow.Client from a local package source, run against the service
// (LLM_SERVICE_URL, LLM_SERVICE_API_SECRET). Prints one line per checked helper; throws on a mismatch.
using System.Text.Json.Nodes;
using LlmWorkflow.Client;

var llm = LlmWorkflowClient.Create(new Uri(Environment.GetEnvironmentVariable("LLM_SERVICE_URL")!),
    Environment.GetEnvironmentVariable("LLM_SERVICE_API_SECRET")!);
var wait = new WaitOptions { InitialDelay = TimeSpan.FromMilliseconds(200), Timeout = TimeSpan.FromMinutes(2) };

var greeting = await llm.SubmitAsync(new SubmitWorkflowRequest { WorkflowName = "hello_transform", InputData = new JsonObject { ["name"] = "dotnet" } });
var done = await llm.WaitForCompletionAsync(greeting.Job.JobId, wait);
Console.WriteLine($"dotnet app: job {done.JobId} {done.Status}");

var order = await llm.SubmitAsync(new SubmitWorkflowRequest
{
    WorkflowName = "order_payment",
    InputData = new JsonObject { ["order_id"] = "A-2", ["customer_name"] = "Grace", ["items"] = new JsonArray("coffee"), ["total"] = "EUR 3.20" },
});
var signal = await llm.SignalAsync(order.Job.JobId, "payment.received", new { paid = true, payment_id = "pay_dotnet_1" }, idempotencyKey: $"pay-{order.Job.JobId}");
var paid = await llm.WaitForCompletionAsync(order.Job.JobId, wait);
Console.WriteLine($"dotnet app: signal {signal.Event} {signal.Status}, order job {paid.Status}");

var later = await llm.SubmitAsync(new SubmitWorkflowRequest { WorkflowName = "hello_transform", InputData = new JsonObject { ["name"] = "later" }, DelaySeconds = 3600 });
await llm.RescheduleAsync(later.Job.JobId, TimeSpan.Zero);
Console.WriteLine($"dotnet app: rescheduled job {(await llm.WaitForCompletionAsync(later.Job.JobId, wait)).Status}");

var schedule = await llm.CreateScheduleAsync(new CreateScheduleRequest
{
    Name = $"dotnet-{Guid.NewGuid():N}", WorkflowName = "hello_transform", Cron = "0 3 * * *", InputData = new JsonObject { ["name"] = "cron" },
});
var listed = await llm.ListSchedulesAsync(limit: 100);
Check(listed.Schedules.Any(s => s.ScheduleId == schedule.ScheduleId), "the new schedule is not listed");
await llm.TriggerScheduleAsync(schedule.ScheduleId);
Check((await llm.PauseScheduleAsync(schedule.ScheduleId)).Paused, "the schedule was not paused");
await llm.DeleteScheduleAsync(schedule.ScheduleId);
Console.WriteLine("dotnet app: schedule created, listed, triggered, paused");

try
{
    await llm.GetJobStatusAsync(Guid.Empty);
    Check(false, "an unknown job did not throw");
}
catch (LlmWorkflowNotFoundException)
{
}

var projectId = $"dotnet-{Guid.NewGuid():N}";
await llm.GeneratorStartAsync(new StartProjectRequest
{
    ProjectId = projectId, ChatId = "chat-1", Topic = "fractions", LifeSkill = "budgeting", GroupSize = 3, DurationMin = 45,
});
var project = await llm.WaitForProjectAsync(projectId, wait);
Console.WriteLine($"dotnet app: typed 404, project {project.Status}");

static void Check(bool ok, string what)
{
    if (!ok)
    {
        throw new InvalidOperationException($"dotnet app: {what}");
    }
}
