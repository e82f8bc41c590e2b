using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// API keys managed through the admin routes (configured keys stay in configuration). Only a SHA-256 digest of the
/// secret is stored, looked up through its unique index; <c>prefix</c> is the non-secret start of the key shown for
/// identification. A rotated key points at its successor (<c>rotated_to</c>) and stays valid until <c>expires_at</c>.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261122170000_ApiKeys")]
internal sealed class ApiKeys : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE llm_api_keys (
                id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
                tenant_id VARCHAR(100) NOT NULL,
                name VARCHAR(100) NOT NULL,
                role VARCHAR(20) NOT NULL CHECK (role IN ('caller', 'admin')),
                user_id VARCHAR(255),
                prefix VARCHAR(20) NOT NULL,
                secret_hash BYTEA NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                expires_at TIMESTAMPTZ,
                revoked_at TIMESTAMPTZ,
                last_used_at TIMESTAMPTZ,
                rotated_to UUID REFERENCES llm_api_keys(id)
            );
            CREATE UNIQUE INDEX idx_api_keys_secret_hash ON llm_api_keys(secret_hash);
            CREATE INDEX idx_api_keys_tenant ON llm_api_keys(tenant_id, created_at);
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("DROP TABLE IF EXISTS llm_api_keys;");
    }
}
