using System.Text;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Execution;

/// <summary>Keeps step records small: large outputs are replaced by a pointer object with their size.</summary>
public static class StepOutputCap
{
    public const int MaxBytes = 256 * 1024;

    /// <summary>A copy of <paramref name="output"/> safe to keep in a record, or <c>{"truncated": true, "size_bytes": n}</c>.</summary>
    public static JsonNode? Apply(JsonNode? output)
    {
        if (output is null)
        {
            return null;
        }

        var size = Encoding.UTF8.GetByteCount(output.ToJsonString());
        return size > MaxBytes
            ? new JsonObject { ["truncated"] = true, ["size_bytes"] = size }
            : output.DeepClone();
    }
}
