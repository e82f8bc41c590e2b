namespace LlmWorkflow.Storage.Webhooks;

/// <summary>Configuration section <c>Webhooks</c>: signing secrets, payload cap, delivery timeout, retry schedule, SSRF policy.</summary>
public sealed class WebhookOptions
{
    public const string Section = "Webhooks";

    /// <summary>Environment variable read when <c>Webhooks:Secret</c> is not set (the documents' name).</summary>
    public const string SecretEnvironmentVariable = "LLM_WEBHOOK_SECRET";

    /// <summary>The service-wide signing secret, used for jobs submitted without their own <c>webhook_secret</c>.</summary>
    public string? Secret { get; set; }

    /// <summary>
    /// Where to deliver webhooks of jobs submitted without a <c>webhook_url</c> (environment variable <c>WEBHOOK_URL</c>):
    /// the documents' main app sends only workflow_name and input_data and expects its callback route to be known.
    /// </summary>
    public string? DefaultUrl { get; set; }

    /// <summary>True when some secret (this service's or the job's own) can sign deliveries.</summary>
    public bool CanSign(string? jobSecret) => !string.IsNullOrEmpty(jobSecret) || !string.IsNullOrEmpty(Secret);

    /// <summary>Secrets being rotated out: deliveries signed with the service-wide secret carry one signature per secret.</summary>
    public string[] PreviousSecrets { get; set; } = [];

    /// <summary>Above this many bytes, <c>result.output</c> is replaced by a reference to the status URL.</summary>
    public int MaxPayloadBytes { get; set; } = 256 * 1024;

    /// <summary>How long one delivery attempt may take, connect to last response byte.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Delays before each retry after the first attempt (±10% jitter); empty means the default 5 s, 15 s, 45 s.</summary>
    public TimeSpan[] RetryDelays { get; set; } = [];

    /// <summary>Upper bound on a receiver's <c>Retry-After</c>, so one receiver cannot park a delivery for days.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Allow receivers on loopback, private, link-local and other non-public addresses (local development, tests).</summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>How often an idle dispatcher looks for due deliveries.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Deliveries one dispatcher claims and sends concurrently per round.</summary>
    public int BatchSize { get; set; } = 20;

    /// <summary>How much of a receiver's response body is read and stored.</summary>
    public int MaxResponseBodyBytes { get; set; } = 4096;

    public static readonly TimeSpan[] DefaultRetryDelays = [TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(45)];
}
