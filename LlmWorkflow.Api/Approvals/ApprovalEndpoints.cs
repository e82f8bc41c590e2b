using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmWorkflow.Api.Endpoints;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Storage.Approvals;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LlmWorkflow.Api.Approvals;

/// <summary>
/// Decision links: <c>GET /approvals/{token}</c> shows what an approval step waits on (what it shows, its prompt, the
/// job's cost so far and the estimated cost of the rest) with Approve / Reject; <c>POST /approvals/{token}</c> records
/// the decision as the wait's signal. No API key: the signed token (<see cref="ApprovalLinks"/>) is the capability, and a
/// bad one reveals nothing (one page for tampered, unknown and deleted). One decision per wait: the signal's idempotency
/// key is the wait's nonce, and a link of a wait no longer pending is refused (409); past its expiry, 410.
/// </summary>
internal static partial class ApprovalEndpoints
{
    public const int MaxCommentChars = 2000;

    public static IEndpointRouteBuilder MapApprovalEndpoints(this IEndpointRouteBuilder app)
    {
        var approvals = app.MapGroup("/approvals").WithTags("Approvals").AllowAnonymous();
        approvals.MapGet("/{token}", ShowAsync)
            .WithName("ShowApproval")
            .WithSummary("The decision page of an approval link (HTML, no API key)")
            .WithDescription("What the approval step shows (Markdown rendered, JSON pretty-printed), its prompt, the job's cost so far and the " +
                             "estimated cost of the rest, with Approve / Reject and a comment. ?decision=approve|reject only preselects a button: " +
                             "opening a link decides nothing. 404 for a link that is not valid, 410 when it expired, 409 when the decision was made. " +
                             "Never cached (no-store); strict Content-Security-Policy.")
            .Produces<string>(StatusCodes.Status200OK, "text/html")
            .Produces<string>(StatusCodes.Status404NotFound, "text/html")
            .Produces<string>(StatusCodes.Status409Conflict, "text/html")
            .Produces<string>(StatusCodes.Status410Gone, "text/html");
        approvals.MapPost("/{token}", DecideAsync)
            .WithName("DecideApproval")
            .WithSummary("Record the decision of an approval link (form: decision=approve|reject, comment)")
            .WithDescription("The decision becomes the approval step's output {approved, comment, decided_by: \"link\", decided_at} and the job " +
                             "resumes. Single use: 409 once the wait was decided (by this link, another, the API or the dashboard); 410 after " +
                             "the link's expiry; 404 for a link that is not valid; 400 for a missing decision or a comment over 2000 characters.")
            .Accepts<ApprovalForm>("application/x-www-form-urlencoded")
            .Produces<string>(StatusCodes.Status200OK, "text/html")
            .Produces<string>(StatusCodes.Status400BadRequest, "text/html")
            .Produces<string>(StatusCodes.Status404NotFound, "text/html")
            .Produces<string>(StatusCodes.Status409Conflict, "text/html")
            .Produces<string>(StatusCodes.Status410Gone, "text/html");
        return app;
    }

    private static async Task<IResult> ShowAsync(
        string token, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "decision")] string? decision, ApprovalLinks links, LlmWorkflowDbContext db,
        WorkflowCatalog catalog, DryRunPlanner planner, HttpContext http, CancellationToken cancellationToken)
    {
        var nonce = Protect(http.Response);
        var (pending, refusal) = await FindAsync(token, links, db, cancellationToken);
        if (pending is null)
        {
            return refusal!.ToPage(nonce);
        }

        var (job, wait, claims) = pending;
        var costSoFar = await db.JobSteps.AsNoTracking().Where(s => s.JobId == job.Id).SumAsync(s => s.CostUsd ?? 0m, cancellationToken);
        var (rest, unpriced) = EstimateRest(job, wait.StepId, catalog, planner);
        var subject = new ApprovalPage.Subject(job.WorkflowName, wait.StepId, (string?)wait.Approval?["prompt"], wait.Approval?["show"],
            costSoFar, rest, unpriced, claims.ExpiresAt, decision is "approve" or "reject" ? decision : null);
        return Results.Content(ApprovalPage.Decide(subject, nonce), "text/html; charset=utf-8");
    }

    private static async Task<IResult> DecideAsync(
        string token, ApprovalLinks links, LlmWorkflowDbContext db, JobLifecycleStore store, JobQueue queue, TimeProvider time,
        HttpContext http, CancellationToken cancellationToken)
    {
        var nonce = Protect(http.Response);
        var (pending, refusal) = await FindAsync(token, links, db, cancellationToken);
        if (pending is null)
        {
            return refusal!.ToPage(nonce);
        }

        var form = http.Request.HasFormContentType ? await http.Request.ReadFormAsync(cancellationToken) : null;
        var decision = form?["decision"].ToString();
        var comment = form?["comment"].ToString();
        if (decision is not ("approve" or "reject") || comment is { Length: > MaxCommentChars })
        {
            return new Refusal(StatusCodes.Status400BadRequest, "Decision not understood",
                $"Send decision=approve or decision=reject (a form), with a comment of at most {MaxCommentChars} characters.").ToPage(nonce);
        }

        var (job, wait, claims) = pending;
        var payload = new JsonObject
        {
            ["approved"] = decision == "approve",
            ["comment"] = string.IsNullOrWhiteSpace(comment) ? null : comment,
            ["decided_by"] = "link",
            ["decided_at"] = time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture),
        };
        var (added, _) = await SignalEndpoints.DeliverAsync(store, queue, job.Id, wait.Event ?? "approval", payload.ToJsonString(),
            ApprovalLinks.IdempotencyKey(claims.Nonce), cancellationToken);
        if (added.Duplicate)
        {
            return Decided.ToPage(nonce);
        }

        var (title, text) = decision == "approve"
            ? ("Approved", "Your approval was recorded; the job goes on.")
            : ("Rejected", "Your rejection was recorded.");
        return Results.Content(ApprovalPage.Message(title, text, nonce), "text/html; charset=utf-8");
    }

    private static readonly Refusal NotValid = new(StatusCodes.Status404NotFound, "Link not valid", "This decision link is not valid.");

    private static readonly Refusal Decided = new(StatusCodes.Status409Conflict, "Already decided",
        "This decision was already made, or the job no longer waits for it.");

    /// <summary>The pending wait a token stands for, or why it is refused.</summary>
    private static async Task<(Pending? Pending, Refusal? Refusal)> FindAsync(string token, ApprovalLinks links, LlmWorkflowDbContext db, CancellationToken cancellationToken)
    {
        var (check, claims) = links.Read(token);
        if (check == LinkCheck.Invalid)
        {
            return (null, NotValid);
        }

        if (check == LinkCheck.Expired)
        {
            return (null, new Refusal(StatusCodes.Status410Gone, "Link expired", "This decision link has expired."));
        }

        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == claims!.JobId, cancellationToken);
        if (job is null)
        {
            return (null, NotValid);
        }

        var wait = job.Status == JobStatus.Waiting ? JobLifecycleStore.ReadWait(job.WaitData?.RootElement.GetRawText()) : null;
        return wait is { Kind: "approval" } && wait.StepKey == claims!.StepKey && (string?)wait.Approval?["nonce"] == claims.Nonce
            ? (new Pending(job, wait, claims), null)
            : (null, Decided);
    }

    /// <summary>The expected cost of the steps after the approval (the dry-run estimator, with the job's input); null when it cannot be planned.</summary>
    private static (decimal? Usd, IReadOnlyList<string> Unpriced) EstimateRest(
        WorkflowJob job, string approvalStepId, WorkflowCatalog catalog, DryRunPlanner planner)
    {
        if (!catalog.TryGet(job.WorkflowName, out var workflow))
        {
            return (null, []);
        }

        // A nested approval (in a parallel branch or a for_each body) counts from the top-level step that holds it.
        var approvalIndex = WorkflowWalker.Walk(workflow).FirstOrDefault(l => l.Step.Id == approvalStepId) is { } location ? TopLevelIndex(location.JsonPath) : -1;
        try
        {
            var plan = planner.Plan(workflow, JsonNode.Parse(job.InputData.RootElement.GetRawText()));
            var rest = plan.Steps.Where(s => TopLevelIndex(s.JsonPath) > approvalIndex).ToList();
            var unpriced = rest.Where(s => s.Type == StepTypes.Llm && s.ExpectedCostUsd is null).SelectMany(s => s.Models).Distinct().ToList();
            return (rest.Sum(s => s.ExpectedCostUsd ?? 0m), unpriced);
        }
        catch (Exception ex) when (ex is WorkflowException or InvalidOperationException or System.Text.Json.JsonException)
        {
            return (null, []);
        }
    }

    private static int TopLevelIndex(string jsonPath) =>
        TopLevelPath().Match(jsonPath) is { Success: true } match ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : -1;

    [GeneratedRegex(@"^\$\.steps\[(\d+)\]")]
    private static partial Regex TopLevelPath();

    /// <summary>
    /// Every answer of these routes: never cached or indexed, no referrer (the address holds the token), and a CSP that
    /// allows the page's one inline style (by nonce), a form posting to itself, and nothing else. Returns the style nonce.
    /// </summary>
    private static string Protect(HttpResponse response)
    {
        var nonce = ApprovalPage.NewNonce();
        response.Headers.CacheControl = "no-store";
        response.Headers.Pragma = "no-cache";
        response.Headers.ContentSecurityPolicy =
            $"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.XFrameOptions = "DENY";
        response.Headers["X-Robots-Tag"] = "noindex";
        return nonce;
    }

    private sealed record Pending(WorkflowJob Job, RunWait Wait, DecisionClaims Claims);

    private sealed record Refusal(int StatusCode, string Title, string Text)
    {
        public IResult ToPage(string nonce) => Results.Content(ApprovalPage.Message(Title, Text, nonce), "text/html; charset=utf-8", statusCode: StatusCode);
    }
}

/// <summary>The decision form (for the OpenAPI document): decision=approve|reject and an optional comment.</summary>
internal sealed record ApprovalForm(string Decision, string? Comment);
