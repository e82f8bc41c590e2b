using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace LlmWorkflow.Api.Infrastructure.OpenApi;

/// <summary>
/// The web JSON defaults also <em>read</em> numbers written as strings, so the generator declares every number as
/// <c>integer | string</c> with a pattern. The service always <em>writes</em> numbers as numbers, and clients
/// should send them so: declare plain integers and numbers.
/// </summary>
internal sealed class OpenApiNumberTypes : IOpenApiSchemaTransformer
{
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (schema.Type is { } type
            && (type.HasFlag(JsonSchemaType.Integer) || type.HasFlag(JsonSchemaType.Number))
            && type.HasFlag(JsonSchemaType.String))
        {
            schema.Type = type & ~JsonSchemaType.String;
            schema.Pattern = null;
        }

        return Task.CompletedTask;
    }
}
