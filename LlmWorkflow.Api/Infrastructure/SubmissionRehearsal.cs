namespace LlmWorkflow.Api.Infrastructure;

/// <summary>
/// Marks the one request <see cref="RehearsingServer"/> sends through the API's pipeline before it listens. Features are
/// set by the server, never by a client, so no request from outside can carry it. The request authenticates as
/// <see cref="Tenant"/> without a key, and its submission runs every step and keeps nothing: the batch INSERT is rolled
/// back and the dispatch goes to no stream (<c>JobSubmitter</c>, <c>SubmissionBatcher.RehearseAsync</c>).
/// </summary>
public sealed class SubmissionRehearsal
{
    /// <summary>The tenant the rehearsal authenticates as; nothing is stored for it.</summary>
    public const string Tenant = "warm-up";

    public static bool IsRehearsal(HttpContext context) => context.Features.Get<SubmissionRehearsal>() is not null;
}
