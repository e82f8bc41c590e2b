using System.Diagnostics;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Steps;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// The agent loop's spans, named and tagged by the OpenTelemetry GenAI conventions (<c>invoke_agent</c>, <c>chat</c>,
/// <c>execute_tool</c>) on the engine's <see cref="Telemetry.ActivitySource"/>, which the hosts already export; the
/// gateway's own provider span is the chat span's child.
/// </summary>
internal static class AgentTelemetry
{
    public static Activity? InvokeAgent(StepContext context, AgentStepConfig config)
    {
        var span = Telemetry.ActivitySource.StartActivity("invoke_agent " + context.Step.Id, ActivityKind.Internal);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("gen_ai.operation.name", "invoke_agent");
            span.SetTag("gen_ai.agent.name", context.Step.Id);
            span.SetTag("gen_ai.request.model", config.Models[0]);
            span.SetTag("llmworkflow.job_id", context.Run.RunId);
        }

        return span;
    }

    public static Activity? Chat(StepContext context, AgentStepConfig config, int turn)
    {
        var span = Telemetry.ActivitySource.StartActivity("chat " + config.Models[0], ActivityKind.Internal);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("gen_ai.operation.name", "chat");
            span.SetTag("gen_ai.request.model", config.Models[0]);
            span.SetTag("gen_ai.request.max_tokens", config.MaxOutputTokens);
            span.SetTag("llmworkflow.agent.turn", turn);
            span.SetTag("llmworkflow.step.id", context.Step.Id);
        }

        return span;
    }

    public static void Answered(Activity? span, LlmCallResult call, AgentMessage answer)
    {
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("gen_ai.provider.name", call.Provider);
            span.SetTag("gen_ai.response.model", call.Model);
            span.SetTag("gen_ai.usage.input_tokens", call.InputTokens);
            span.SetTag("gen_ai.usage.output_tokens", call.OutputTokens);
            span.SetTag("gen_ai.response.finish_reasons", answer.Calls().Count > 0 ? new[] { "tool_calls" } : ["stop"]);
        }
    }

    public static Activity? ExecuteTool(StepContext context, AgentToolCall call, string idempotencyKey)
    {
        var span = Telemetry.ActivitySource.StartActivity("execute_tool " + call.Name, ActivityKind.Internal);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("gen_ai.operation.name", "execute_tool");
            span.SetTag("gen_ai.tool.name", call.Name);
            span.SetTag("gen_ai.tool.call.id", call.CallId);
            span.SetTag("gen_ai.tool.type", "function");
            span.SetTag("llmworkflow.tool.idempotency_key", idempotencyKey);
            span.SetTag("llmworkflow.step.id", context.Step.Id);
        }

        return span;
    }
}
