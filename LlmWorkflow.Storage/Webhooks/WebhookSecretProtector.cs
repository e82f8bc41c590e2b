using Microsoft.AspNetCore.DataProtection;

namespace LlmWorkflow.Storage.Webhooks;

/// <summary>
/// Encrypts per-job webhook secrets for storage (ASP.NET Core Data Protection, keys shared by API and Worker
/// through <see cref="PostgresXmlRepository"/>). Stored values carry the <see cref="Prefix"/>; a value without it
/// was written before secrets were encrypted and is used as the clear text it is.
/// </summary>
public sealed class WebhookSecretProtector(IDataProtectionProvider provider)
{
    /// <summary>The one application name of API and Worker: payloads are only readable under the same name.</summary>
    public const string ApplicationName = "LlmWorkflow";

    public const string Prefix = "dp1:";

    private readonly IDataProtector protector = provider.CreateProtector("LlmWorkflow.Webhooks.JobSecret.v1");

    public string? Protect(string? secret) =>
        string.IsNullOrEmpty(secret) ? secret : Prefix + protector.Protect(secret);

    public string? Unprotect(string? stored) =>
        stored is not null && stored.StartsWith(Prefix, StringComparison.Ordinal)
            ? protector.Unprotect(stored[Prefix.Length..])
            : stored;
}
