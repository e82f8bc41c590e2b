using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Api.Endpoints;
using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Storage.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace LlmWorkflow.Api.Agents;

/// <summary>
/// <c>GET /api/v1/jobs/{id}/agent/turns?step_key=</c>: an agent step's loop turn by turn, for the job page
/// (docs/AGENTS.md, "The loop on the job page"). Scoped like every job read: another tenant's job is a 404.
/// </summary>
internal static class AgentEndpoints
{
    /// <summary>The longest step key accepted (a for_each iteration's key nests the parents' keys).</summary>
    public const int MaxStepKeyChars = 500;

    public static RouteGroupBuilder MapAgentEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/jobs/{jobId:guid}/agent/turns", GetTurnsAsync)
            .WithName("GetAgentTurns")
            .WithSummary("An agent step's loop turn by turn: usage and cost per turn, and each turn's tool calls")
            .WithDescription("step_key is the step record's step_key (the step id at the top level; inside a for_each, e.g. \"items[2]/agent\"). " +
                             "Each turn: turn (0 for the first, as the live agent_turn events number them), provider, model, input_tokens, output_tokens, cost_usd (null when the model is unpriced), duration_ms, " +
                             "recorded_at, finish_reason (tool_calls when the answer asked for tools, else stop), text (the model's text, untrusted: " +
                             "render it as text) and tool_calls: call_id, tool, arguments (as run, a person's edit included), status (started, " +
                             "awaiting_approval, approved, finished, failed, rejected, or not_started when the loop has not reached it), attempts, " +
                             "result_summary (the first 280 characters of the tool's result), result_chars and approval (null when the call needed " +
                             "none; else decision approved, rejected, pending or expired, comment, decided_by, decided_at, arguments_edited). " +
                             "Totals over the turns beside them. An empty list for a step that has no paid turn (yet, or not an agent step). " +
                             "400 naming step_key when it is missing or longer than 500 characters; 404 for an unknown job or another tenant's.")
            .ProducesValidationProblem();
        return api;
    }

    private static async Task<Results<Ok<AgentTurnsResponse>, JobProblemResult, ValidationProblem>> GetTurnsAsync(
        Guid jobId,
        [FromQuery(Name = "step_key")] string? stepKey,
        LlmWorkflowDbContext db,
        AgentTurnsReader reader,
        DeletedJobs deletedJobs,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (await JobEndpoints.VisibleAsync(db, jobId, http, cancellationToken) is not true and var visible)
        {
            return await JobEndpoints.MissingAsync(jobId, visible is null, deletedJobs, http, cancellationToken);
        }

        if (string.IsNullOrWhiteSpace(stepKey) || stepKey.Length > MaxStepKeyChars)
        {
            return SubmissionProblem.ToResult([new SubmissionProblem("step_key",
                $"step_key is required: the agent step's step_key from GET /api/v1/status/{{job_id}} (at most {MaxStepKeyChars} characters).")]);
        }

        return TypedResults.Ok(await reader.ReadAsync(jobId, stepKey, cancellationToken));
    }
}
