using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// The retention run deletes schedule ticks recorded for times before <c>Maintenance:Retention</c> (an every-second
/// schedule records 604,800 a week); this index lets it find them without reading the whole table. Expand-only.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261127230000_ScheduleTickRetention")]
internal sealed class ScheduleTickRetention : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("CREATE INDEX IF NOT EXISTS idx_schedule_ticks_tick_at ON llm_schedule_ticks(tick_at);");
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("DROP INDEX IF EXISTS idx_schedule_ticks_tick_at;");
    }
}
