using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Engine.Diagrams;

/// <summary>
/// Draws a workflow as a Mermaid flowchart (<c>flowchart TD</c>), deterministically from the definition, with every
/// edge the run can take: display names as labels; <c>llm</c> steps as subroutines, <c>external_api</c> as
/// parallelograms, transforms as rectangles; a conditional as a rhombus with yes/no edges; a parallel step as a
/// hexagon that forks into one lane subgraph per branch, every lane's last step joining into the next step; a
/// for_each as a hexagon loop head inside a subgraph labelled with its items expression: the head leads into the
/// body, the body's end loops back (dotted, "next item") and, after the last item, leads on to the next step ("done"). Node ids are
/// <c>s_</c> + step id (step ids may be Mermaid keywords such as <c>end</c>). Shared by the API's diagram route, the
/// dashboard and <c>llmwf diagram</c>.
/// </summary>
public static class MermaidDiagram
{
    public const string NextItemLabel = "next item";
    public const string DoneLabel = "done";

    public static string Generate(WorkflowDefinition workflow)
    {
        var drawing = new Drawing();
        drawing.Node("start([\"Start\"])", 1);
        var exits = drawing.Chain(workflow.Steps, [new("start", null)], 1);
        drawing.Node("finish([\"End\"])", 1);
        drawing.Connect(exits, "finish");
        return drawing.ToString();
    }

    /// <summary>An edge waiting for its target: from this node, with this label.</summary>
    private readonly record struct Exit(string Node, string? Label);

    private sealed class Drawing
    {
        private readonly StringBuilder _nodes = new("flowchart TD\n");
        private readonly List<string> _edges = [];

        public void Node(string text, int depth) => _nodes.Append(' ', depth * 4).Append(text).Append('\n');

        public void Connect(IEnumerable<Exit> exits, string target, bool dotted = false)
        {
            var arrow = dotted ? "-.->" : "-->";
            foreach (var exit in exits)
            {
                _edges.Add(exit.Label is null ? $"{exit.Node} {arrow} {target}" : $"{exit.Node} {arrow}|{exit.Label}| {target}");
            }
        }

        /// <summary>Draws steps in sequence after <paramref name="pending"/>; returns the edges leaving the last one.</summary>
        public List<Exit> Chain(IReadOnlyList<StepDefinition> steps, List<Exit> pending, int depth)
        {
            foreach (var step in steps)
            {
                pending = Step(step, pending, depth);
            }

            return pending;
        }

        public override string ToString()
        {
            var text = new StringBuilder(_nodes.ToString());
            foreach (var edge in _edges)
            {
                text.Append("    ").Append(edge).Append('\n');
            }

            return text.ToString();
        }

        private List<Exit> Step(StepDefinition step, List<Exit> pending, int depth)
        {
            var node = NodeId(step.Id);
            var label = Escape(step.Label);
            Connect(pending, node);
            switch (step.ControlFlow)
            {
                case ConditionalStepConfig conditional:
                    Node($"{node}{{\"{label}\"}}", depth);
                    return [.. Chain(conditional.Then, [new(node, "yes")], depth), .. Chain(conditional.Else, [new(node, "no")], depth)];
                case ParallelStepConfig parallel:
                    // Fork: the hexagon leads into every lane; join: every lane's exits lead to what follows.
                    Node($"subgraph {node}__lanes[\"in parallel\"]", depth);
                    Node($"{node}{{{{\"{label}\"}}}}", depth + 1);
                    var joined = new List<Exit>();
                    foreach (var (branchId, steps) in parallel.Branches)
                    {
                        Node($"subgraph {node}__{branchId}[\"{Escape(branchId)}\"]", depth + 1);
                        joined.AddRange(Chain(steps, [new(node, steps.Count == 0 ? branchId : null)], depth + 2));
                        Node("end", depth + 1);
                    }

                    Node("end", depth);
                    return joined;
                case ForEachStepConfig forEach:
                    var items = forEach.Items is JsonValue value && value.TryGetValue<string>(out var expression) ? expression : forEach.Items.ToJsonString();
                    Node($"subgraph {node}__loop[\"for each {Escape(items)}\"]", depth);
                    Node($"{node}{{{{\"{label}\"}}}}", depth + 1);
                    var bodyEnd = Chain(forEach.Steps, [new(node, null)], depth + 1);
                    Node("end", depth);
                    if (forEach.Steps.Count == 0)
                    {
                        return [new(node, DoneLabel)];
                    }

                    // The body's end either loops back for the next item or, after the last one, goes on: drawn from
                    // there, what follows the loop is laid out below it.
                    Connect(bodyEnd.Select(e => e with { Label = Combined(e.Label, NextItemLabel) }), node, dotted: true);
                    return [.. bodyEnd.Select(e => e with { Label = Combined(e.Label, DoneLabel) })];
                default:
                    Node(step.Type switch
                    {
                        StepTypes.Llm => $"{node}[[\"{label}\"]]",
                        StepTypes.ExternalApi => $"{node}[/\"{label}\"/]",
                        _ => $"{node}[\"{label}\"]",
                    }, depth);
                    return [new(node, null)];
            }
        }
        private static string Combined(string? label, string next) => label is null ? next : $"{label}, {next}";

        private static string NodeId(string stepId) => "s_" + stepId;

        /// <summary>Mermaid entity codes for the characters that would end or confuse a quoted label.</summary>
        private static string Escape(string text) => text
            .Replace("#", "#35;", StringComparison.Ordinal)
            .Replace("\"", "#quot;", StringComparison.Ordinal)
            .Replace("<", "#lt;", StringComparison.Ordinal)
            .Replace(">", "#gt;", StringComparison.Ordinal)
            .Replace("\n", " ", StringComparison.Ordinal);
    }
}
