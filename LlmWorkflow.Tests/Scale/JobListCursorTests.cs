using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Scale;

/// <summary>
/// Keyset paging of GET /api/v1/jobs (cursor / next_cursor) on a real API and Postgres: pages in both directions
/// neither repeat nor skip a job when many jobs share a created_at and jobs are inserted between pages, the pages
/// equal the offset pages, and bad cursors get a 400 naming the field.
/// </summary>
[IntegrationTest]
public sealed class JobListCursorTests(ClassApi api) : ApiWithDatabase(api)
{

    [Theory]
    [InlineData("desc")]
    [InlineData("asc")]
    public async Task CursorPagesNeitherRepeatNorSkipWithTiesAndConcurrentInserts(string order)
    {
        Assert.True((await Admin.GetAsync("/api/v1/jobs", Ct)).IsSuccessStatusCode); // migrated
        var tenant = $"cursor-{Guid.NewGuid():N}"[..20];
        // 95 jobs in 19 instants: five jobs share each created_at (only the id tells them apart).
        await InsertAsync(tenant, "generate_series(1, 95) i", "timestamptz '2026-01-01 00:00:00+00' + (i / 5) * interval '1 minute'");
        var expected = await TestSql.QueryIdsAsync(Postgres,
            $"SELECT id FROM llm_workflow_jobs WHERE tenant_id = @tenant ORDER BY created_at {order}, id {order}", Ct, ("tenant", tenant));

        var seen = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await GetAsync($"/api/v1/jobs?tenant_id={tenant}&limit=7&sort=created_at&order={order}" + (cursor is null ? "" : $"&cursor={cursor}"));
            seen.AddRange(page["jobs"]!.AsArray().Select(j => Guid.Parse((string)j!["job_id"]!)));
            cursor = (string?)page["next_cursor"];
            pages++;
            // Between pages: new jobs at the newest end, and more jobs in an instant the pages already passed
            // (desc) or have not reached yet (asc) — the latter must show up, the former must not.
            await InsertAsync(tenant, $"generate_series({1000 + pages * 10}, {1000 + pages * 10 + 1}) i", "now()");
            await InsertAsync(tenant, $"generate_series({5000 + pages * 10}, {5000 + pages * 10}) i", "timestamptz '2026-01-01 00:00:00+00' + interval '18 minutes'");
        }
        while (cursor is not null && pages < 100);

        Assert.Equal(seen.Count, seen.Distinct().Count());
        // Every job present at the start, once, in the list's order.
        Assert.Equal(expected, seen.Where(expected.Contains));
        // Whatever was added meanwhile and shown came in its place in the same order (ascending reaches the jobs
        // added ahead of the cursor; descending never shows them: they are newer than the first page).
        var all = await TestSql.QueryIdsAsync(Postgres,
            $"SELECT id FROM llm_workflow_jobs WHERE tenant_id = @tenant ORDER BY created_at {order}, id {order}", Ct, ("tenant", tenant));
        Assert.Equal(all.Where(seen.Contains), seen);
        if (order == "desc")
        {
            Assert.Equal(expected, seen);
        }
        else
        {
            Assert.True(seen.Count > expected.Count, "ascending pages reach the jobs inserted ahead of the cursor");
        }
    }

    [Fact]
    public async Task CursorPagesEqualOffsetPagesAndBadCursorsAreRejected()
    {
        var tenant = $"offset-{Guid.NewGuid():N}"[..20];
        await InsertAsync(tenant, "generate_series(1, 40) i", "timestamptz '2026-02-01 00:00:00+00' + (i / 4) * interval '1 second'");
        string? cursor = null;
        for (var offset = 0; offset < 40; offset += 9)
        {
            var byOffset = await GetAsync($"/api/v1/jobs?tenant_id={tenant}&limit=9&offset={offset}");
            var byCursor = await GetAsync($"/api/v1/jobs?tenant_id={tenant}&limit=9" + (cursor is null ? "" : $"&cursor={cursor}"));
            Assert.Equal(byOffset["jobs"]!.ToJsonString(), byCursor["jobs"]!.ToJsonString());
            Assert.Equal((40, true), ((int)byCursor["total"]!, (bool)byCursor["total_exact"]!));
            cursor = (string?)byCursor["next_cursor"];
            Assert.Equal(offset + 9 <= 36, cursor is not null);
        }

        var valid = (string)(await GetAsync($"/api/v1/jobs?tenant_id={tenant}&limit=2"))["next_cursor"]!;

        // A user key sees only its own tenant with a cursor too: another tenant's cursor only sets a position.
        using var caller = Api.CreateAuthenticatedClient();
        var callerPage = await caller.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?limit=5&cursor={valid}", Ct);
        Assert.DoesNotContain(callerPage!["jobs"]!.AsArray(), j => ((string?)j!["user_id"])?.StartsWith("cursor-user", StringComparison.Ordinal) == true);

        foreach (var query in new[] { "cursor=not-a-cursor", "cursor=AAAA", $"cursor={valid}&sort=status", $"cursor={valid}&offset=4", "cursor=" + new string('A', 300) })
        {
            using var response = await Admin.GetAsync($"/api/v1/jobs?{query}", Ct);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var problem = await response.Content.ReadFromJsonAsync<JsonObject>(Ct);
            Assert.NotNull(problem!["errors"]!["cursor"]);
        }
    }

    private async Task<JsonObject> GetAsync(string path) => (await Admin.GetFromJsonAsync<JsonObject>(path, Ct))!;

    private Task InsertAsync(string tenant, string series, string createdAt) => TestSql.ExecuteAsync(Postgres, $"""
        INSERT INTO llm_workflow_jobs (celery_task_id, workflow_name, user_id, status, input_data, completed_at, tenant_id, created_at)
        SELECT gen_random_uuid()::text, 'hello_transform', 'cursor-user-' || i, 'completed', jsonb_build_object(), now(), @tenant, {createdAt}
          FROM {series}
        """, Ct, ("tenant", tenant));
}
