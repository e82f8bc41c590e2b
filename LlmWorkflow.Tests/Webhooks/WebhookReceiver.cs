using System.Text;
using LlmWorkflow.Tests.Fakes;
using Microsoft.AspNetCore.Http;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>
/// A real HTTP webhook receiver on 127.0.0.1: answers scripted responses first (failures, redirects, slowness);
/// otherwise behaves like a correct receiver, verifying the Standard Webhooks signature with <see cref="Secret"/>
/// and answering 204, or 401 when the signature or timestamp is wrong.
/// </summary>
public sealed class WebhookReceiver : FakeHttpServer
{
    private WebhookReceiver(string secret) => Secret = secret;

    public string Secret { get; }

    /// <summary>Where to point a job's <c>webhook_url</c>.</summary>
    public string HookUrl => new Uri(BaseUrl, "hooks/llm").ToString();

    public static async Task<WebhookReceiver> StartAsync(string secret)
    {
        var receiver = new WebhookReceiver(secret);
        await receiver.StartServerAsync();
        return receiver;
    }

    public VerificationResult Verify(RecordedRequest request) => StandardWebhooksVerifier.Verify(
        Secret, request.Header("webhook-id"), request.Header("webhook-timestamp"), request.Header("webhook-signature"),
        Encoding.UTF8.GetBytes(request.Body), DateTimeOffset.UtcNow);

    /// <summary>Waits until at least <paramref name="count"/> requests arrived.</summary>
    public async Task<IReadOnlyList<RecordedRequest>> WaitForRequestsAsync(int count, TimeSpan timeout)
    {
        await Eventually.TrueAsync(() => Task.FromResult(CallCount >= count), timeout, $"{count} webhook request(s) (got {CallCount})");
        return Requests;
    }

    protected override string ErrorBody(int statusCode, string message) => $$"""{"error":"{{message}}"}""";

    protected override async Task HandleAsync(HttpContext context, RecordedRequest request)
    {
        var verified = Verify(request);
        context.Response.StatusCode = verified == VerificationResult.Valid ? StatusCodes.Status204NoContent : StatusCodes.Status401Unauthorized;
        if (verified != VerificationResult.Valid)
        {
            await context.Response.WriteAsync(verified.ToString(), context.RequestAborted);
        }
    }
}
