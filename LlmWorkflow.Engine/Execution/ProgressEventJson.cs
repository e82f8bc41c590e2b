using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Execution;

/// <summary>The JSON payload of each live event (SSE <c>data:</c>), snake_case like the rest of the API.</summary>
public static class ProgressEventJson
{
    public static JsonObject ToJson(ProgressEvent e)
    {
        var json = new JsonObject { ["type"] = e.Kind, ["job_id"] = e.RunId, ["timestamp"] = e.Timestamp };
        switch (e)
        {
            case RunStarted s:
                json["workflow_name"] = s.WorkflowName;
                json["total_steps"] = s.TotalSteps;
                break;
            case StepStarted s:
                json["step_id"] = s.StepId;
                json["step_key"] = s.StepKey;
                json["display_name"] = s.DisplayName;
                json["step_type"] = s.Type;
                json["index"] = s.Index;
                json["total"] = s.Total;
                json["percent"] = s.Percent;
                json["parent_step_id"] = s.ParentStepId;
                break;
            case StepCompleted s:
                json["step_id"] = s.Record.StepId;
                json["step_key"] = s.Record.StepKey;
                json["display_name"] = s.Record.DisplayName;
                json["status"] = s.Record.Status.ToWire();
                json["duration_ms"] = s.Record.DurationMs;
                json["attempts"] = s.Record.Attempts;
                json["input_tokens"] = s.Record.InputTokens;
                json["output_tokens"] = s.Record.OutputTokens;
                json["cost_usd"] = s.Record.CostUsd;
                json["model"] = s.Record.Model;
                json["percent"] = s.Percent;
                json["parent_step_id"] = s.Record.ParentStepId;
                json["error"] = s.Record.Error is null ? null : JobErrors.ToJson(s.Record.Error);
                if (s.Record.Notes is { } notes)
                {
                    json["notes"] = notes;
                }

                break;
            case LlmDelta d:
                json["step_id"] = d.StepId;
                json["text"] = d.Text;
                break;
            case LlmCallCompleted c:
                json["step_id"] = c.StepId;
                json["provider"] = c.Result.Provider;
                json["model"] = c.Result.Model;
                json["input_tokens"] = c.Result.InputTokens;
                json["output_tokens"] = c.Result.OutputTokens;
                json["cost_usd"] = c.Result.CostUsd;
                json["cache_hit"] = c.Result.CacheHit;
                break;
            case RunCompleted c:
                json["cost_usd"] = c.CostUsd;
                json["total_tokens"] = c.TotalTokens;
                break;
            case RunFailed f:
                json["error"] = JobErrors.ToJson(f.Error);
                json["cancelled"] = f.Cancelled;
                break;
        }

        return json;
    }
}
