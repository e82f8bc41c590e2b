using System.Globalization;

namespace LlmWorkflow.Api.Jobs;

/// <summary>Redis stream entry ids (<c>ms-seq</c>, or <c>ms</c> alone): parsing and ordering, as Redis orders them.</summary>
public static class StreamIds
{
    public static bool TryParse(string? id, out (ulong Ms, ulong Seq) parsed)
    {
        parsed = default;
        if (string.IsNullOrEmpty(id))
        {
            return false;
        }

        var dash = id.IndexOf('-', StringComparison.Ordinal);
        var msPart = dash < 0 ? id : id[..dash];
        var seqPart = dash < 0 ? "0" : id[(dash + 1)..];
        if (!ulong.TryParse(msPart, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            || !ulong.TryParse(seqPart, NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
        {
            return false;
        }

        parsed = (ms, seq);
        return true;
    }

    /// <summary>Negative, zero or positive as <paramref name="left"/> is before, equal to or after <paramref name="right"/>; both must parse.</summary>
    public static int Compare(string left, string right)
    {
        if (!TryParse(left, out var a) || !TryParse(right, out var b))
        {
            throw new FormatException($"Not a stream id: '{left}' or '{right}'.");
        }

        return a.Ms != b.Ms ? a.Ms.CompareTo(b.Ms) : a.Seq.CompareTo(b.Seq);
    }

    /// <summary>The smallest id after <paramref name="id"/> (same milliseconds, next sequence); it must parse.</summary>
    public static string Next(string id) =>
        TryParse(id, out var parsed) ? $"{parsed.Ms}-{parsed.Seq + 1}" : throw new FormatException($"Not a stream id: '{id}'.");
}
