using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Templates;
using LlmWorkflow.Storage.Jobs;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Storage.Versions;

/// <summary>
/// The workflow versions jobs are pinned to. The catalog's current version of a workflow is hashed once per loaded
/// definition (the catalog builds new definition objects when it reloads) and stored once per process
/// (<c>INSERT … ON CONFLICT DO NOTHING</c>); a job's version is the catalog's when the hashes match, else its stored
/// snapshot, read once and cached by hash: content-addressed, so a cached version never goes stale.
/// </summary>
public sealed class WorkflowVersions(NpgsqlDataSource dataSource, WorkflowCatalog catalog, PromptLibrary prompts, IPriceTable prices, TimeProvider time)
{
    // $1 hash.
    private const string FindSql = "SELECT definition, prompts, prices FROM llm_workflow_versions WHERE hash = $1";

    // A job names its version in definition_digest (bytes) or, written by a build before 20261129085000, in
    // definition_hash (hex). Finished jobs with a digest and jobs with a hex hash are read through idx_workflow_jobs_versions
    // (one entry a job: the finish's row version), unfinished jobs through idx_workflow_jobs_status_created_at.
    // $1 workflow name, $2 tenant (NULL: every tenant), $3 user (NULL: any user).
    private const string UsageSql = """
        WITH j AS (
            SELECT encode(definition_digest, 'hex') AS hash, created_at, tenant_id, user_id FROM llm_workflow_jobs
             WHERE workflow_name = $1 AND definition_digest IS NOT NULL AND status IN ('completed', 'failed', 'cancelled')
            UNION ALL
            SELECT encode(definition_digest, 'hex'), created_at, tenant_id, user_id FROM llm_workflow_jobs
             WHERE workflow_name = $1 AND definition_digest IS NOT NULL
               AND status IN ('pending', 'queued', 'processing', 'scheduled', 'waiting')
            UNION ALL
            SELECT definition_hash, created_at, tenant_id, user_id FROM llm_workflow_jobs
             WHERE workflow_name = $1 AND definition_hash IS NOT NULL
        )
        SELECT j.hash, v.first_seen_at, count(*) AS jobs, min(j.created_at) AS first_used, max(j.created_at) AS last_used
          FROM j LEFT JOIN llm_workflow_versions v ON v.hash = j.hash
         WHERE ($2::text IS NULL OR j.tenant_id = $2) AND ($3::text IS NULL OR j.user_id = $3)
         GROUP BY j.hash, v.first_seen_at
         ORDER BY max(j.created_at) DESC
        """;

    // $1 hash, $2 workflow name, $3 definition, $4 prompts, $5 prices (jsonb), $6 first seen at.
    private const string InsertSql = """
        INSERT INTO llm_workflow_versions (hash, workflow_name, definition, prompts, prices, first_seen_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (hash) DO NOTHING
        """;

    private readonly ConditionalWeakTable<WorkflowDefinition, WorkflowVersion> _current = new();
    private readonly ConcurrentDictionary<string, WorkflowVersion> _byHash = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task>> _stored = new(StringComparer.Ordinal);

    /// <summary>The prompts folder a version's prompt paths are relative to.</summary>
    public string PromptsRoot => prompts.PromptsRoot;

    /// <summary>The prices a pinned version's calls are billed at: its snapshot's rows, today's for models it does not name.</summary>
    public IPriceTable PricesOf(WorkflowVersion version) => version.PriceTable(prices);

    /// <summary>The version of a loaded definition (hashed on first use, then cached with the definition).</summary>
    public WorkflowVersion Current(WorkflowDefinition workflow) => _current.GetValue(workflow, definition =>
    {
        var version = WorkflowVersion.Of(definition, prompts, prices);
        _byHash.TryAdd(version.Hash, version);
        return version;
    });

    /// <summary>The catalog's current version of <paramref name="workflowName"/>, or null when the catalog has no such workflow.</summary>
    public WorkflowVersion? Current(string workflowName) => catalog.TryGet(workflowName, out var workflow) ? Current(workflow) : null;

    /// <summary>A copy of <paramref name="version"/> changed by <paramref name="change"/>, as a version of its own (not stored yet).</summary>
    public WorkflowVersion Derive(WorkflowVersion version, Action<JsonObject> change)
    {
        var derived = version.With(change, prompts, prices);
        return _byHash.GetOrAdd(derived.Hash, derived);
    }

    /// <summary>Stores the version's row unless this process already did (one INSERT per version per process).</summary>
    public async Task EnsureStoredAsync(WorkflowVersion version, CancellationToken cancellationToken)
    {
        var store = _stored.GetOrAdd(version.Hash, _ => new Lazy<Task>(() => InsertAsync(version)));
        try
        {
            await store.Value.WaitAsync(cancellationToken);
        }
        catch (Exception) when (store.Value.IsFaulted || store.Value.IsCanceled)
        {
            // The next submission tries again.
            _stored.TryRemove(KeyValuePair.Create(version.Hash, store));
            throw;
        }
    }

    /// <summary>The version a job with <paramref name="hash"/> runs: the catalog's when it is the same, else the stored one; null when neither has it.</summary>
    public async Task<WorkflowVersion?> FindAsync(string workflowName, string hash, CancellationToken cancellationToken)
    {
        if (Current(workflowName) is { } current && current.Hash == hash)
        {
            return current;
        }

        if (_byHash.TryGetValue(hash, out var cached))
        {
            return cached;
        }

        await using var command = dataSource.CreateCommand(FindSql);
        command.Parameters.Add(new NpgsqlParameter { Value = hash });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var version = WorkflowVersion.FromStored(hash,
            JsonNode.Parse(reader.Field<string>("definition"))!.AsObject(),
            JsonNode.Parse(reader.Field<string>("prompts"))!.AsObject(),
            JsonNode.Parse(reader.Field<string>("prices"))!.AsObject());
        _stored.TryAdd(hash, new Lazy<Task>(Task.CompletedTask));
        return _byHash.GetOrAdd(hash, version);
    }

    /// <summary>
    /// The versions of <paramref name="workflowName"/> that jobs ran, newest use first, with how many jobs of
    /// <paramref name="tenantId"/> (null: every tenant), narrowed to <paramref name="userId"/>'s when given, ran each and
    /// when they were first and last submitted.
    /// </summary>
    public async Task<IReadOnlyList<WorkflowVersionUsage>> UsageAsync(string workflowName, string? tenantId, string? userId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(UsageSql);
        command.Parameters.Add(new NpgsqlParameter { Value = workflowName });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)tenantId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)userId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var usage = new List<WorkflowVersionUsage>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            usage.Add(new WorkflowVersionUsage(reader.Field<string>("hash"), reader.FieldOrNull<DateTimeOffset?>("first_seen_at"),
                reader.Field<long>("jobs"), reader.Field<DateTimeOffset>("first_used"), reader.Field<DateTimeOffset>("last_used")));
        }

        return usage;
    }

    private async Task InsertAsync(WorkflowVersion version)
    {
        await using var command = dataSource.CreateCommand(InsertSql);
        command.Parameters.Add(new NpgsqlParameter { Value = version.Hash });
        command.Parameters.Add(new NpgsqlParameter { Value = version.WorkflowName });
        command.Parameters.Add(new NpgsqlParameter { Value = version.DefinitionJson.ToJsonString(), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = version.Prompts.ToJsonString(), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = version.Prices.ToJsonString(), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow() });
        await command.ExecuteNonQueryAsync(CancellationToken.None);
    }
}

/// <summary>How a tenant's jobs used one version of a workflow.</summary>
public sealed record WorkflowVersionUsage(string Hash, DateTimeOffset? FirstSeenAt, long JobCount, DateTimeOffset? FirstUsedAt, DateTimeOffset? LastUsedAt);
