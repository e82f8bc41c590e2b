namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// The one rule list for names that carry credentials, used wherever something is redacted: error details, the
/// http step's headers, query parameters in URLs and messages. A name matches on its lower-case form with
/// <c>_</c> and <c>-</c> removed: it contains secret, password, passwd, cookie, credential, signature or session;
/// it is or ends with auth (oauth) or contains authoriz/authentic (authorization, authentication); or it ends with
/// key or token (api_key, x-api-key, access_token, but not max_tokens or keyword).
/// </summary>
public static class SecretNames
{
    private static readonly string[] Contained = ["secret", "password", "passwd", "cookie", "credential", "signature", "session", "authoriz", "authentic"];
    private static readonly string[] Endings = ["key", "token", "auth"];

    public static bool IsSecret(string name)
    {
        var normalized = name.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();
        // Loops, not LINQ over lambdas that capture the name: this runs for every input field of every step.
        foreach (var fragment in Contained)
        {
            if (normalized.Contains(fragment, StringComparison.Ordinal))
            {
                return true;
            }
        }

        foreach (var ending in Endings)
        {
            if (normalized.EndsWith(ending, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
