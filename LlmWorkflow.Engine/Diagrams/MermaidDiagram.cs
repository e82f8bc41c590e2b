using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Engine.Diagrams;

/// <summary>
/// Draws a workflow as a Mermaid flowchart (<c>flowchart TD</c>), deterministically from the definition:
/// display names as labels; <c>llm</c> steps as subroutines, <c>external_api</c> as parallelograms, transforms as
/// rectangles; a conditional as a rhombus with yes/no edges; a parallel step as a subgraph with one lane
/// subgraph per branch; a for_each as a subgraph labelled with its items expression. Node ids are <c>s_</c> + step id
/// (step ids may be Mermaid keywords such as <c>end</c>).
/// </summary>
public static class MermaidDiagram
{
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

        public void Connect(IEnumerable<Exit> exits, string target)
        {
            foreach (var exit in exits)
            {
                _edges.Add(exit.Label is null ? $"{exit.Node} --> {target}" : $"{exit.Node} -->|{exit.Label}| {target}");
            }
        }

        /// <summary>Draws steps in sequence after <paramref name="pending"/>; returns the edges leaving the last one.</summary>
        public List<Exit> Chain(IReadOnlyList<StepDefinition> steps, List<Exit> pending, int depth)
        {
            foreach (var step in steps)
            {
                var node = NodeId(step.Id);
                Connect(pending, node);
                pending = Step(step, node, depth);
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

        private List<Exit> Step(StepDefinition step, string node, int depth)
        {
            var label = Escape(step.Label);
            switch (step.ControlFlow)
            {
                case ConditionalStepConfig conditional:
                    Node($"{node}{{\"{label}\"}}", depth);
                    return [.. Chain(conditional.Then, [new(node, "yes")], depth), .. Chain(conditional.Else, [new(node, "no")], depth)];
                case ParallelStepConfig parallel:
                    Node($"subgraph {node}[\"{label}\"]", depth);
                    foreach (var (branchId, steps) in parallel.Branches)
                    {
                        Node($"subgraph {node}__{branchId}[\"{Escape(branchId)}\"]", depth + 1);
                        Chain(steps, [], depth + 2);
                        Node("end", depth + 1);
                    }

                    Node("end", depth);
                    return [new(node, null)];
                case ForEachStepConfig forEach:
                    var items = forEach.Items is JsonValue value && value.TryGetValue<string>(out var expression) ? expression : forEach.Items.ToJsonString();
                    Node($"subgraph {node}[\"{label}: for each {Escape(items)}\"]", depth);
                    Chain(forEach.Steps, [], depth + 1);
                    Node("end", depth);
                    return [new(node, null)];
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
