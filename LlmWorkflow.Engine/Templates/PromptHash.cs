using System.Security.Cryptography;
using System.Text;

namespace LlmWorkflow.Engine.Templates;

/// <summary>SHA-256 of a prompt's text (UTF-8) as lower-case hex, for response caching and audit records.</summary>
public static class PromptHash
{
    public static string Compute(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
