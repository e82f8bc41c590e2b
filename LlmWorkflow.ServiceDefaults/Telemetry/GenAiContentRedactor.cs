using System.Diagnostics;
using LlmWorkflow.ServiceDefaults.Logging;
using OpenTelemetry;

namespace LlmWorkflow.ServiceDefaults.Telemetry;

/// <summary>
/// Captured prompts and answers (<c>Llm:Telemetry:CaptureMessages</c>, off by default) leave the process redacted as
/// the logs are: e-mail addresses, API keys and decision links in the GenAI content attributes are masked before any
/// exporter sees the span.
/// </summary>
internal sealed class GenAiContentRedactor : BaseProcessor<Activity>
{
    /// <summary>The OpenTelemetry GenAI conventions' content attributes (the engine's GenAiMessages writes them).</summary>
    internal static readonly string[] ContentAttributes = ["gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"];

    public override void OnEnd(Activity data)
    {
        foreach (var attribute in ContentAttributes)
        {
            if (data.GetTagItem(attribute) is string content && RedactingLogger.MayNeedRedaction(content))
            {
                data.SetTag(attribute, RedactingLogger.Redact(content));
            }
        }
    }
}
