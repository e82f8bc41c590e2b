using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace LlmWorkflow.Pipeline.Redis;

/// <summary>
/// Parses RESP2 replies from buffered bytes. A reply that is not complete yet is reported as such without
/// consuming anything, so the caller can wait for more bytes and parse again from the same position.
/// </summary>
internal static class RespReader
{
    private const int MaxDepth = 64;
    private const long MaxLength = 512L * 1024 * 1024; // Redis's own proto-max-bulk-len default

    /// <summary>Reads one whole reply; false (reader left where it was) when more bytes are needed.</summary>
    public static bool TryRead(ref SequenceReader<byte> reader, out RedisValue value)
    {
        var start = reader.Consumed;
        if (TryReadValue(ref reader, 0, out value))
        {
            return true;
        }
        reader.Rewind(reader.Consumed - start);
        return false;
    }

    private static bool TryReadValue(ref SequenceReader<byte> reader, int depth, out RedisValue value)
    {
        value = default;
        if (!reader.TryRead(out var prefix) || !TryReadLine(ref reader, out var line))
        {
            return false;
        }
        switch (prefix)
        {
            case (byte)'+':
                value = RedisValue.SimpleString(Encoding.UTF8.GetString(line));
                return true;
            case (byte)'-':
                value = RedisValue.Error(Encoding.UTF8.GetString(line));
                return true;
            case (byte)':':
                value = RedisValue.Integer(ParseInteger(line));
                return true;
            case (byte)'$':
                return TryReadBulk(ref reader, ParseLength(line), out value);
            case (byte)'*':
                return TryReadArray(ref reader, ParseLength(line), depth, out value);
            default:
                throw new RedisConnectionException($"Protocol error: unexpected reply type byte 0x{prefix:X2}.");
        }
    }

    private static bool TryReadBulk(ref SequenceReader<byte> reader, long length, out RedisValue value)
    {
        value = RedisValue.Null;
        if (length < 0)
        {
            return true;
        }
        if (reader.Remaining < length + 2)
        {
            return false;
        }
        var bytes = new byte[length];
        reader.TryCopyTo(bytes);
        reader.Advance(length);
        if (!reader.IsNext("\r\n"u8, advancePast: true))
        {
            throw new RedisConnectionException("Protocol error: bulk string not terminated by CRLF.");
        }
        value = RedisValue.BulkString(bytes);
        return true;
    }

    private static bool TryReadArray(ref SequenceReader<byte> reader, long count, int depth, out RedisValue value)
    {
        value = RedisValue.Null;
        if (count < 0)
        {
            return true;
        }
        if (depth >= MaxDepth)
        {
            throw new RedisConnectionException("Protocol error: arrays nested too deeply.");
        }
        // Each item takes at least 3 bytes, so an absurd count cannot make us allocate before the bytes exist.
        if (reader.Remaining < count * 3)
        {
            return false;
        }
        var items = new RedisValue[count];
        for (var i = 0; i < items.Length; i++)
        {
            if (!TryReadValue(ref reader, depth + 1, out items[i]))
            {
                return false;
            }
        }
        value = RedisValue.Array(items);
        return true;
    }

    private static bool TryReadLine(ref SequenceReader<byte> reader, out ReadOnlySpan<byte> line)
    {
        if (!reader.TryReadTo(out ReadOnlySequence<byte> sequence, "\r\n"u8))
        {
            line = default;
            return false;
        }
        line = sequence.IsSingleSegment ? sequence.FirstSpan : sequence.ToArray();
        return true;
    }

    private static long ParseLength(ReadOnlySpan<byte> line)
    {
        var length = ParseInteger(line);
        return length <= MaxLength ? length : throw new RedisConnectionException($"Protocol error: length {length} is too large.");
    }

    private static long ParseInteger(ReadOnlySpan<byte> line) =>
        Utf8Parser.TryParse(line, out long value, out var used) && used == line.Length
            ? value
            : throw new RedisConnectionException($"Protocol error: '{Encoding.UTF8.GetString(line)}' is not an integer.");
}
