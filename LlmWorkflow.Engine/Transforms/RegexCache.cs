using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// Compiled regexes shared by <c>split</c> and <c>regex_extract</c>, keyed by pattern and options. Every regex has
/// a match timeout, so a pathological pattern over a long LLM answer cannot hang a worker (ReDoS).
/// </summary>
internal static class RegexCache
{
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    private const int CacheLimit = 1_000;
    private static readonly ConcurrentDictionary<(string Pattern, RegexOptions Options), Regex> Cache = new();

    /// <summary>The compiled regex; throws <see cref="ArgumentException"/> for an invalid pattern.</summary>
    public static Regex Get(string pattern, RegexOptions options)
    {
        var key = (pattern, options | RegexOptions.CultureInvariant);
        if (Cache.TryGetValue(key, out var cached))
        {
            return cached;
        }

        var regex = new Regex(pattern, key.Item2 | RegexOptions.Compiled, MatchTimeout);
        if (Cache.Count < CacheLimit)
        {
            Cache.TryAdd(key, regex);
        }

        return regex;
    }

    /// <summary>The parse error of an invalid pattern, or null when it is valid.</summary>
    public static string? Problem(string pattern)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.None, MatchTimeout);
            return null;
        }
        catch (ArgumentException invalid)
        {
            return invalid.Message;
        }
    }
}
