using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Llm;

/// <summary>SHA-256 (lower-case hex) of the rendered messages, roles included: the identity of a prompt.</summary>
public static class PromptHasher
{
    public static string Hash(IEnumerable<ChatMessage> messages)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var message in messages)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(message.Role.Value));
            hash.AppendData("\n"u8);
            hash.AppendData(Encoding.UTF8.GetBytes(message.Text));
            // Record separator: "ab"+"c" and "a"+"bc" must not collide.
            hash.AppendData("\u001e"u8);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
