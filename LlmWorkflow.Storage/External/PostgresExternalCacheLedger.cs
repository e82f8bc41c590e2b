using LlmWorkflow.Engine.External;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Storage.External;

/// <summary>
/// Keeps <c>external_api_cache</c> (the documents' migration 002) filled: one row per live cache entry with its
/// service, operation, answer, lifetime and hits, so document 001's cache statistics query answers. Entries past their
/// <c>expires_at</c> are removed when a new one is stored. A database failure is logged and ignored: the cache lives in
/// Redis, this table only describes it.
/// </summary>
internal sealed partial class PostgresExternalCacheLedger(NpgsqlDataSource dataSource, ILogger<PostgresExternalCacheLedger> logger) : IExternalCacheLedger
{
    // $1 cache key, $2 service, $3 operation, $4 answer (JSON text), $5 lifetime (interval).
    private const string StoreSql = """
        INSERT INTO external_api_cache (cache_key, service, operation, response_data, hit_count, created_at, expires_at)
        VALUES ($1, $2, $3, $4::jsonb, 0, now(), now() + $5)
        ON CONFLICT (cache_key) DO UPDATE
           SET response_data = excluded.response_data, created_at = excluded.created_at, expires_at = excluded.expires_at, hit_count = 0
        """;

    // No parameters.
    private const string ExpireSql = "DELETE FROM external_api_cache WHERE expires_at < now()";

    // $1 cache key.
    private const string HitSql = "UPDATE external_api_cache SET hit_count = hit_count + 1 WHERE cache_key = $1";

    public async ValueTask StoredAsync(string service, string operation, string key, string answerJson, TimeSpan ttl, CancellationToken cancellationToken)
    {
        try
        {
            await using var batch = dataSource.CreateBatch();
            batch.BatchCommands.Add(new NpgsqlBatchCommand(ExpireSql));
            batch.BatchCommands.Add(new NpgsqlBatchCommand(StoreSql)
            {
                Parameters =
                {
                    new NpgsqlParameter { Value = key },
                    new NpgsqlParameter { Value = service },
                    new NpgsqlParameter { Value = operation },
                    new NpgsqlParameter { Value = answerJson, NpgsqlDbType = NpgsqlDbType.Text },
                    new NpgsqlParameter { Value = ttl },
                },
            });
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Exception failure) when (failure is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            LogNotRecorded(key, failure.Message);
        }
    }

    public async ValueTask HitAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await using var command = dataSource.CreateCommand(HitSql);
            command.Parameters.Add(new NpgsqlParameter { Value = key });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Exception failure) when (failure is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            LogNotRecorded(key, failure.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "external_api_cache not updated for {Key}: {Reason}")]
    private partial void LogNotRecorded(string key, string reason);
}
