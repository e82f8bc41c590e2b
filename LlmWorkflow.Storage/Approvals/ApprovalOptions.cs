namespace LlmWorkflow.Storage.Approvals;

/// <summary>Configuration section <c>Approvals</c>: where decision links point and how long they live at most.</summary>
public sealed class ApprovalOptions
{
    public const string Section = "Approvals";

    /// <summary>
    /// The service's public address (e.g. <c>https://llm.example.com</c>) that decision links start with. Unset, a link
    /// is a path (<c>/approvals/…</c>) the main application puts behind the address it calls the service at.
    /// </summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>A link expires at the approval's timeout, but never later than this after it was issued.</summary>
    public TimeSpan MaxLinkLifetime { get; set; } = TimeSpan.FromDays(30);
}
