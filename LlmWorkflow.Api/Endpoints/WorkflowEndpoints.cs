using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Diagrams;
using LlmWorkflow.Engine.Execution;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>The workflow catalog and the dry run.</summary>
internal static class WorkflowEndpoints
{
    public static RouteGroupBuilder MapWorkflowEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/workflows", List)
            .WithName("ListWorkflows")
            .WithSummary("The workflows this service runs, with their input schemas");
        api.MapGet("/workflows/{name}", Get)
            .WithName("GetWorkflow")
            .WithSummary("One workflow definition as loaded");
        api.MapGet("/workflows/{name}/diagram", Diagram)
            .WithName("GetWorkflowDiagram")
            .WithSummary("The workflow as a Mermaid flowchart (text/plain), generated deterministically from the definition")
            .Produces<string>(StatusCodes.Status200OK, "text/plain");
        api.MapPost("/workflow/validate", Validate)
            .WithName("ValidateWorkflow")
            .WithSummary("Dry run: validation problems, execution plan and cost estimate, with no calls made")
            .WithDescription("Give workflow_name (a catalog workflow) or workflow (an ad-hoc definition), and input_data. " +
                             "The answer lists every problem with its JSON path and a fix hint (model checks included: unknown " +
                             "provider, missing API key, unpriced model), the steps of every branch with rendered prompts and " +
                             "estimated tokens, and min/expected/max cost from the same price table billing uses.");
        return api;
    }

    private static Ok<IReadOnlyList<WorkflowSummary>> List(WorkflowCatalog catalog) =>
        TypedResults.Ok<IReadOnlyList<WorkflowSummary>>(catalog.All
            .Select(w => new WorkflowSummary(w.Name, w.Version, w.Description, w.Steps.Count, w.InputSchema))
            .ToArray());

    private static Results<Ok<WorkflowDefinition>, NotFoundProblem> Get(string name, WorkflowCatalog catalog) =>
        catalog.TryGet(name, out var workflow)
            ? TypedResults.Ok(workflow)
            : NotFoundProblems.Workflow(name);

    private static Results<ContentHttpResult, NotFoundProblem> Diagram(string name, WorkflowCatalog catalog) =>
        catalog.TryGet(name, out var workflow)
            ? TypedResults.Text(MermaidDiagram.Generate(workflow), "text/plain")
            : NotFoundProblems.Workflow(name);

    private static Results<Ok<DryRunPlan>, Microsoft.AspNetCore.Http.HttpResults.ValidationProblem, NotFoundProblem> Validate(
        ValidateWorkflowRequest request, WorkflowCatalog catalog, DryRunPlanner planner)
    {
        WorkflowDefinition? workflow;
        if (request.Workflow is { } adHoc)
        {
            var loaded = WorkflowDefinitionLoader.Parse(adHoc.ToJsonString(), "request.workflow");
            if (loaded.Definition is null)
            {
                return TypedResults.ValidationProblem(
                    loaded.Problems.GroupBy(p => "workflow" + p.JsonPath.TrimStart('$'))
                        .ToDictionary(g => g.Key, g => g.Select(p => $"{p.Message} Hint: {p.Hint}").ToArray()));
            }

            workflow = loaded.Definition;
        }
        else if (string.IsNullOrWhiteSpace(request.WorkflowName))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["workflow_name"] = ["Give workflow_name or workflow."] });
        }
        else if (!catalog.TryGet(request.WorkflowName, out workflow))
        {
            return NotFoundProblems.Workflow(request.WorkflowName);
        }

        // A submission of this input would be refused for its concurrency key: the dry run says so the same way.
        if (workflow.Concurrency?.Resolve(request.InputData ?? [], []) is { Problem: { } keyProblem })
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["input_data"] = [keyProblem] });
        }

        return TypedResults.Ok(planner.Plan(workflow, request.InputData ?? []));
    }
}
