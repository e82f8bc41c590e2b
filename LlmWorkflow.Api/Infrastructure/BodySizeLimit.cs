namespace LlmWorkflow.Api.Infrastructure;

/// <summary>
/// Rejects declared-too-large bodies with a 413 problem before any of it is read. Kestrel's own
/// <c>MaxRequestBodySize</c> (set to the same value) covers chunked bodies without a Content-Length.
/// </summary>
public static class BodySizeLimit
{
    public static IApplicationBuilder UseBodySizeLimit(this IApplicationBuilder app, long maxBytes) =>
        app.Use(async (context, next) =>
        {
            if (context.Request.ContentLength > maxBytes)
            {
                context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                await Results.Problem(
                    title: "Request body too large",
                    detail: $"The body is {context.Request.ContentLength} bytes; the limit is {maxBytes} bytes (Api:MaxRequestBodyBytes).",
                    statusCode: StatusCodes.Status413PayloadTooLarge).ExecuteAsync(context);
                return;
            }

            await next(context);
        });
}
