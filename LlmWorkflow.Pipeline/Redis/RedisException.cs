namespace LlmWorkflow.Pipeline.Redis;

/// <summary>Base of every error raised by the Redis client.</summary>
public class RedisException : Exception
{
    public RedisException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>The server answered with an error reply; the message is the server's text (e.g. <c>BUSYGROUP ...</c>).</summary>
internal sealed class RedisServerException : RedisException
{
    public RedisServerException(string message) : base(message) { }

    /// <summary>The error code: the first word of the server's message, such as <c>NOSCRIPT</c> or <c>WRONGTYPE</c>.</summary>
    public string Code => Message.Split(' ', 2)[0];
}

/// <summary>The connection could not be opened, or dropped while the command was in flight. Safe to retry.</summary>
public sealed class RedisConnectionException : RedisException
{
    public RedisConnectionException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>No reply arrived within the command timeout (or the block time plus that margin).</summary>
public sealed class RedisTimeoutException : RedisException
{
    public RedisTimeoutException(string message) : base(message) { }
}
