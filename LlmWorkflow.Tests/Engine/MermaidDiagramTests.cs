using LlmWorkflow.Engine.Diagrams;

namespace LlmWorkflow.Tests.Engine;

[UnitTest]
public sealed class MermaidDiagramTests
{
    [Fact]
    public void DrawsEveryStepKindDeterministicallyWithForkJoinAndLoopEdges()
    {
        var workflow = TestWorkflows.Parse("""
            {"name": "diagram", "steps": [
              {"id": "fetch", "type": "external_api", "display_name": "Fetch \"weather\"", "config": {"service": "fake", "operation": "get"}},
              {"id": "check", "type": "conditional", "display_name": "Is it <hot>?", "config": {"condition": "input.t > 30",
                "then": [{"id": "warn", "type": "llm", "display_name": "Write warning", "config": {"model": "mock/echo", "prompt": "hi"}}]}},
              {"id": "fan", "type": "parallel", "display_name": "Gather", "config": {"branches": {
                "a": [{"id": "a1", "type": "transform", "config": {"operation": "count", "input": []}}],
                "b": [{"id": "b1", "type": "transform", "config": {"operation": "count", "input": []}},
                      {"id": "b2", "type": "transform", "config": {"operation": "count", "input": []}}]}}},
              {"id": "each", "type": "for_each", "display_name": "Per place", "config": {"items": "${input.places}",
                "steps": [{"id": "end", "type": "transform", "display_name": "Shape #1", "config": {"operation": "count", "input": []}}]}}
            ]}
            """);

        var diagram = MermaidDiagram.Generate(workflow);

        Assert.Equal(
            """
            flowchart TD
                start(["Start"])
                s_fetch[/"Fetch #quot;weather#quot;"/]
                s_check{"Is it #lt;hot#gt;?"}
                s_warn[["Write warning"]]
                subgraph s_fan__lanes["in parallel"]
                    s_fan{{"Gather"}}
                    subgraph s_fan__a["a"]
                        s_a1["a1"]
                    end
                    subgraph s_fan__b["b"]
                        s_b1["b1"]
                        s_b2["b2"]
                    end
                end
                subgraph s_each__loop["for each ${input.places}"]
                    s_each{{"Per place"}}
                    s_end["Shape #35;1"]
                end
                finish(["End"])
                start --> s_fetch
                s_fetch --> s_check
                s_check -->|yes| s_warn
                s_warn --> s_fan
                s_check -->|no| s_fan
                s_fan --> s_a1
                s_fan --> s_b1
                s_b1 --> s_b2
                s_a1 --> s_each
                s_b2 --> s_each
                s_each --> s_end
                s_end -.->|next item| s_each
                s_end -->|done| finish

            """.ReplaceLineEndings("\n"),
            diagram);
        Assert.Equal(diagram, MermaidDiagram.Generate(workflow));
    }
}
