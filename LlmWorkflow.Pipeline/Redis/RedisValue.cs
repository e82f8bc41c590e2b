using System.Globalization;
using System.Text;

namespace LlmWorkflow.Pipeline.Redis;

/// <summary>
/// One RESP2 reply: a simple string, an error, an integer, a bulk string (possibly null) or an array
/// (possibly null, possibly nested). Immutable and cheap to copy.
/// </summary>
public readonly struct RedisValue
{
    private readonly object? _payload; // string (simple/error), byte[] (bulk), RedisValue[] (array)
    private readonly long _integer;

    private RedisValue(RedisValueKind kind, object? payload, long integer = 0)
    {
        Kind = kind;
        _payload = payload;
        _integer = integer;
    }

    public static RedisValue Null => default;

    public RedisValueKind Kind { get; }

    public bool IsNull => Kind == RedisValueKind.Null;

    public bool IsError => Kind == RedisValueKind.Error;

    public static RedisValue SimpleString(string value) => new(RedisValueKind.SimpleString, value);

    public static RedisValue Error(string message) => new(RedisValueKind.Error, message);

    public static RedisValue Integer(long value) => new(RedisValueKind.Integer, null, value);

    public static RedisValue BulkString(byte[] value) => new(RedisValueKind.BulkString, value);

    public static RedisValue Array(RedisValue[] items) => new(RedisValueKind.Array, items);

    /// <summary>Text of a string, error or integer reply (bulk strings decoded as UTF-8); null for a null reply.</summary>
    public string? AsString() => Kind switch
    {
        RedisValueKind.Null => null,
        RedisValueKind.SimpleString or RedisValueKind.Error => (string)_payload!,
        RedisValueKind.BulkString => Encoding.UTF8.GetString((byte[])_payload!),
        RedisValueKind.Integer => _integer.ToString(CultureInfo.InvariantCulture),
        _ => throw new InvalidCastException($"A {Kind} reply is not a string."),
    };

    /// <summary>An integer reply, or a string reply holding an integer (as HGETALL and XINFO return some counts).</summary>
    public long AsInt64() => Kind switch
    {
        RedisValueKind.Integer => _integer,
        RedisValueKind.SimpleString or RedisValueKind.BulkString when long.TryParse(AsString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) => parsed,
        _ => throw new InvalidCastException($"A {Kind} reply '{this}' is not an integer."),
    };

    /// <summary>A number in an integer or string reply (Lua scripts return fractions as strings).</summary>
    public double AsDouble() => Kind == RedisValueKind.Integer
        ? _integer
        : double.TryParse(Kind is RedisValueKind.SimpleString or RedisValueKind.BulkString ? AsString() : null, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed)
            ? parsed
            : throw new InvalidCastException($"A {Kind} reply '{this}' is not a number.");

    /// <summary>Raw bytes of a string reply; null for a null reply.</summary>
    public byte[]? AsBytes() => Kind switch
    {
        RedisValueKind.Null => null,
        RedisValueKind.BulkString => (byte[])_payload!,
        RedisValueKind.SimpleString or RedisValueKind.Integer => Encoding.UTF8.GetBytes(AsString()!),
        _ => throw new InvalidCastException($"A {Kind} reply is not a byte string."),
    };

    /// <summary>Items of an array reply; empty for a null reply (Redis uses null arrays for "nothing").</summary>
    public IReadOnlyList<RedisValue> AsArray() => Kind switch
    {
        RedisValueKind.Array => (RedisValue[])_payload!,
        RedisValueKind.Null => [],
        _ => throw new InvalidCastException($"A {Kind} reply '{this}' is not an array."),
    };

    public override string ToString() => Kind switch
    {
        RedisValueKind.Null => "(nil)",
        RedisValueKind.Array => $"[{string.Join(", ", AsArray())}]",
        RedisValueKind.Error => $"(error) {AsString()}",
        _ => AsString()!,
    };
}
