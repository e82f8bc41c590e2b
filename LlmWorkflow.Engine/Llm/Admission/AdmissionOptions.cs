using System.Security.Cryptography;
using System.Text;

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

    /// <summary>
    /// Each user's weight in the shares between a tenant's users (<c>Tenants:&lt;id&gt;:UserWeights:&lt;user_id&gt;</c>,
    /// as written), by tenant then user id; a user without one weighs <see cref="DefaultWeight"/>.
    /// </summary>
    public Dictionary<string, Dictionary<string, string?>> UserWeights { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Each provider's API key, as its fingerprint scope (<c>key:&lt;12 hex&gt;</c>, null without a key), and the
    /// <c>Llm:Providers:&lt;name&gt;:KeyLimits</c> it sets, by provider name: filled by <see cref="UseProviderKeys"/>.
    /// Never the key itself.
    /// </summary>
    public Dictionary<string, ProviderKey> ProviderKeys { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public const double DefaultWeight = 1;

    public const double MaxWeight = 1000;

    /// <summary>The tenant a call without one counts as in the fair shares (the CLI, a gateway called directly).</summary>
    public const string DefaultTenant = "default";

    /// <summary>The user the jobs without a user_id are, together, in the shares between a tenant's users.</summary>
    public const string NoUser = "";

    /// <summary>The tenant's weight in the fair shares (1 unless <c>Tenants:&lt;id&gt;:Weight</c> says otherwise).</summary>
    public double WeightOf(string? tenantId) =>
        tenantId is not null && TenantWeights.TryGetValue(tenantId, out var raw) && ParseWeight(raw) is { } weight ? weight : DefaultWeight;

    /// <summary>The user's weight among its tenant's users (1 unless <c>Tenants:&lt;id&gt;:UserWeights:&lt;user_id&gt;</c> says otherwise).</summary>
    public double UserWeightOf(string? tenantId, string? userId) =>
        tenantId is not null && userId is not null && UserWeights.TryGetValue(tenantId, out var users)
        && users.TryGetValue(userId, out var raw) && ParseWeight(raw) is { } weight ? weight : DefaultWeight;

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

    public const string KeyScopePrefix = "key:";

    /// <summary>
    /// The scope of an API key's limits: the first 12 hex characters of its SHA-256, so scopes, Redis keys, logs and
    /// the operators' routes never carry the key.
    /// </summary>
    public static string KeyScope(string apiKey) =>
        KeyScopePrefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)))[..12];

    /// <summary>
    /// Records every known provider's key (as the registry resolves it: <c>ApiKey</c> or its environment variable) as
    /// its fingerprint, and its <c>KeyLimits</c>. The mock has no key.
    /// </summary>
    public void UseProviderKeys(LlmProviderRegistry registry)
    {
        foreach (var name in registry.KnownProviders())
        {
            if (registry.Find(name) is { Kind: not ProviderKind.Mock } provider)
            {
                ProviderKeys[provider.Name] = new ProviderKey(provider.ApiKey is null ? null : KeyScope(provider.ApiKey), provider.Options.KeyLimits);
            }
        }
    }

    /// <summary>
    /// The key scope <paramref name="provider"/>'s calls reserve in, with its limits: those of whichever provider
    /// using the same key sets <c>KeyLimits</c> (the key's limits are the key's); null when none does.
    /// </summary>
    public (string Scope, LlmLimit Limit)? KeyScopeOf(string provider) =>
        ProviderKeys.TryGetValue(provider, out var own) && own.Scope is { } scope && KeyLimitsOf(scope) is { } limit ? (scope, limit) : null;

    private LlmLimit? KeyLimitsOf(string scope) =>
        ProviderKeys.Values.FirstOrDefault(k => k.Scope == scope && k.Limits is not null)?.Limits;

    /// <summary>Every key scope with limits, and the providers (names only) whose calls reserve in it.</summary>
    public IEnumerable<(string Scope, LlmLimit Limit, IReadOnlyList<string> Providers)> KeyScopes() =>
        ProviderKeys.Where(p => p.Value.Scope is not null).GroupBy(p => p.Value.Scope!, StringComparer.Ordinal)
            .Select(g => (Scope: g.Key, Limit: KeyLimitsOf(g.Key), Providers: (IReadOnlyList<string>)[.. g.Select(p => p.Key).Order(StringComparer.Ordinal)]))
            .Where(k => k.Limit is not null).OrderBy(k => k.Scope, StringComparer.Ordinal)
            .Select(k => (k.Scope, k.Limit!, k.Providers));

    /// <summary>
    /// The scopes whose limits apply to <paramref name="model"/>: its provider's and its own, when set, its provider's
    /// API key's, then the calling tenant's and its user's.
    /// </summary>
    public IEnumerable<(string Scope, LlmLimit Limit)> ScopesFor(ModelId model, string? tenantId = null, string? userId = null)
    {
        if (Limits.TryGetValue(model.Provider, out var provider))
        {
            yield return (model.Provider, provider);
        }
        else if (ProviderKeys.ContainsKey(model.Provider))
        {
            // Safe by default: a real provider with no configured limit still has a scope, unlimited until its
            // answers' rate-limit headers say its limits (learned in the store), and parked on a 429 until it fits.
            yield return (model.Provider.ToLowerInvariant(), Learned);
        }

        var full = model.ToString();
        if (Limits.TryGetValue(full, out var own))
        {
            yield return (full.ToLowerInvariant(), own);
        }

        if (KeyScopeOf(model.Provider) is { } key)
        {
            yield return key;
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

    /// <summary>The limit of a provider nothing configures: none until its answers' headers say one.</summary>
    private static readonly LlmLimit Learned = new();

    /// <summary>True when a scope is a tenant's or a tenant's user's: set by us, never by a provider's headers.</summary>
    public static bool IsTenantScope(string scope) => scope.StartsWith(TenantScopePrefix, StringComparison.Ordinal);

    /// <summary>
    /// True for the scopes a provider's rate-limit headers and 429s re-sync: providers' and models'. Not a tenant's
    /// (set by us) nor a key's: OpenAI's and Anthropic's headers count per model per organization, not per key.
    /// </summary>
    public static bool FollowsProviderHeaders(string scope) =>
        !IsTenantScope(scope) && !scope.StartsWith(KeyScopePrefix, StringComparison.Ordinal);

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

        foreach (var (tenant, users) in UserWeights)
        {
            foreach (var (user, raw) in users.Where(w => ParseWeight(w.Value) is null))
            {
                yield return $"Tenants:{tenant}:UserWeights:{user} must be a number above 0 and at most {MaxWeight}; got '{raw}'.";
            }
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

        foreach (var problem in KeyLimitProblems())
        {
            yield return problem;
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

        if (Admission.BurstReserve is < 0 or > 0.5 || double.IsNaN(Admission.BurstReserve))
        {
            yield return $"Llm:Admission:BurstReserve must be between 0 and 0.5; got {Admission.BurstReserve}.";
        }

        if (Admission.PriorityReserve is < 0 or > 0.5 || double.IsNaN(Admission.PriorityReserve))
        {
            yield return $"Llm:Admission:PriorityReserve must be between 0 and 0.5; got {Admission.PriorityReserve}.";
        }

        if (Admission.DefaultOutputTokens < 1)
        {
            yield return $"Llm:Admission:DefaultOutputTokens must be at least 1; got {Admission.DefaultOutputTokens}.";
        }
    }

    /// <summary>
    /// <c>Llm:Providers:&lt;name&gt;:KeyLimits</c>: values of 0 or more, set only on a provider with a key, and the same
    /// on every provider that uses that key.
    /// </summary>
    private IEnumerable<string> KeyLimitProblems()
    {
        var withLimits = ProviderKeys.Where(p => p.Value.Limits is not null).OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        foreach (var (provider, key) in withLimits)
        {
            foreach (var (name, value) in key.Limits!.Values().Where(v => v.Value is < 0))
            {
                yield return $"Llm:Providers:{provider}:KeyLimits:{name} must be 0 or more; got {value}.";
            }

            if (key.Scope is null)
            {
                yield return $"Llm:Providers:{provider}:KeyLimits is set, but the provider has no API key (set Llm:Providers:{provider}:ApiKey or its environment variable).";
            }
        }

        foreach (var problem in DifferingKeyLimits(withLimits))
        {
            yield return problem;
        }
    }

    /// <summary>Each pair of providers that use one key but set different <c>KeyLimits</c>, named once.</summary>
    private static IEnumerable<string> DifferingKeyLimits(List<KeyValuePair<string, ProviderKey>> withLimits) =>
        from a in Enumerable.Range(0, withLimits.Count)
        from b in withLimits.Skip(a + 1)
        where b.Value.Scope is not null && b.Value.Scope == withLimits[a].Value.Scope
            && !withLimits[a].Value.Limits!.Values().SequenceEqual(b.Value.Limits!.Values())
        select $"Llm:Providers:{withLimits[a].Key}:KeyLimits and Llm:Providers:{b.Key}:KeyLimits differ, but both providers use the same API key "
            + $"({b.Value.Scope}): set the same limits, or set them on one of the two only.";
}

/// <summary>A provider's API key as its scope (<c>key:&lt;fingerprint&gt;</c>, null: no key) and the <c>KeyLimits</c> it sets.</summary>
public sealed record ProviderKey(string? Scope, LlmLimit? Limits);

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

    /// <summary>
    /// The part of a provider's, model's or key's window kept for the other tenants while more than one tenant used the
    /// scope in the last five windows: a tenant above its weighted share (a burst) leaves them at least this part of the
    /// limit, used or free. 0 turns it off; a scope only one tenant uses is never held back.
    /// </summary>
    public double BurstReserve { get; set; } = 0.1;

    /// <summary>
    /// The priority band: the part of every scope's window kept free for high-priority calls (jobs of priority
    /// <see cref="LlmCallRequest.HighPriorityBand"/> or more) while one used or waited on the scope in the last two windows; the
    /// others may fill no more than the rest, less what the high-priority calls waiting on the scope will reserve. 0 turns
    /// it off; with no high-priority call lately nothing is held back.
    /// </summary>
    public double PriorityReserve { get; set; } = 0.2;
}

/// <summary>Refuses the start on invalid limits, naming each setting (see <see cref="AdmissionOptions.Problems"/>).</summary>
public sealed class AdmissionOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<AdmissionOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, AdmissionOptions options) =>
        options.Problems().ToList() is { Count: > 0 } problems
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Fail(problems)
            : Microsoft.Extensions.Options.ValidateOptionsResult.Success;
}
