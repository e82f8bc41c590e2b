namespace LlmWorkflow.Api.Contracts;

/// <summary>
/// The list filters that find the jobs behind a figure of the usage report (the dashboard's cost drill-down):
/// <c>username</c> (exact), and <c>model</c> / <c>usage_from</c> / <c>usage_to</c>, which keep the jobs with at least one
/// LLM call (of that model) recorded in [usage_from, usage_to) — the same rows the report sums.
/// </summary>
public sealed record JobListUsageFilter(string? Username, string? Model, DateTimeOffset? UsageFrom, DateTimeOffset? UsageTo)
{
    public static readonly DateTimeOffset Earliest = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset Latest = new(9000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>True when the jobs must have matching LLM calls.</summary>
    public bool FiltersUsage => Model is not null || UsageFrom is not null || UsageTo is not null;

    /// <summary>The filter, or errors naming the field; instants are read here (not bound) so a bad one is a 400 that names it.</summary>
    public static (JobListUsageFilter? Filter, Dictionary<string, string[]> Errors) Parse(
        string? username, string? model, string? usageFromText, string? usageToText)
    {
        var errors = new Dictionary<string, string[]>();
        var usageFrom = Instant("usage_from", usageFromText, errors);
        var usageTo = Instant("usage_to", usageToText, errors);
        foreach (var (name, value) in new[] { ("username", username), ("model", model) })
        {
            if (value is { Length: > JobListQuery.MaxTextLength })
            {
                errors[name] = [$"{name} must be at most {JobListQuery.MaxTextLength} characters."];
            }
        }

        foreach (var (name, value) in new[] { ("usage_from", usageFrom), ("usage_to", usageTo) })
        {
            if (value is { } instant && (instant < Earliest || instant > Latest))
            {
                errors[name] = [$"{name} must be between {Earliest:yyyy-MM-dd} and {Latest:yyyy-MM-dd}."];
            }
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        if (usageFrom >= usageTo)
        {
            errors["usage_from"] = ["usage_from must be before usage_to."];
        }

        return errors.Count > 0
            ? (null, errors)
            : (new JobListUsageFilter(string.IsNullOrEmpty(username) ? null : username, string.IsNullOrEmpty(model) ? null : model, usageFrom, usageTo), errors);
    }

    private static DateTimeOffset? Instant(string name, string? text, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        if (DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var instant))
        {
            return instant.ToUniversalTime();
        }

        errors[name] = [$"{name} must be an ISO 8601 instant, e.g. 2026-01-31T00:00:00Z."];
        return null;
    }
}
