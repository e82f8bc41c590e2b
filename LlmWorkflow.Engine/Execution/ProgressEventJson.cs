using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// The JSON payload of each live event (SSE <c>data:</c>), snake_case like the rest of the API. Written straight to
/// UTF-8, the form the worker stores in Redis: every step of every job publishes two or more events, and building a
/// node tree and a UTF-16 string for each was a quarter of an LLM job's allocations.
/// </summary>
public static class ProgressEventJson
{
    // Larger buffers are not kept by the thread: an event carrying a large error detail is rare.
    private const int KeptBufferBytes = 16 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>The event's JSON as UTF-8 bytes (an array of exactly its length).</summary>
    public static byte[] ToUtf8(ProgressEvent e)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        var writer = t_writer ??= new Utf8JsonWriter(buffer);
        try
        {
            Write(writer, e);
            writer.Flush();
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            if (buffer.Capacity > KeptBufferBytes)
            {
                t_buffer = null;
                t_writer = null;
            }
            else
            {
                buffer.ResetWrittenCount();
                writer.Reset(buffer);
            }
        }
    }

    /// <summary>The event's JSON as a node (the CLI's display reads it so).</summary>
    public static JsonObject ToJson(ProgressEvent e) => JsonNode.Parse(ToUtf8(e))!.AsObject();

    public static void Write(Utf8JsonWriter json, ProgressEvent e)
    {
        json.WriteStartObject();
        json.WriteString("type", e.Kind);
        json.WriteString("job_id", e.RunId);
        json.WriteString("timestamp", e.Timestamp);
        switch (e)
        {
            case RunStarted s:
                json.WriteString("workflow_name", s.WorkflowName);
                json.WriteNumber("total_steps", s.TotalSteps);
                break;
            case StepStarted s:
                json.WriteString("step_id", s.StepId);
                json.WriteString("step_key", s.StepKey);
                json.WriteString("display_name", s.DisplayName);
                json.WriteString("step_type", s.Type);
                json.WriteNumber("index", s.Index);
                json.WriteNumber("total", s.Total);
                json.WriteNumber("percent", s.Percent);
                json.WriteString("parent_step_id", s.ParentStepId);
                break;
            case StepCompleted s:
                json.WriteString("step_id", s.Record.StepId);
                json.WriteString("step_key", s.Record.StepKey);
                json.WriteString("display_name", s.Record.DisplayName);
                json.WriteString("status", s.Record.Status.ToWire());
                json.WriteNumber("duration_ms", s.Record.DurationMs);
                json.WriteNumber("attempts", s.Record.Attempts);
                WriteNumber(json, "input_tokens", s.Record.InputTokens);
                WriteNumber(json, "output_tokens", s.Record.OutputTokens);
                WriteNumber(json, "cost_usd", s.Record.CostUsd);
                json.WriteString("model", s.Record.Model);
                json.WriteNumber("percent", s.Percent);
                json.WriteString("parent_step_id", s.Record.ParentStepId);
                WriteError(json, s.Record.Error);
                if (s.Record.Notes is { } notes)
                {
                    json.WriteString("notes", notes);
                }

                break;
            case LlmDelta d:
                json.WriteString("step_id", d.StepId);
                json.WriteString("text", d.Text);
                break;
            case LlmCallCompleted c:
                json.WriteString("step_id", c.StepId);
                json.WriteString("provider", c.Result.Provider);
                json.WriteString("model", c.Result.Model);
                json.WriteNumber("input_tokens", c.Result.InputTokens);
                json.WriteNumber("output_tokens", c.Result.OutputTokens);
                WriteNumber(json, "cost_usd", c.Result.CostUsd);
                json.WriteBoolean("cache_hit", c.Result.CacheHit);
                break;
            case RunCompleted c:
                WriteNumber(json, "cost_usd", c.CostUsd);
                json.WriteNumber("total_tokens", c.TotalTokens);
                break;
            case RunFailed f:
                WriteError(json, f.Error);
                json.WriteBoolean("cancelled", f.Cancelled);
                break;
        }

        json.WriteEndObject();
    }

    private static void WriteNumber(Utf8JsonWriter json, string name, int? value)
    {
        if (value is { } number)
        {
            json.WriteNumber(name, number);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static void WriteNumber(Utf8JsonWriter json, string name, decimal? value)
    {
        if (value is { } number)
        {
            json.WriteNumber(name, number);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static void WriteError(Utf8JsonWriter json, WorkflowError? error)
    {
        json.WritePropertyName("error");
        if (error is null)
        {
            json.WriteNullValue();
        }
        else
        {
            JobErrors.ToJson(error).WriteTo(json);
        }
    }
}
