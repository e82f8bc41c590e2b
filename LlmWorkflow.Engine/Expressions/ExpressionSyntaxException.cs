namespace LlmWorkflow.Engine.Expressions;

/// <summary>
/// A <c>${...}</c> expression or a condition could not be parsed. The message names the position (0-based, in
/// <see cref="Text"/>) and what was expected there, e.g. <c>Expected ')' at position 14 in "len(input.x > 2"</c>.
/// </summary>
public sealed class ExpressionSyntaxException : Exception
{
    public ExpressionSyntaxException(string message, string text, int position, string? jsonPath = null)
        : base(jsonPath is null ? message : $"{jsonPath}: {message}")
    {
        Text = text;
        Position = position;
        JsonPath = jsonPath;
    }

    /// <summary>The text being parsed (a config string or a condition).</summary>
    public string Text { get; }

    /// <summary>0-based offset in <see cref="Text"/> where parsing failed.</summary>
    public int Position { get; }

    /// <summary>Where in a config tree the text was found, when known (e.g. <c>$.config.prompt</c>).</summary>
    public string? JsonPath { get; }

    internal static ExpressionSyntaxException At(string text, int position, string expected)
    {
        var found = position >= text.Length ? "end of text" : $"'{text[position]}'";
        return new($"Expected {expected} at position {position} in \"{text}\", found {found}", text, position);
    }

    internal ExpressionSyntaxException WithJsonPath(string jsonPath) => new(Message, Text, Position, jsonPath);
}
