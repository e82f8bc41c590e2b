using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// Idempotent answers (the IETF Idempotency-Key draft): a job or schedule created with an <c>Idempotency-Key</c> keeps
/// the SHA-256 of its request's canonical body (<c>idempotency_fingerprint</c>) and the answer it was given
/// (<c>idempotent_response</c>, <c>json</c> so its text is kept byte for byte), so a repeat gets that same answer and
/// the same key with another body gets 422. Expand-only: rows from before have neither and are answered from their
/// columns as before; older replicas never read them.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261127160000_IdempotentAnswers")]
internal sealed class IdempotentAnswers : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_workflow_jobs ADD COLUMN IF NOT EXISTS idempotency_fingerprint CHAR(64);
            ALTER TABLE llm_workflow_jobs ADD COLUMN IF NOT EXISTS idempotent_response JSON;
            ALTER TABLE llm_schedules ADD COLUMN IF NOT EXISTS idempotency_fingerprint CHAR(64);
            ALTER TABLE llm_schedules ADD COLUMN IF NOT EXISTS idempotent_response JSON;
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_schedules DROP COLUMN IF EXISTS idempotent_response;
            ALTER TABLE llm_schedules DROP COLUMN IF EXISTS idempotency_fingerprint;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS idempotent_response;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS idempotency_fingerprint;
            """);
    }
}
