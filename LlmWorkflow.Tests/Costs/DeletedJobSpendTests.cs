using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmWorkflow.Tests.Costs;

/// <summary>
/// What a provider billed stays in the ledger: deleting a job (bulk delete, retention) keeps its LLM calls in every
/// usage figure, under its tenant, workflow and user, marked as from a deleted job — whether the calls were already
/// in the rollup when the job went or are rolled up after — until the usage retention purges their month.
/// Real API, real PostgreSQL.
/// </summary>
[IntegrationTest]
public sealed class DeletedJobSpendTests(ClassApi api) : ApiWithDatabase(api)
{
    private const string Tenant = "t-ledger";

    [Fact]
    public async Task ADeletedJobsSpendStaysInTheUsageReportMarkedAsFromADeletedJob()
    {
        Assert.True((await Admin.GetAsync("/api/v1/admin/usage", Ct)).IsSuccessStatusCode); // migrated
        var now = DateTimeOffset.UtcNow;
        // Job "rolled": its call (3 days old) is in the rollup before the delete. Job "raw": its call (1 day old) is
        // rolled up only after the delete. Job "kept" is never deleted. $0.019998 is the lowered total.
        await TestSql.ExecuteAsync(Postgres, """
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, user_id, username, status, input_data, completed_at, tenant_id, created_at)
            SELECT md5('ledger-' || name)::uuid, md5('ledger-' || name), 'summarize', 'user-1', 'Ada', 'completed', '{}', @now, @tenant, @now - interval '4 days'
              FROM unnest(ARRAY['rolled', 'raw', 'kept']) name;
            INSERT INTO llm_provider_usage (job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, created_at)
            VALUES (md5('ledger-rolled')::uuid, 'fake', 'm-one', 100, 50, 150, 0.019998, @now - interval '3 days'),
                   (md5('ledger-raw')::uuid, 'fake', 'm-one', 10, 5, 15, 0.001000, @now - interval '1 day'),
                   (md5('ledger-kept')::uuid, 'fake', 'm-two', 20, 10, 30, 0.002000, @now - interval '1 day');
            """, Ct, ("now", now), ("tenant", Tenant));
        var dataSource = Api.Services.GetRequiredService<NpgsqlDataSource>();
        Assert.True(await new UsageRollup(dataSource, new ManualClock(now.AddDays(-2))).RollUpAsync(Ct) > 0);

        var before = await ReportAsync();
        Assert.Equal(0.022998m, (decimal)before["total"]!["cost_usd"]!);
        Assert.Equal(0m, (decimal)before["total"]!["deleted_job_cost_usd"]!);

        var doomed = await TestSql.QueryIdsAsync(Postgres, "SELECT md5('ledger-' || name)::uuid FROM unnest(ARRAY['rolled', 'raw']) name", Ct);
        using (var request = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/jobs/bulk") { Content = JsonContent.Create(new { job_ids = doomed }) })
        {
            using var response = await Admin.SendAsync(request, Ct);
            Assert.Equal(2, (int)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["deleted"]!);
        }

        Assert.Equal(HttpStatusCode.Gone, (await Admin.GetAsync($"/api/v1/jobs/{doomed[0]}", Ct)).StatusCode);
        await AssertDeletedSpendCountedAsync("right after the delete");

        // The call of the job deleted before its hour was rolled up goes into the rollup as a deleted job's call.
        Assert.True(await new UsageRollup(dataSource, new ManualClock(now)).RollUpAsync(Ct) > 0);
        await AssertDeletedSpendCountedAsync("after the rollup took in the rest");

        // The usage retention purges whole months that ended before its cutoff, not before.
        var rollup = Api.Services.GetRequiredService<UsageRollup>();
        Assert.Equal(0, await rollup.PurgeBeforeAsync(now.AddDays(-3), batchSize: 1, Ct));
        await AssertDeletedSpendCountedAsync("after a usage retention that reached none of them");
        // A cutoff 40 days ahead is in a month that begins after every call: all of them, and their rollup rows, go.
        Assert.Equal(3, await rollup.PurgeBeforeAsync(now.AddDays(40), batchSize: 1, Ct));
        Assert.Equal(0m, (decimal)(await ReportAsync())["total"]!["cost_usd"]!);
    }

    private async Task AssertDeletedSpendCountedAsync(string when)
    {
        var report = await ReportAsync();
        var total = report["total"]!;
        Assert.True(0.022998m == (decimal)total["cost_usd"]!, $"{when}: the total still counts the deleted jobs' spend: {total}");
        Assert.Equal(3, (int)total["calls"]!);
        Assert.True(0.020998m == (decimal)total["deleted_job_cost_usd"]!, $"{when}: the deleted jobs' share: {total}");
        Assert.Equal(2, (int)total["deleted_job_calls"]!);
        // Still under the job's workflow and user, not an anonymous bucket.
        var workflow = Assert.Single(report["by_workflow"]!.AsArray());
        Assert.Equal("summarize", (string)workflow!["key"]!);
        Assert.Equal(0.020998m, (decimal)workflow["deleted_job_cost_usd"]!);
        var user = Assert.Single(report["by_user"]!.AsArray());
        Assert.Equal(("user-1", "Ada", 0.022998m), ((string)user!["user_id"]!, (string)user["username"]!, (decimal)user["cost_usd"]!));
        var model = report["by_model"]!.AsArray().Single(m => (string)m!["key"]! == "m-one")!;
        Assert.Equal(0.020998m, (decimal)model["deleted_job_cost_usd"]!);
        Assert.Contains("deleted", (string)report["counts"]!, StringComparison.Ordinal);
        Assert.True((int)report["usage_retention_days"]! > 7);
    }

    private async Task<JsonObject> ReportAsync()
    {
        using var response = await Admin.GetAsync($"/api/v1/admin/usage?days=7&tenant_id={Tenant}", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
    }
}
