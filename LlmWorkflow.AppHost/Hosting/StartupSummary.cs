using System.Text;

namespace LlmWorkflow.AppHost.Hosting;

/// <summary>
/// The lines printed under the resource table once everything is ready: where a newcomer goes next (the projects'
/// pages, as full URLs) and notes such as the development keys, labels aligned.
/// </summary>
public static class StartupSummary
{
    /// <summary>Formats the entries as <c>label  value</c> lines; empty when there are none.</summary>
    public static string Format(IEnumerable<(string Label, string Value)> entries)
    {
        var list = entries.ToList();
        if (list.Count == 0)
        {
            return "";
        }

        var width = list.Max(entry => entry.Label.Length);
        var text = new StringBuilder("\n");
        foreach (var (label, value) in list)
        {
            text.Append(label.PadRight(width + 2)).Append(value).Append('\n');
        }

        return text.Append('\n').ToString();
    }
}
