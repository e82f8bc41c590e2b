using System.Globalization;
using System.Text;

namespace LlmWorkflow.Api.Contracts;

/// <summary>
/// Keyset paging of <c>GET /api/v1/jobs</c> in its created-time order: a cursor is the (created_at, id) of the last
/// job of a page, and the next page starts strictly after it. Unlike an offset, it reads only the rows it returns
/// (an index range), and rows inserted or deleted meanwhile neither shift nor repeat the following pages.
/// Opaque to callers: base64url of <c>ticks.id</c>.
/// </summary>
public sealed record JobListCursor(DateTimeOffset CreatedAt, Guid Id)
{
    public string Encode() =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes($"{CreatedAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}.{Id:N}"))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The cursor, or null when <paramref name="text"/> is not one this API issued.</summary>
    public static JobListCursor? Decode(string text)
    {
        if (text.Length is 0 or > 100)
        {
            return null;
        }

        var base64 = text.Replace('-', '+').Replace('_', '/');
        base64 = base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=');
        var bytes = new byte[base64.Length];
        if (!Convert.TryFromBase64String(base64, bytes, out var length))
        {
            return null;
        }

        var parts = Encoding.ASCII.GetString(bytes, 0, length).Split('.');
        return parts.Length == 2
               && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
               && ticks >= DateTimeOffset.MinValue.UtcTicks && ticks <= DateTimeOffset.MaxValue.UtcTicks
               && Guid.TryParseExact(parts[1], "N", out var id)
            ? new JobListCursor(new DateTimeOffset(ticks, TimeSpan.Zero), id)
            : null;
    }
}
