using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// A write that many jobs make one row at a time (a finish, a step row, a usage row), as one statement over arrays:
/// the worker's write batcher sends the rows of one kind in a batch as ONE statement (PostgreSQL parses,
/// plans and starts it once, not once per job). The statement reads its rows from <c>unnest($1, …, $n, $n+1)</c>:
/// one array per column, in <see cref="Columns"/> order, then the rows' positions (<c>ord</c>, int), and returns the
/// <c>ord</c> of every row it wrote, so each caller learns whether its own row was written (its guard held).
/// </summary>
/// <param name="name">Names the statement in logs.</param>
/// <param name="sql">The statement; it must return one int column, the <c>ord</c> of each written row, and nothing else.</param>
/// <param name="columns">Each column's element type (the array parameter is that type's array).</param>
/// <remarks>A class, not a record: the batcher groups rows by the statement instance.</remarks>
public sealed class MultiRowStatement(string name, string sql, IReadOnlyList<MultiRowColumn> columns)
{
    public string Name { get; } = name;

    public string Sql { get; } = sql;

    public IReadOnlyList<MultiRowColumn> Columns { get; } = columns;

    /// <summary>
    /// One row of this statement. <paramref name="key"/> identifies what the row writes (a job, a step row): two rows
    /// with the same key never share one statement (PostgreSQL refuses to update a row twice in one command, and a
    /// finish must not race itself); null when rows may repeat (an <c>ON CONFLICT DO NOTHING</c> insert).
    /// </summary>
    public WriteStatement Row(object? key, params object?[] values)
    {
        if (values.Length != Columns.Count)
        {
            throw new ArgumentException($"{Name} has {Columns.Count} columns, got {values.Length} values.", nameof(values));
        }

        return new WriteStatement(Sql, [], this, key, values);
    }

    /// <summary>The array parameters for <paramref name="rows"/> (values of row <c>i</c> at position <c>ords[i]</c>).</summary>
    public IEnumerable<NpgsqlParameter> Parameters(IReadOnlyList<WriteStatement> rows, IReadOnlyList<int> ords)
    {
        for (var c = 0; c < Columns.Count; c++)
        {
            var column = Columns[c];
            var array = Array.CreateInstance(column.ElementType, rows.Count);
            for (var r = 0; r < rows.Count; r++)
            {
                array.SetValue(rows[r].Values![c] is DBNull ? null : rows[r].Values![c], r);
            }

            yield return new NpgsqlParameter { NpgsqlDbType = column.Type | NpgsqlDbType.Array, Value = array };
        }

        yield return new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer | NpgsqlDbType.Array, Value = ords.ToArray() };
    }
}

/// <summary>A column of a <see cref="MultiRowStatement"/>: the PostgreSQL type and the CLR type of its values (nullable where NULL is allowed).</summary>
public sealed record MultiRowColumn(NpgsqlDbType Type, Type ElementType)
{
    public static MultiRowColumn Of<T>(NpgsqlDbType type) => new(type, typeof(T));
}

/// <summary>
/// One SQL statement with its positional parameters (it must return no rows), or one row of a
/// <see cref="MultiRowStatement"/> (<see cref="Rows"/>, with the row's <see cref="Values"/>; made by
/// <see cref="MultiRowStatement.Row"/>), which the worker's write batcher sends together with the other rows of its kind.
/// </summary>
public sealed record WriteStatement(
    string Sql, IReadOnlyList<NpgsqlParameter> Parameters, MultiRowStatement? Rows = null, object? Key = null, object?[]? Values = null);
