namespace LlmWorkflow.Pipeline.Redis;

/// <summary>The RESP2 type of a reply. Null bulk strings and null arrays are both <see cref="Null"/>.</summary>
public enum RedisValueKind
{
    Null,
    SimpleString,
    Error,
    Integer,
    BulkString,
    Array,
}
