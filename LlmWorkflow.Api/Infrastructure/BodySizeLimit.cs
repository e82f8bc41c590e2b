using Microsoft.AspNetCore.Http.Features;

namespace LlmWorkflow.Api.Infrastructure;

/// <summary>
/// Rejects declared-too-large bodies with a 413 problem; nothing of such a body is kept. Kestrel's own
/// <c>MaxRequestBodySize</c> (set to the same value) covers chunked bodies without a Content-Length.
/// </summary>
/// <remarks>
/// An HTTP/1.1 client sends its whole body before it reads the answer (few send <c>Expect: 100-continue</c>). Answered
/// first and disconnected, such a client fails while still writing (EPIPE, connection reset) and never sees the 413:
/// Node's fetch did, in the contract test. So, as nginx's lingering close does, a declared body up to
/// <see cref="DrainFactor"/> times the limit is first read and discarded, within <see cref="DrainTime"/>, and the
/// connection stays usable; a larger or slower one is answered at once and its connection closed.
/// </remarks>
public static class BodySizeLimit
{
    public const int DrainFactor = 16;
    private static readonly TimeSpan DrainTime = TimeSpan.FromSeconds(5);

    public static IApplicationBuilder UseBodySizeLimit(this IApplicationBuilder app, long maxBytes) =>
        app.Use(async (context, next) =>
        {
            if (context.Request.ContentLength is not { } declared || declared <= maxBytes)
            {
                await next(context);
                return;
            }

            if (declared <= maxBytes * DrainFactor && HttpProtocol.IsHttp11(context.Request.Protocol)
                && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = declared;
                using var drain = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
                drain.CancelAfter(DrainTime);
                try
                {
                    await context.Request.Body.CopyToAsync(Stream.Null, drain.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException or BadHttpRequestException)
                {
                    // Too slow, or the client went away: answer now; Kestrel closes the connection.
                }
            }

            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            await Results.Problem(
                title: "Request body too large",
                detail: $"The body is {declared} bytes; the limit is {maxBytes} bytes (Api:MaxRequestBodyBytes).",
                statusCode: StatusCodes.Status413PayloadTooLarge).ExecuteAsync(context);
        });
}
