using System.Text;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>
/// Hand-written scanner for path syntax (<c>a.b[0]['c d'][*]</c>), shared by <c>${...}</c> templates, conditions
/// and relative field paths. A scanner instead of a regex: it reports the exact position of a syntax error.
/// </summary>
internal static class PathScanner
{
    public static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-';

    public static bool IsPlainName(string name)
    {
        if (name.Length == 0)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!IsNameChar(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Reads a plain name at <paramref name="pos"/>; empty when there is none.</summary>
    public static string ReadName(string text, ref int pos)
    {
        var start = pos;
        while (pos < text.Length && IsNameChar(text[pos]))
        {
            pos++;
        }

        return text[start..pos];
    }

    /// <summary>Reads <c>.name</c>, <c>[n]</c>, <c>[*]</c> and <c>['name']</c> segments until something else follows.</summary>
    public static void ReadSegments(string text, ref int pos, List<PathSegment> segments)
    {
        while (pos < text.Length)
        {
            if (text[pos] == '.')
            {
                pos++;
                var name = ReadName(text, ref pos);
                if (name.Length == 0)
                {
                    throw ExpressionSyntaxException.At(text, pos, "a property name after '.'");
                }

                segments.Add(PathSegment.Property(name));
            }
            else if (text[pos] == '[')
            {
                pos++;
                segments.Add(ReadBracket(text, ref pos));
            }
            else
            {
                return;
            }
        }
    }

    /// <summary>Reads a quoted string ('...' or "...", backslash escapes) starting at the opening quote.</summary>
    public static string ReadQuoted(string text, ref int pos)
    {
        var quote = text[pos];
        var start = pos;
        pos++;
        var builder = new StringBuilder();
        while (pos < text.Length && text[pos] != quote)
        {
            if (text[pos] == '\\' && pos + 1 < text.Length)
            {
                pos++;
                builder.Append(text[pos] switch { 'n' => '\n', 't' => '\t', 'r' => '\r', var other => other });
            }
            else
            {
                builder.Append(text[pos]);
            }

            pos++;
        }

        if (pos >= text.Length)
        {
            throw ExpressionSyntaxException.At(text, start, $"a closing {quote} for the string starting");
        }

        pos++;
        return builder.ToString();
    }

    private static PathSegment ReadBracket(string text, ref int pos)
    {
        PathSegment segment;
        if (pos < text.Length && text[pos] == '*')
        {
            pos++;
            segment = PathSegment.Wildcard;
        }
        else if (pos < text.Length && text[pos] is '\'' or '"')
        {
            segment = PathSegment.Property(ReadQuoted(text, ref pos));
        }
        else
        {
            var start = pos;
            if (pos < text.Length && text[pos] == '-')
            {
                pos++;
            }

            while (pos < text.Length && char.IsAsciiDigit(text[pos]))
            {
                pos++;
            }

            if (!int.TryParse(text.AsSpan(start, pos - start), System.Globalization.CultureInfo.InvariantCulture, out var index))
            {
                throw ExpressionSyntaxException.At(text, start, "an index, '*' or a quoted name inside [ ]");
            }

            segment = PathSegment.At(index);
        }

        if (pos >= text.Length || text[pos] != ']')
        {
            throw ExpressionSyntaxException.At(text, pos, "']'");
        }

        pos++;
        return segment;
    }
}
