using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// A submission's <c>estimated_wait_seconds</c>: the queued jobs its band waits behind (its own and higher bands) times
/// the average run time of the most recent completed jobs, over the job slots of the live workers (64, one default
/// worker, when none is live). Rows written straight into PostgreSQL; the answer read from the real API.
/// </summary>
[IntegrationTest]
public sealed class QueueWaitEstimateTests(ClassApi api) : ApiWithDatabase(api)
{
    [Fact]
    public async Task TheEstimateIsTheQueueAheadTimesTheRecentRunTimeOverTheSlots()
    {
        Assert.True((await Admin.GetAsync("/api/v1/admin/usage", Ct)).IsSuccessStatusCode); // migrated
        await TestSql.ExecuteAsync(Postgres, """
            -- The 100 most recent completed jobs took 2 s each; older ones took a minute (left out of the average).
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, status, input_data, tenant_id, created_at, completed_at, duration_ms)
            SELECT md5('recent-' || i)::uuid, md5('recent-' || i), 'alpha', 'completed', '{}', 'main-app',
                   now() - i * interval '1 second', now() - i * interval '1 second' + interval '2 seconds', 2000
              FROM generate_series(1, 100) i;
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, status, input_data, tenant_id, created_at, completed_at, duration_ms)
            SELECT md5('old-' || i)::uuid, md5('old-' || i), 'alpha', 'completed', '{}', 'main-app',
                   now() - interval '2 days' - i * interval '1 second', now() - interval '2 days', 60000
              FROM generate_series(1, 300) i;
            -- Waiting: 60 high-priority jobs and 630 normal ones.
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, status, input_data, tenant_id, created_at, priority)
            SELECT md5('queued-' || i)::uuid, md5('queued-' || i), 'alpha', 'queued', '{}', 'main-app', now(), CASE WHEN i <= 60 THEN 9 ELSE 5 END
              FROM generate_series(1, 690) i;
            """, Ct);

        // An API takes its first snapshot at start (the one above did, before these rows) and keeps it for a few
        // seconds: a host with a clock moved past that interval reads these rows whatever its start read.
        var clock = new ShiftedClock();
        await using var api = Api.WithWebHostBuilder(b => b.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(clock)));
        using var caller = api.CreateClient();
        caller.DefaultRequestHeaders.Add("X-API-Key", TestEnvironment.CallerKey);
        clock.Advance(TimeSpan.FromSeconds(6));

        // High waits behind 60 (or 61 with itself): ⌈61 × 2 / 64⌉ = 2. Normal behind 690 or so: ⌈691 × 2 / 64⌉ = 22.
        Assert.Equal(2, await EstimateAsync(caller, priority: 9));
        Assert.Equal(22, await EstimateAsync(caller, priority: 5));
    }

    private static async Task<int> EstimateAsync(HttpClient caller, int priority)
    {
        using var response = await caller.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "hello_transform", input_data = new { name = "estimate" }, priority }, Ct);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
        return (int)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["estimated_wait_seconds"]!;
    }
}
