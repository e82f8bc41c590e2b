using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// The usage rollup advances by the hour instead of by the day (<c>UsageRollup</c>): <c>rolled_until</c> becomes an
/// instant, so the report's raw tail is an hour or two of calls (maintenance runs hourly) instead of everything since midnight.
/// The open day's rollup rows hold its rolled hours; a day stays one row per key.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261123110000_HourlyUsageRollup")]
internal sealed class HourlyUsageRollup : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_usage_rollup_state
                ALTER COLUMN rolled_until TYPE TIMESTAMPTZ USING rolled_until::timestamp AT TIME ZONE 'UTC';
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        // A DATE cannot say how much of a day is in the rollup: empty it, and the day-by-day rollup rebuilds it.
        migrationBuilder.Sql("""
            TRUNCATE llm_usage_daily, llm_usage_user_daily, llm_usage_user_monthly, llm_usage_rollup_state;
            ALTER TABLE llm_usage_rollup_state
                ALTER COLUMN rolled_until TYPE DATE USING (rolled_until AT TIME ZONE 'UTC')::date;
            """);
    }
}
