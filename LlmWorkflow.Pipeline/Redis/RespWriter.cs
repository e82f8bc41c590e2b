using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace LlmWorkflow.Pipeline.Redis;

/// <summary>Writes commands as RESP arrays of bulk strings straight into a (pooled) buffer writer.</summary>
internal static class RespWriter
{
    /// <summary>Throws for argument types the writer cannot encode, before any byte reaches the connection.</summary>
    public static void Validate(RedisCommand command)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command.Name);
        ArgumentNullException.ThrowIfNull(command.Args);
        foreach (var arg in command.Args)
        {
            if (arg is not (string or byte[] or ReadOnlyMemory<byte> or int or long or double))
            {
                throw new ArgumentException(
                    $"Redis argument of type {arg?.GetType().Name ?? "null"} is not supported (use string, bytes, int, long or double).",
                    nameof(command));
            }
        }
    }

    public static void Write(IBufferWriter<byte> output, RedisCommand command)
    {
        // "XINFO GROUPS" style names are written as two words so callers can name subcommands naturally.
        var words = command.Name.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        WriteHeader(output, '*', words.Length + command.Args.Count);
        foreach (var word in words)
        {
            WriteBulk(output, word);
        }
        foreach (var arg in command.Args)
        {
            switch (arg)
            {
                case string text: WriteBulk(output, text); break;
                case byte[] bytes: WriteBulk(output, bytes); break;
                case ReadOnlyMemory<byte> memory: WriteBulk(output, memory.Span); break;
                case int number: WriteNumber(output, number); break;
                case long number: WriteNumber(output, number); break;
                case double number: WriteBulk(output, number.ToString("R", CultureInfo.InvariantCulture)); break;
                default: throw new ArgumentException($"Unsupported Redis argument type {arg.GetType().Name}.", nameof(command));
            }
        }
    }

    private static void WriteBulk(IBufferWriter<byte> output, string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        WriteHeader(output, '$', length);
        var span = output.GetSpan(length + 2);
        Encoding.UTF8.GetBytes(text, span);
        "\r\n"u8.CopyTo(span[length..]);
        output.Advance(length + 2);
    }

    private static void WriteBulk(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        WriteHeader(output, '$', bytes.Length);
        var span = output.GetSpan(bytes.Length + 2);
        bytes.CopyTo(span);
        "\r\n"u8.CopyTo(span[bytes.Length..]);
        output.Advance(bytes.Length + 2);
    }

    private static void WriteNumber(IBufferWriter<byte> output, long number)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(number, digits, out var length);
        WriteBulk(output, digits[..length]);
    }

    private static void WriteHeader(IBufferWriter<byte> output, char prefix, long count)
    {
        var span = output.GetSpan(24);
        span[0] = (byte)prefix;
        Utf8Formatter.TryFormat(count, span[1..], out var length);
        "\r\n"u8.CopyTo(span[(1 + length)..]);
        output.Advance(length + 3);
    }
}
