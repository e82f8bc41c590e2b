using Npgsql;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>Settings a pipeline transaction sets for itself (<c>SET LOCAL</c>: they end with it, on any pooled connection).</summary>
public static class TransactionSettings
{
    /// <summary>
    /// No JIT compilation for the transaction's statements. PostgreSQL compiles a statement whose estimated cost passes
    /// <c>jit_above_cost</c>; the statements that join the usage rollup (retention's batches, a job delete, the usage
    /// report) are estimated in the millions for index probes that run in milliseconds, so at 10 M jobs each execution
    /// paid up to 1.75 s of LLVM compilation: a one-job delete took 1.9 s instead of 10 ms.
    /// </summary>
    public const string NoJit = "SET LOCAL jit = off";

    /// <summary>Index probes only: no hash or merge joins for the transaction's statements (retention's batches).</summary>
    public static readonly string[] NoHashOrMergeJoins = ["SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off"];

    /// <summary>
    /// The transaction's settings (<paramref name="settings"/>, one <c>SET LOCAL</c> statement each) and then its
    /// statement with positional parameters, in one round trip: the settings are in force when the statement is
    /// planned. A reader of the batch starts at the statement's rows (the settings return none).
    /// </summary>
    public static NpgsqlBatch Batch(NpgsqlConnection connection, NpgsqlTransaction transaction, string[] settings, string sql, params object[] parameters)
    {
        var batch = new NpgsqlBatch(connection, transaction);
        foreach (var setting in settings)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(setting));
        }

        var statement = new NpgsqlBatchCommand(sql);
        foreach (var value in parameters)
        {
            statement.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        batch.BatchCommands.Add(statement);
        return batch;
    }
}
