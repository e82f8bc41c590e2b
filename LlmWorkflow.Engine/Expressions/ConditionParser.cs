using System.Globalization;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>
/// Recursive-descent parser for the condition language (see <see cref="Condition"/>), scanning the text directly.
/// Precedence, lowest first: <c>or</c>, <c>and</c>, <c>not</c>, comparison / <c>contains</c> / <c>in</c> / <c>exists</c>.
/// </summary>
internal sealed class ConditionParser
{
    private static readonly string[] ComparisonOperators = ["==", "!=", "<=", ">=", "<", ">"];

    private readonly string text;
    private readonly List<ExpressionReference> references = [];
    private int pos;

    private ConditionParser(string text) => this.text = text;

    public static (ConditionNode Root, IReadOnlyList<ExpressionReference> References) Parse(string text)
    {
        var parser = new ConditionParser(text);
        parser.SkipSpaces();
        if (parser.pos >= text.Length)
        {
            throw ExpressionSyntaxException.At(text, 0, "a condition");
        }

        var root = parser.ParseOr();
        parser.SkipSpaces();
        if (parser.pos < text.Length)
        {
            throw ExpressionSyntaxException.At(text, parser.pos, "an operator (==, !=, <, >, and, or, contains, in) or the end of the condition");
        }

        return (root, parser.references);
    }

    private ConditionNode ParseOr()
    {
        var left = ParseAnd();
        while (TryKeyword("or") || TrySymbol("||"))
        {
            left = new LogicalNode(left, ParseAnd(), isAnd: false);
        }

        return left;
    }

    private ConditionNode ParseAnd()
    {
        var left = ParseNot();
        while (TryKeyword("and") || TrySymbol("&&"))
        {
            left = new LogicalNode(left, ParseNot(), isAnd: true);
        }

        return left;
    }

    private ConditionNode ParseNot()
    {
        SkipSpaces();
        var isBang = pos < text.Length && text[pos] == '!' && (pos + 1 >= text.Length || text[pos + 1] != '=');
        if (isBang)
        {
            pos++;
            return new NotNode(ParseNot());
        }

        return TryKeyword("not") ? new NotNode(ParseNot()) : ParseComparison();
    }

    private ConditionNode ParseComparison()
    {
        var left = ParseOperand();
        foreach (var op in ComparisonOperators)
        {
            if (TrySymbol(op))
            {
                return new ComparisonNode(left, ParseOperand(), op);
            }
        }

        if (TryKeyword("contains"))
        {
            return new ContainsNode(left, ParseOperand());
        }

        if (TryKeyword("in"))
        {
            return new ContainsNode(ParseOperand(), left);
        }

        if (TryKeyword("exists"))
        {
            return new FunctionNode("exists", left);
        }

        var beforeNot = pos;
        if (TryKeyword("not"))
        {
            if (TryKeyword("in"))
            {
                return new NotNode(new ContainsNode(ParseOperand(), left));
            }

            if (TryKeyword("contains"))
            {
                return new NotNode(new ContainsNode(left, ParseOperand()));
            }

            pos = beforeNot;
        }

        return left;
    }

    private ConditionNode ParseOperand()
    {
        SkipSpaces();
        if (pos >= text.Length)
        {
            throw ExpressionSyntaxException.At(text, pos, "a value, a path or '('");
        }

        var c = text[pos];
        switch (c)
        {
            case '(':
                pos++;
                var inner = ParseOr();
                Expect(')');
                return inner;
            case '[':
                return ParseList();
            case '\'' or '"':
                return new LiteralNode(JsonValue.Create(PathScanner.ReadQuoted(text, ref pos)));
            case '$' when pos + 1 < text.Length && text[pos + 1] == '{':
                pos += 2;
                SkipSpaces();
                var wrapped = ReadPath();
                Expect('}');
                return wrapped;
        }

        if (char.IsAsciiDigit(c) || (c is '-' or '.' && pos + 1 < text.Length && char.IsAsciiDigit(text[pos + 1])))
        {
            return ParseNumber();
        }

        var wordStart = pos;
        var word = PathScanner.ReadName(text, ref pos);
        switch (word)
        {
            case "true":
                return new LiteralNode(JsonValue.Create(true));
            case "false":
                return new LiteralNode(JsonValue.Create(false));
            case "null":
                return new LiteralNode(null);
            case var name when FunctionNode.IsFunctionName(name) && PeekAfterSpaces('('):
                Expect('(');
                var argument = ParseOr();
                Expect(')');
                return new FunctionNode(name, argument);
            case var root when ScopePath.IsRootName(root):
                pos = wordStart;
                return ReadPath();
            default:
                pos = wordStart;
                throw ExpressionSyntaxException.At(text, wordStart, $"a value (number, 'string', true, false, null), a function (exists, len, empty) or {ScopePath.RootsHint}");
        }
    }

    private PathNode ReadPath()
    {
        var start = pos;
        var path = ScopePath.Read(text, ref pos);
        references.Add(new ExpressionReference(path.Root, path.StepId, path.Tail.ToString(), text[start..pos], "$"));
        return new PathNode(path);
    }

    private ListNode ParseList()
    {
        pos++;
        var elements = new List<ConditionNode>();
        SkipSpaces();
        if (pos < text.Length && text[pos] == ']')
        {
            pos++;
            return new ListNode(elements);
        }

        while (true)
        {
            elements.Add(ParseOperand());
            SkipSpaces();
            if (pos < text.Length && text[pos] == ',')
            {
                pos++;
                continue;
            }

            Expect(']');
            return new ListNode(elements);
        }
    }

    private LiteralNode ParseNumber()
    {
        var start = pos;
        if (text[pos] == '-')
        {
            pos++;
        }

        while (pos < text.Length && (char.IsAsciiDigit(text[pos]) || text[pos] is '.' or 'e' or 'E'
            || (text[pos] is '+' or '-' && text[pos - 1] is 'e' or 'E')))
        {
            pos++;
        }

        var span = text.AsSpan(start, pos - start);
        if (long.TryParse(span, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return new LiteralNode(JsonValue.Create(integer));
        }

        if (double.TryParse(span, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return new LiteralNode(JsonValue.Create(number));
        }

        throw ExpressionSyntaxException.At(text, start, "a number");
    }

    private bool TryKeyword(string keyword)
    {
        SkipSpaces();
        var end = pos + keyword.Length;
        if (end > text.Length
            || string.Compare(text, pos, keyword, 0, keyword.Length, StringComparison.OrdinalIgnoreCase) != 0
            || (end < text.Length && PathScanner.IsNameChar(text[end])))
        {
            return false;
        }

        pos = end;
        return true;
    }

    private bool TrySymbol(string symbol)
    {
        SkipSpaces();
        if (string.CompareOrdinal(text, pos, symbol, 0, symbol.Length) != 0)
        {
            return false;
        }

        pos += symbol.Length;
        return true;
    }

    private bool PeekAfterSpaces(char expected)
    {
        SkipSpaces();
        return pos < text.Length && text[pos] == expected;
    }

    private void Expect(char expected)
    {
        SkipSpaces();
        if (pos >= text.Length || text[pos] != expected)
        {
            throw ExpressionSyntaxException.At(text, pos, $"'{expected}'");
        }

        pos++;
    }

    private void SkipSpaces()
    {
        while (pos < text.Length && char.IsWhiteSpace(text[pos]))
        {
            pos++;
        }
    }
}
