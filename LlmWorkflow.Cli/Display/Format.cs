using System.Globalization;

namespace LlmWorkflow.Cli.Display;

/// <summary>How durations and dollars are shown.</summary>
internal static class Format
{
    public static string Duration(double? milliseconds) => milliseconds switch
    {
        null => "-",
        < 1000 => string.Create(CultureInfo.InvariantCulture, $"{milliseconds:0} ms"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{milliseconds / 1000:0.0} s"),
    };

    /// <param name="unpriced">Whether a missing cost means an unpriced model (rather than no LLM call).</param>
    public static string Cost(decimal? usd, bool unpriced) => usd switch
    {
        null => unpriced ? "unpriced" : "$0",
        _ => string.Create(CultureInfo.InvariantCulture, $"${usd:0.000000}"),
    };
}
