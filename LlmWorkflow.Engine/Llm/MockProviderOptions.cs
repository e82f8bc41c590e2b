namespace LlmWorkflow.Engine.Llm;

/// <summary>Configuration section <c>Llm:Mock</c> for the offline, deterministic <c>mock</c> provider.</summary>
public sealed class MockProviderOptions
{
    /// <summary>Simulated latency per call (spread over the chunks when streaming).</summary>
    public int LatencyMs { get; set; }

    /// <summary>Length of <c>mock/lorem</c> answers; <c>mock/lorem-200</c> asks for 200.</summary>
    public int LoremTokens { get; set; } = 64;

    /// <summary>When true every model id is answered by the mock (runs sample workflows with no keys or network).</summary>
    public bool ServeAllModels { get; set; }

    /// <summary>Folder of canned answers: <c>&lt;workflow&gt;.json</c> mapping step id → text.</summary>
    public string ResponsesDirectory { get; set; } = "workflows/mock-responses";

    /// <summary>Canned answers from configuration: <c>Llm:Mock:Responses:&lt;workflow&gt;:&lt;step&gt;</c>.</summary>
    public Dictionary<string, Dictionary<string, string>> Responses { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}
