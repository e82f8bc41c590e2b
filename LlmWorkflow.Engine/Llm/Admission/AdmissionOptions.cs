namespace LlmWorkflow.Engine.Llm.Admission;

/// <summary>
/// The <c>Llm</c> section's admission settings: <c>Llm:Limits:&lt;provider or provider/model&gt;:…</c> (the budgets
/// every worker shares) and <c>Llm:Admission:…</c> (how a step that does not fit waits). No limits = no admission.
/// </summary>
public sealed class AdmissionOptions
{
    /// <summary>Budgets by scope: a provider (<c>openai</c>) or one model of it (<c>openai/gpt-4o-mini</c>).</summary>
    public Dictionary<string, LlmLimit> Limits { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public AdmissionSettings Admission { get; set; } = new();

    /// <summary>
    /// A tenant's own limits over every provider (<c>Tenants:&lt;id&gt;:Limits:…</c>), so that one tenant cannot take a
    /// whole provider budget; its calls count against the provider's budgets too.
    /// </summary>
    public Dictionary<string, LlmLimit> TenantLimits { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Limits every user of a tenant has on their own (<c>Tenants:&lt;id&gt;:PerUserLimits:…</c>), so that one user
    /// cannot take the tenant's whole budget; a job's user is its <c>user_id</c>.
    /// </summary>
    public Dictionary<string, LlmLimit> PerUserLimits { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Each tenant's weight in the fair shares of a contended provider or model scope (<c>Tenants:&lt;id&gt;:Weight</c>,
    /// as written: validated by <see cref="Problems"/>); a tenant without one weighs <see cref="DefaultWeight"/>.
    /// </summary>
    public Dictionary<string, string?> TenantWeights { get; set; } = new(StringComparer.Ordinal);

    public const double DefaultWeight = 1;

    public const double MaxWeight = 1000;

    /// <summary>The tenant a call without one counts as in the fair shares (the CLI, a gateway called directly).</summary>
    public const string DefaultTenant = "default";

    /// <summary>The tenant's weight in the fair shares (1 unless <c>Tenants:&lt;id&gt;:Weight</c> says otherwise).</summary>
    public double WeightOf(string? tenantId) =>
        tenantId is not null && TenantWeights.TryGetValue(tenantId, out var raw) && ParseWeight(raw) is { } weight ? weight : DefaultWeight;

    /// <summary>A weight as written, or null when it is not a number in (0, <see cref="MaxWeight"/>].</summary>
    private static double? ParseWeight(string? raw) =>
        double.TryParse(raw, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var weight)
        && weight > 0 && weight <= MaxWeight ? weight : null;

    /// <summary>The scope name of a tenant's limits: never a provider's, and never re-synced from a provider's headers.</summary>
    public static string TenantScope(string tenantId) => $"{TenantScopePrefix}{tenantId}";

    /// <summary>
    /// The scope name of one user's limits within a tenant. The user id is escaped: scopes travel space-separated in
    /// the release notices and become Redis key parts.
    /// </summary>
    public static string UserScope(string tenantId, string userId) => $"{TenantScope(tenantId)}:user:{Uri.EscapeDataString(userId)}";

    public const string TenantScopePrefix = "tenant:";

    /// <summary>
    /// The scopes whose limits apply to <paramref name="model"/>: its provider's and its own, when set, then the
    /// calling tenant's and its user's.
    /// </summary>
    public IEnumerable<(string Scope, LlmLimit Limit)> ScopesFor(ModelId model, string? tenantId = null, string? userId = null)
    {
        if (Limits.TryGetValue(model.Provider, out var provider))
        {
            yield return (model.Provider, provider);
        }

        var full = model.ToString();
        if (Limits.TryGetValue(full, out var own))
        {
            yield return (full.ToLowerInvariant(), own);
        }

        if (tenantId is not null && TenantLimits.TryGetValue(tenantId, out var tenant))
        {
            yield return (TenantScope(tenantId), tenant);
        }

        if (tenantId is not null && userId is not null && PerUserLimits.TryGetValue(tenantId, out var user))
        {
            yield return (UserScope(tenantId, userId), user);
        }
    }

    /// <summary>True when a scope is a tenant's or a tenant's user's: set by us, never by a provider's headers.</summary>
    public static bool IsTenantScope(string scope) => scope.StartsWith(TenantScopePrefix, StringComparison.Ordinal);

    /// <summary>Problems with the settings, in the settings' own names (empty when they are valid).</summary>
    public IEnumerable<string> Problems()
    {
        foreach (var (section, limits) in new[] { ("Limits", TenantLimits), ("PerUserLimits", PerUserLimits) })
        {
            foreach (var (tenant, limit) in limits)
            {
                foreach (var (name, value) in limit.Values().Where(v => v.Value is < 0))
                {
                    yield return $"Tenants:{tenant}:{section}:{name} must be 0 or more; got {value}.";
                }
            }
        }

        foreach (var (tenant, raw) in TenantWeights.Where(w => ParseWeight(w.Value) is null))
        {
            yield return $"Tenants:{tenant}:Weight must be a number above 0 and at most {MaxWeight}; got '{raw}'.";
        }

        foreach (var (scope, limit) in Limits)
        {
            var slash = scope.IndexOf('/');
            if (scope.Length == 0 || slash == 0 || slash == scope.Length - 1)
            {
                yield return $"Llm:Limits:{scope}: the name must be a provider (openai) or provider/model (openai/gpt-4o-mini).";
            }

            foreach (var (name, value) in limit.Values())
            {
                if (value is < 0)
                {
                    yield return $"Llm:Limits:{scope}:{name} must be 0 or more; got {value}.";
                }
            }
        }

        if (Admission.Window < TimeSpan.FromSeconds(1) || Admission.Window > TimeSpan.FromHours(1))
        {
            yield return $"Llm:Admission:Window must be between 00:00:01 and 01:00:00; got {Admission.Window}.";
        }

        if (Admission.InlineWait < TimeSpan.Zero || Admission.InlineWait > TimeSpan.FromSeconds(30))
        {
            yield return $"Llm:Admission:InlineWait must be between 00:00:00 and 00:00:30; got {Admission.InlineWait}.";
        }

        if (Admission.ReleaseWait < TimeSpan.FromSeconds(1))
        {
            yield return $"Llm:Admission:ReleaseWait must be at least 00:00:01; got {Admission.ReleaseWait}.";
        }

        if (Admission.DefaultOutputTokens < 1)
        {
            yield return $"Llm:Admission:DefaultOutputTokens must be at least 1; got {Admission.DefaultOutputTokens}.";
        }
    }
}

/// <summary>
/// One scope's budget. The "per minute" figures are per <see cref="AdmissionSettings.Window"/> (one minute unless a
/// test or a provider with another window sets it). Null = not limited; 0 = nothing admitted (a paused scope).
/// </summary>
public sealed class LlmLimit
{
    public int? RequestsPerMinute { get; set; }

    /// <summary>Input and output tokens together (OpenAI's TPM).</summary>
    public int? TokensPerMinute { get; set; }

    public int? InputTokensPerMinute { get; set; }

    public int? OutputTokensPerMinute { get; set; }

    public int? ConcurrentCalls { get; set; }

    public IEnumerable<(string Name, int? Value)> Values() =>
    [
        (nameof(RequestsPerMinute), RequestsPerMinute), (nameof(TokensPerMinute), TokensPerMinute),
        (nameof(InputTokensPerMinute), InputTokensPerMinute), (nameof(OutputTokensPerMinute), OutputTokensPerMinute),
        (nameof(ConcurrentCalls), ConcurrentCalls),
    ];
}

/// <summary><c>Llm:Admission</c>.</summary>
public sealed class AdmissionSettings
{
    /// <summary>The length of the sliding window the per-minute limits count over.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>A step whose reservation fits within this long waits in its worker; a longer wait parks the job.</summary>
    public TimeSpan InlineWait { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a step parked on a full concurrency limit (or a paused provider) waits at most before it asks again;
    /// a released call wakes it sooner (pushed, over Redis).
    /// </summary>
    public TimeSpan ReleaseWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a call's concurrency slot is held at most if its worker dies without releasing it.</summary>
    public TimeSpan LeaseTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The output estimate of a step with no history and no max_tokens.</summary>
    public int DefaultOutputTokens { get; set; } = 1024;
}

/// <summary>Refuses the start on invalid limits, naming each setting (see <see cref="AdmissionOptions.Problems"/>).</summary>
public sealed class AdmissionOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<AdmissionOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, AdmissionOptions options) =>
        options.Problems().ToList() is { Count: > 0 } problems
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Fail(problems)
            : Microsoft.Extensions.Options.ValidateOptionsResult.Success;
}
