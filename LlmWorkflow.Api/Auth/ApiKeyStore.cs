using LlmWorkflow.Storage.Jobs;
using Npgsql;

namespace LlmWorkflow.Api.Auth;

/// <summary>SQL over <c>llm_api_keys</c>. Secrets never pass through here: only their digests.</summary>
public sealed class ApiKeyStore(NpgsqlDataSource dataSource)
{
    private const string Columns =
        "id, tenant_id, name, role, user_id, prefix, secret_hash, created_at, expires_at, revoked_at, last_used_at, rotated_to";

    // $1 secret digest.
    private const string FindByDigestSql = $"SELECT {Columns} FROM llm_api_keys WHERE secret_hash = $1";

    // $1 id.
    private const string GetSql = $"SELECT {Columns} FROM llm_api_keys WHERE id = $1";

    // $1 tenant (NULL: every tenant).
    private const string ListSql = $"SELECT {Columns} FROM llm_api_keys WHERE ($1::text IS NULL OR tenant_id = $1) ORDER BY created_at DESC, id";

    // $1 id.
    private const string LockSql = $"SELECT {Columns} FROM llm_api_keys WHERE id = $1 FOR UPDATE";

    // $1 id, $2 successor id, $3 the old key's new expiry.
    private const string MarkRotatedSql = $"""
        UPDATE llm_api_keys SET rotated_to = $2, expires_at = LEAST(COALESCE(expires_at, 'infinity'), $3)
        WHERE id = $1 RETURNING {Columns}
        """;

    // $1 id, $2 now.
    private const string RevokeSql = $"UPDATE llm_api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING {Columns}";

    // $1 ids, $2 times (one per id).
    private const string RecordUseSql = """
        UPDATE llm_api_keys k SET last_used_at = GREATEST(k.last_used_at, u.at)
        FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at) WHERE k.id = u.id
        """;

    // $1 tenant, $2 name, $3 role, $4 user, $5 prefix, $6 secret digest, $7 created at, $8 expires at.
    private const string InsertSql = $"""
        INSERT INTO llm_api_keys (tenant_id, name, role, user_id, prefix, secret_hash, created_at, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {Columns}
        """;

    public async Task<StoredApiKey> InsertAsync(StoredApiKey key, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await InsertAsync(connection, null, key, cancellationToken);
    }

    public async Task<StoredApiKey?> FindByDigestAsync(byte[] digest, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(FindByDigestSql);
        command.Parameters.Add(new NpgsqlParameter { Value = digest });
        return await ReadOneAsync(command, cancellationToken);
    }

    public async Task<StoredApiKey?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(GetSql);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        return await ReadOneAsync(command, cancellationToken);
    }

    /// <summary>Every key (revoked and expired ones too), newest first, optionally of one tenant.</summary>
    public async Task<IReadOnlyList<StoredApiKey>> ListAsync(string? tenantId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ListSql);
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = tenantId, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<StoredApiKey>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(Read(reader));
        }

        return keys;
    }

    /// <summary>
    /// Stores <paramref name="successor"/> and makes the key <paramref name="id"/> expire at <paramref name="oldExpiresAt"/>
    /// (or its own earlier expiry), in one transaction with the old row locked, so two rotations cannot both succeed.
    /// </summary>
    public async Task<(RotateOutcome Outcome, StoredApiKey? Old, StoredApiKey? New)> RotateAsync(
        Guid id, StoredApiKey successor, DateTimeOffset now, DateTimeOffset oldExpiresAt, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        StoredApiKey? old;
        await using (var select = new NpgsqlCommand(LockSql, connection, transaction))
        {
            select.Parameters.Add(new NpgsqlParameter { Value = id });
            old = await ReadOneAsync(select, cancellationToken);
        }

        if (old is null)
        {
            return (RotateOutcome.NotFound, null, null);
        }

        if (!old.ValidAt(now) || old.RotatedTo is not null)
        {
            return (RotateOutcome.NotActive, old, null);
        }

        var created = await InsertAsync(connection, transaction, successor with
        {
            TenantId = old.TenantId, Name = old.Name, Role = old.Role, UserId = old.UserId,
        }, cancellationToken);
        await using (var update = new NpgsqlCommand(MarkRotatedSql, connection, transaction))
        {
            update.Parameters.Add(new NpgsqlParameter { Value = id });
            update.Parameters.Add(new NpgsqlParameter { Value = created.Id });
            update.Parameters.Add(new NpgsqlParameter { Value = oldExpiresAt });
            old = await ReadOneAsync(update, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return (RotateOutcome.Rotated, old, created);
    }

    /// <summary>Sets revoked_at (once: revoking again keeps the first time); null for an unknown id.</summary>
    public async Task<StoredApiKey?> RevokeAsync(Guid id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(RevokeSql);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        return await ReadOneAsync(command, cancellationToken);
    }

    /// <summary>One statement for many keys' last use; a time never moves backwards.</summary>
    public async Task RecordUseAsync(Guid[] ids, DateTimeOffset[] times, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(RecordUseSql);
        command.Parameters.Add(new NpgsqlParameter { Value = ids });
        command.Parameters.Add(new NpgsqlParameter { Value = times });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<StoredApiKey> InsertAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, StoredApiKey key, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(InsertSql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = key.TenantId });
        command.Parameters.Add(new NpgsqlParameter { Value = key.Name });
        command.Parameters.Add(new NpgsqlParameter { Value = key.Role });
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = key.UserId, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Varchar });
        command.Parameters.Add(new NpgsqlParameter { Value = key.Prefix });
        command.Parameters.Add(new NpgsqlParameter { Value = key.SecretHash });
        command.Parameters.Add(new NpgsqlParameter { Value = key.CreatedAt });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?> { TypedValue = key.ExpiresAt, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        return await ReadOneAsync(command, cancellationToken) ?? throw new InvalidOperationException("INSERT ... RETURNING returned no row.");
    }

    private static async Task<StoredApiKey?> ReadOneAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private static StoredApiKey Read(NpgsqlDataReader reader) => new(
        reader.Field<Guid>("id"), reader.Field<string>("tenant_id"), reader.Field<string>("name"), reader.Field<string>("role"),
        reader.FieldOrNull<string>("user_id"), reader.Field<string>("prefix"), reader.Field<byte[]>("secret_hash"),
        reader.Field<DateTimeOffset>("created_at"), reader.FieldOrNull<DateTimeOffset?>("expires_at"),
        reader.FieldOrNull<DateTimeOffset?>("revoked_at"), reader.FieldOrNull<DateTimeOffset?>("last_used_at"),
        reader.FieldOrNull<Guid?>("rotated_to"));
}

public enum RotateOutcome
{
    Rotated,
    NotFound,

    /// <summary>Revoked, expired, or already rotated (rotate its successor instead).</summary>
    NotActive,
}
