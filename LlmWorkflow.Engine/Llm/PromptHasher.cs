using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Llm;

/// <summary>SHA-256 (lower-case hex) of the rendered messages, roles included: the identity of a prompt.</summary>
public static class PromptHasher
{
    private static ReadOnlySpan<byte> RoleEnd => "\n"u8;

    // Record separator: "ab"+"c" and "a"+"bc" must not collide.
    private static ReadOnlySpan<byte> MessageEnd => "\u001e"u8;

    public static string Hash(IEnumerable<ChatMessage> messages)
    {
        // The messages as one UTF-8 buffer from the pool, hashed in one call: no byte array per message and no hash
        // object per prompt (it is computed for every LLM call).
        var length = 0;
        foreach (var message in messages)
        {
            // Exact counts, not the maximum (three bytes a char): a long prompt rents no more than it needs from the pool.
            length += Encoding.UTF8.GetByteCount(message.Role.Value) + Encoding.UTF8.GetByteCount(message.Text) + RoleEnd.Length + MessageEnd.Length;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var written = 0;
            foreach (var message in messages)
            {
                written += Encoding.UTF8.GetBytes(message.Role.Value, buffer.AsSpan(written));
                RoleEnd.CopyTo(buffer.AsSpan(written));
                written += RoleEnd.Length;
                written += Encoding.UTF8.GetBytes(message.Text, buffer.AsSpan(written));
                MessageEnd.CopyTo(buffer.AsSpan(written));
                written += MessageEnd.Length;
            }

            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(buffer.AsSpan(0, written), digest);
            return Convert.ToHexStringLower(digest);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
