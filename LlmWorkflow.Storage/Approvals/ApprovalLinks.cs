using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Storage.Approvals;

/// <summary>
/// Issues and reads decision links: a token is the Data Protection payload (authenticated encryption under the key ring
/// API and Worker share, <c>PostgresXmlRepository</c>) of the job id, the approval step's key, the expiry and the
/// wait's nonce. Holding one is the capability to decide that one wait, without an API key; the nonce makes it one
/// decision per wait (the decision's signal is idempotent on it), and a wait of a later park has another nonce.
/// </summary>
public sealed class ApprovalLinks(IDataProtectionProvider provider, TimeProvider time, IOptions<ApprovalOptions> options)
{
    /// <summary>The route of the decision page, before the token.</summary>
    public const string PathPrefix = "/approvals/";

    private readonly IDataProtector protector = provider.CreateProtector("LlmWorkflow.Approvals.DecisionLink.v1");

    /// <summary>The links of an approval wait, expiring at <paramref name="until"/> (capped by <see cref="ApprovalOptions.MaxLinkLifetime"/>).</summary>
    public DecisionLinks Issue(Guid jobId, string stepKey, string nonce, DateTimeOffset until, string? baseUrl = null)
    {
        var expires = Min(until, time.GetUtcNow() + options.Value.MaxLinkLifetime);
        var claims = string.Join('\n', jobId.ToString("N"), expires.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), nonce, stepKey);
        var token = protector.Protect(claims);
        var page = $"{(options.Value.PublicBaseUrl ?? baseUrl ?? "").TrimEnd('/')}{PathPrefix}{token}";
        return new DecisionLinks(page, page + "?decision=approve", page + "?decision=reject", expires);
    }

    /// <summary>What a token says, or why it is refused (tampered or not ours: <see cref="LinkCheck.Invalid"/>; past its expiry: <see cref="LinkCheck.Expired"/>).</summary>
    public (LinkCheck Check, DecisionClaims? Claims) Read(string token)
    {
        string claims;
        try
        {
            claims = protector.Unprotect(token);
        }
        catch (CryptographicException)
        {
            return (LinkCheck.Invalid, null);
        }

        // The payload is ours (authenticated), so its shape is the one Issue wrote.
        var parts = claims.Split('\n', 4);
        var expires = DateTimeOffset.FromUnixTimeSeconds(long.Parse(parts[1], CultureInfo.InvariantCulture));
        var read = new DecisionClaims(Guid.ParseExact(parts[0], "N"), parts[3], parts[2], expires);
        return (time.GetUtcNow() >= expires ? LinkCheck.Expired : LinkCheck.Valid, read);
    }

    /// <summary>The signal idempotency key of a wait's decision: one decision per nonce.</summary>
    public static string IdempotencyKey(string nonce) => "approval-link:" + nonce;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a <= b ? a : b;
}

/// <summary>Whether a decision link may be used.</summary>
public enum LinkCheck
{
    Valid,
    Expired,
    Invalid,
}

/// <summary>What a decision link stands for.</summary>
public sealed record DecisionClaims(Guid JobId, string StepKey, string Nonce, DateTimeOffset ExpiresAt);

/// <summary>
/// The links of one approval wait: the page, and the page with Approve or Reject chosen (nothing is decided by opening
/// a link — mail scanners open links — only by the page's POST).
/// </summary>
public sealed record DecisionLinks(string DecisionUrl, string ApproveUrl, string RejectUrl, DateTimeOffset ExpiresAt);

/// <summary>The wire form of a parked wait (status <c>waiting_for</c>, the <c>workflow.waiting</c> webhook).</summary>
public static class WaitDescriptions
{
    /// <summary>What <paramref name="wait"/> waits for; an approval's with fresh decision links (same nonce, so the same one decision).</summary>
    public static Contracts.JobWait Describe(Guid jobId, Engine.Execution.RunWait wait, ApprovalLinks links, string? baseUrl = null)
    {
        var described = new Contracts.JobWait(wait.StepId, wait.Kind, wait.Until, wait.Event);
        if (wait.Approval is not { } approval || (string?)approval["nonce"] is not { } nonce)
        {
            return described;
        }

        // Parked beside other blocks' waits, the job wakes at the earliest of them; the links last until this wait's own time.
        var issued = links.Issue(jobId, wait.StepKey, nonce, (wait.Of(wait.StepKey) ?? wait).Until, baseUrl);
        return described with
        {
            Prompt = (string?)approval["prompt"],
            DecisionUrl = issued.DecisionUrl,
            ApproveUrl = issued.ApproveUrl,
            RejectUrl = issued.RejectUrl,
            LinksExpireAt = issued.ExpiresAt,
        };
    }
}
