using System.Globalization;
using System.Text;

namespace LlmWorkflow.AppHost.Hosting;

/// <summary>Renders resources as a plain, aligned text table.</summary>
public static class ResourceTable
{
    private static readonly string[] Headers = ["NAME", "STATE", "PID", "ENDPOINT"];

    /// <summary>Formats the rows under a header, each column as wide as its widest cell.</summary>
    public static string Format(IEnumerable<ResourceRow> rows)
    {
        var cells = rows
            .Select(row => new[]
            {
                row.Name,
                row.State,
                row.ProcessId?.ToString(CultureInfo.InvariantCulture) ?? "-",
                row.Endpoint.Length > 0 ? row.Endpoint : "-",
            })
            .Prepend(Headers)
            .ToList();
        var widths = Enumerable.Range(0, Headers.Length).Select(column => cells.Max(line => line[column].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var line in cells)
        {
            for (var column = 0; column < line.Length; column++)
            {
                text.Append(column < line.Length - 1 ? line[column].PadRight(widths[column] + 2) : line[column]);
            }

            text.Append('\n');
        }

        return text.ToString();
    }
}
