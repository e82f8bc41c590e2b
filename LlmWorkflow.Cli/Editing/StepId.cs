using System.Text.RegularExpressions;

namespace LlmWorkflow.Cli.Editing;

/// <summary>The validator's rule for step ids, checked as the author types one.</summary>
internal static partial class StepId
{
    public static bool IsValid(string text) => Pattern().IsMatch(text);

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_-]*$")]
    private static partial Regex Pattern();
}
