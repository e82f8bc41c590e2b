using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using LlmWorkflow.Api.Auth;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Pipeline;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Pipeline.Redis;
using Microsoft.Extensions.Options;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace LlmWorkflow.Api.Infrastructure;

/// <summary>
/// Before the API takes traffic (hosted services start before Kestrel listens), pays once what its first requests
/// would otherwise pay together: the endpoints' request delegates built, a Redis and a database round trip, the key
/// lookup, the queue-wait estimate, and a rehearsal of a submission — its body read as the endpoint reads it, then
/// <see cref="JobSubmitter.RehearseAsync"/>, which validates, builds and flushes a job and keeps nothing.
/// Measured (bench/README.md, S1): the first 32 concurrent submissions to a fresh API waited 87–103 ms each before
/// the rehearsal, 45–62 ms with it.
/// </summary>
public sealed class ApiWarmup(IServiceProvider services, ILogger<ApiWarmup> logger) : StartupWarmup(logger, "requests")
{
    protected override async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        _ = services.GetRequiredService<EndpointDataSource>().Endpoints;
        await services.GetRequiredService<IRedisClient>().PingAsync(cancellationToken);
        // A digest no key has (all zero bytes): the lookup finds nothing and caches nothing.
        await services.GetRequiredService<ApiKeyStore>().FindByDigestAsync(new byte[32], cancellationToken);
        await services.GetRequiredService<QueueWaitEstimator>().EstimateSecondsAsync(0, cancellationToken);
        if (services.GetRequiredService<WorkflowCatalog>().All.FirstOrDefault() is { } workflow)
        {
            await RehearseSubmissionAsync(workflow.Name, cancellationToken);
        }
    }

    private async Task RehearseSubmissionAsync(string workflowName, CancellationToken cancellationToken)
    {
        var json = services.GetRequiredService<IOptions<HttpJsonOptions>>().Value.SerializerOptions;
        var body = Encoding.UTF8.GetBytes($$$"""{"workflow_name":{{{JsonSerializer.Serialize(workflowName)}}},"input_data":{}}""");
        // Read from a pipe, as the endpoint reads a request body.
        var request = await JsonSerializer.DeserializeAsync<SubmitWorkflowRequest>(PipeReader.Create(new ReadOnlySequence<byte>(body)), json, cancellationToken);
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<JobSubmitter>().RehearseAsync(
            new JobSubmission { WorkflowName = request!.WorkflowName!, InputData = request.InputData ?? [], TenantId = "warm-up" },
            cancellationToken);
    }
}
