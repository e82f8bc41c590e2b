using System.Text.Json;
using System.Text.RegularExpressions;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// JSON errors for people: System.Text.Json counts lines and byte positions from 0 ("LineNumber: 3" is the fourth
/// line), editors from 1, so a syntax error is rewritten with 1-based line and column; a shape error is said in JSON
/// terms rather than .NET type names.
/// </summary>
public static partial class JsonErrorText
{
    private const string WrongType = "This value has the wrong JSON type; workflows/workflow.schema.json gives the type of each property.";

    public static string Describe(JsonException ex)
    {
        var message = ex.Message;
        foreach (var marker in new[] { " Path:", " LineNumber:" })
        {
            var cut = message.IndexOf(marker, StringComparison.Ordinal);
            if (cut >= 0)
            {
                message = message[..cut];
            }
        }

        return ex.LineNumber is { } line
            ? $"line {line + 1}, column {(ex.BytePositionInLine ?? 0) + 1}: {message.TrimEnd()}"
            : message.TrimEnd();
    }

    /// <summary>
    /// A definition of the wrong shape, in JSON terms: System.Text.Json names the .NET type it was filling
    /// (<c>System.Nullable`1[System.Double]</c>, <c>LlmWorkflow…WorkflowDefinition</c>), which means nothing to an author.
    /// </summary>
    public static string DescribeShape(JsonException ex)
    {
        var message = ex.Message.Split(" Path:", 2)[0].TrimEnd();
        if (MissingRequired().Match(message) is { Success: true } missing)
        {
            return $"Missing required properties: {missing.Groups[1].Value.Replace("'", "", StringComparison.Ordinal)}.";
        }

        if (UnmappedProperty().Match(message) is { Success: true } unknown)
        {
            return $"Unknown property \"{unknown.Groups[1].Value}\".";
        }

        if (NotConvertible().Match(message) is { Success: true } converted && JsonKind(converted.Groups[1].Value.TrimEnd('.')) is { } kind)
        {
            return $"Expected {kind} here.";
        }

        // Our own converters' messages are written for authors; anything else naming a .NET type is not shown (for a
        // scalar property System.Text.Json names the object holding it, not the type the value should have).
        return DotNetTypeName().IsMatch(message) ? WrongType : message;
    }

    /// <summary>The member an "unknown property" error names; null for any other error.</summary>
    public static string? UnknownMember(JsonException ex) =>
        UnmappedProperty().Match(ex.Message) is { Success: true } unknown ? unknown.Groups[1].Value : null;

    /// <summary>The JSON kind a .NET type is read from; null for the definition's own records and anything unknown.</summary>
    private static string? JsonKind(string type) => type switch
    {
        _ when type.Contains("Dictionary`", StringComparison.Ordinal) || type.Contains("JsonObject", StringComparison.Ordinal) => "an object",
        _ when type.Contains("List`", StringComparison.Ordinal) || type.Contains("[]", StringComparison.Ordinal) || type.Contains("JsonArray", StringComparison.Ordinal) => "an array",
        _ when type.Contains("System.String", StringComparison.Ordinal) => "a string",
        _ when type.Contains("System.Boolean", StringComparison.Ordinal) => "true or false",
        _ when WholeNumber().IsMatch(type) => "a whole number",
        _ when type.Contains("System.Double", StringComparison.Ordinal) || type.Contains("System.Decimal", StringComparison.Ordinal) || type.Contains("System.Single", StringComparison.Ordinal) => "a number",
        _ => null,
    };

    [GeneratedRegex(@"missing required properties including: (.+?)\.?$")]
    private static partial Regex MissingRequired();

    [GeneratedRegex(@"^The JSON property '(.+?)' could not be mapped")]
    private static partial Regex UnmappedProperty();

    [GeneratedRegex(@"could not be converted to (\S+)")]
    private static partial Regex NotConvertible();

    [GeneratedRegex(@"System\.(U?Int(16|32|64)|Byte|SByte)\b")]
    private static partial Regex WholeNumber();

    [GeneratedRegex(@"\b(System|LlmWorkflow|Microsoft)\.[A-Za-z]")]
    private static partial Regex DotNetTypeName();
}
