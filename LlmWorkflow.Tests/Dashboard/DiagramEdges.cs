using System.Text.Json.Nodes;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// The edges a workflow definition implies, to compare with the ones a browser drew. The rules are the run's own:
/// steps follow each other; a conditional leads to its then ("yes") and else ("no") blocks, both continuing to the
/// next step; a parallel step forks into every branch and every branch joins the next step; a for_each head leads to
/// its body, the body's end goes back to the head ("next item") and, after the last item, on ("done"). Start and End frame
/// the workflow. Node ids are <c>s_</c> + step id.
/// </summary>
internal static class DiagramEdges
{
    public readonly record struct Edge(string From, string To, string Label)
    {
        public override string ToString() => $"{From} -{Label}-> {To}";
    }

    public static HashSet<Edge> Implied(JsonArray steps)
    {
        var edges = new HashSet<Edge>();
        var exits = Walk(steps, [("start", "")], edges);
        Join(exits, "finish", edges);
        return edges;
    }

    /// <summary>Every step, nested ones included.</summary>
    public static IEnumerable<JsonObject> AllSteps(JsonArray steps)
    {
        foreach (var step in steps.Select(s => s!.AsObject()))
        {
            yield return step;
            foreach (var block in Blocks(step))
            {
                foreach (var nested in AllSteps(block))
                {
                    yield return nested;
                }
            }
        }
    }

    /// <summary>An edge element's id as mermaid writes it, <c>L_{from}_{to}_{n}</c>, resolved against the drawn node ids.</summary>
    public static Edge Resolve(string edgeId, string label, IEnumerable<string> nodeIds)
    {
        var ids = nodeIds.ToList();
        var matches = (from a in ids
                       from b in ids
                       let prefix = $"L_{a}_{b}_"
                       where edgeId.StartsWith(prefix, StringComparison.Ordinal) && edgeId[prefix.Length..].All(char.IsAsciiDigit) && edgeId.Length > prefix.Length
                       select new Edge(a, b, label.Trim())).ToList();
        Assert.True(matches.Count == 1, $"edge {edgeId} matches {matches.Count} node pairs");
        return matches[0];
    }

    /// <summary>Reads the drawn figure: nodes (id, label text, boxes of the node, its shape and its label), edges (id, label), clusters.</summary>
    public const string ReadSvgScript = """
        (figure) => {
          const svg = figure.querySelector('svg');
          const box = (el) => { const r = el.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; };
          const nodes = [...svg.querySelectorAll('g.node')].map((g) => {
            const label = g.querySelector(':scope > .label');
            const text = label.querySelector('foreignObject div, text') ?? label;
            return { id: g.id.replace(/^flowchart-/, '').replace(/-\d+$/, ''), text: label.textContent, box: box(g),
              shapeBox: box(g.querySelector(':scope > .label-container')), textBox: box(text) };
          });
          const edges = [...svg.querySelectorAll('path.flowchart-link')].map((p) => ({
            id: p.id, label: svg.querySelector(`g.edgeLabel g.label[data-id="${p.id}"]`)?.textContent ?? '' }));
          const clusters = [...svg.querySelectorAll('g.cluster')].map((c) => ({ id: c.id, box: box(c.querySelector(':scope > rect')) }));
          return JSON.stringify({ nodes, edges, clusters });
        }
        """;

    private static List<(string Node, string Label)> Walk(JsonArray steps, List<(string Node, string Label)> pending, HashSet<Edge> edges)
    {
        foreach (var step in steps.Select(s => s!.AsObject()))
        {
            var node = "s_" + (string)step["id"]!;
            Join(pending, node, edges);
            var config = step["config"]!.AsObject();
            switch ((string)step["type"]!)
            {
                case "conditional":
                    pending = [.. Walk(Block(config, "then"), [(node, "yes")], edges), .. Walk(Block(config, "else"), [(node, "no")], edges)];
                    break;
                case "parallel":
                    pending = [.. config["branches"]!.AsObject().SelectMany(branch =>
                        Walk(branch.Value!.AsArray(), [(node, branch.Value!.AsArray().Count == 0 ? branch.Key : "")], edges))];
                    break;
                case "for_each":
                    var body = Block(config, "steps");
                    var bodyEnd = Walk(body, [(node, "")], edges);
                    if (body.Count > 0)
                    {
                        Join(bodyEnd.Select(e => (e.Node, Combined(e.Label, "next item"))), node, edges);
                    }

                    pending = body.Count > 0 ? [.. bodyEnd.Select(e => (e.Node, Combined(e.Label, "done")))] : [(node, "done")];
                    break;
                default:
                    pending = [(node, "")];
                    break;
            }
        }

        return pending;
    }

    private static void Join(IEnumerable<(string Node, string Label)> exits, string target, HashSet<Edge> edges)
    {
        foreach (var (from, label) in exits)
        {
            edges.Add(new Edge(from, target, label));
        }
    }

    private static string Combined(string label, string next) => label.Length == 0 ? next : $"{label}, {next}";

    private static JsonArray Block(JsonObject config, string name) => config[name] as JsonArray ?? [];

    private static IEnumerable<JsonArray> Blocks(JsonObject step)
    {
        var config = step["config"] as JsonObject ?? [];
        return (string)step["type"]! switch
        {
            "conditional" => [Block(config, "then"), Block(config, "else")],
            "parallel" => config["branches"]!.AsObject().Select(b => b.Value!.AsArray()),
            "for_each" => [Block(config, "steps")],
            _ => [],
        };
    }
}
