namespace LlmWorkflow.Pipeline.Redis;

/// <summary>
/// One command of a pipeline. Arguments may be <see cref="string"/> (UTF-8), <see cref="byte"/>[],
/// <see cref="ReadOnlyMemory{T}"/> of bytes, <see cref="int"/>, <see cref="long"/> or <see cref="double"/>
/// (written with the invariant culture). Anything else, <see cref="TimeSpan"/> included, is rejected so that
/// units are always explicit at the call site.
/// </summary>
public readonly record struct RedisCommand(string Name, IReadOnlyList<object> Args);
