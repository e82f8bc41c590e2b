using Npgsql;

namespace LlmWorkflow.Storage.Persistence;

/// <summary>
/// A retention delete in short statements, so no single one holds its locks or its WAL for long: runs a statement
/// taking <c>$1</c> (rows before this time go) and <c>$2</c> (at most this many) until a batch comes back short.
/// </summary>
public static class BatchedDelete
{
    /// <summary>Runs <paramref name="sql"/> until fewer than <paramref name="batchSize"/> rows go; returns how many went.</summary>
    public static async Task<int> RunAsync(NpgsqlDataSource dataSource, string sql, DateTimeOffset before, int batchSize, CancellationToken cancellationToken)
    {
        var total = 0;
        int deleted;
        do
        {
            await using var command = dataSource.CreateCommand(sql);
            command.Parameters.Add(new NpgsqlParameter { Value = before });
            command.Parameters.Add(new NpgsqlParameter { Value = batchSize });
            deleted = await command.ExecuteNonQueryAsync(cancellationToken);
            total += deleted;
        }
        while (deleted == batchSize);

        return total;
    }
}
