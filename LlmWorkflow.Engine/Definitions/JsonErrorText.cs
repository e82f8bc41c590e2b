using System.Text.Json;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// A JSON syntax error for people: System.Text.Json counts lines and byte positions from 0 ("LineNumber: 3" is the
/// fourth line), editors from 1, so the message is rewritten with 1-based line and column.
/// </summary>
public static class JsonErrorText
{
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
}
