namespace LlmWorkflow.Client;

/// <summary>One operation of the service's OpenAPI document and the client method that calls it.</summary>
/// <param name="ClientMethod">The <see cref="LlmWorkflowClient"/> method; null for a route the client leaves out on purpose.</param>
/// <param name="Note">Why the route is served by a hand-written method, or left out.</param>
public sealed record LlmWorkflowRoute(string Method, string Path, string OperationId, string? ClientMethod, string? Note);

/// <summary>
/// The route and schema tables the client was generated from (<c>Generated/LlmWorkflowRoutes.g.cs</c>). The sync
/// test compares them with the live OpenAPI document, so a route or field the service adds shows up as drift.
/// </summary>
public static partial class LlmWorkflowRoutes;
