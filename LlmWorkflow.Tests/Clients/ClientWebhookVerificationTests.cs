using System.Text;
using LlmWorkflow.Client;
using LlmWorkflow.Worker.Webhooks;
using Microsoft.AspNetCore.Http;
using StandardWebhooks.Diagnostics;

namespace LlmWorkflow.Tests.Clients;

/// <summary>
/// LlmWorkflow.Client reads both forms of secret the service signs with (docs/WEBHOOKS.md): a <c>whsec_</c> secret as
/// its base64-decoded bytes and any other as its UTF-8 bytes, and accepts a delivery signed during a rotation with
/// either secret. Signed here by the Worker's own signer; the samples verify real deliveries.
/// </summary>
[UnitTest]
public sealed class ClientWebhookVerificationTests
{
    private const string Body = """{"event":"workflow.completed","job_id":"6f1c2b1e-8a3d-4d7e-9a51-0c3b9e2f4a10","status":"completed"}""";

    private static HeaderDictionary SignedHeaders(IEnumerable<string> secrets, long? timestamp = null)
    {
        var at = timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return new HeaderDictionary
        {
            ["webhook-id"] = "msg_1",
            ["webhook-timestamp"] = at.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["webhook-signature"] = WebhookSignatures.Standard(secrets, "msg_1", at, Encoding.UTF8.GetBytes(Body)),
        };
    }

    [Theory]
    [InlineData("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    [InlineData("a plain service secret")]
    public void VerifiesEitherFormOfSecret(string secret)
    {
        var delivery = LlmWorkflowWebhooks.Verify(Body, SignedHeaders([secret]), [secret]);
        Assert.Equal("workflow.completed", delivery.Event);
        Assert.Equal(Guid.Parse("6f1c2b1e-8a3d-4d7e-9a51-0c3b9e2f4a10"), delivery.JobId);
    }

    [Fact]
    public void DuringARotationAReceiverHoldingEitherSecretAccepts()
    {
        var headers = SignedHeaders(["whsec_bmV3LXNlY3JldC1ieXRlcy0xMjM0NTY=", "old secret"]);
        Assert.Equal("workflow.completed", LlmWorkflowWebhooks.Verify(Body, headers, ["old secret"]).Event);
        Assert.Equal("workflow.completed", LlmWorkflowWebhooks.Verify(Body, headers, ["whsec_bmV3LXNlY3JldC1ieXRlcy0xMjM0NTY="]).Event);
    }

    [Fact]
    public void RefusesAnotherSecretAnAlteredBodyAndAnOldTimestamp()
    {
        var headers = SignedHeaders(["right secret"]);
        Assert.Throws<WebhookVerificationException>(() => LlmWorkflowWebhooks.Verify(Body, headers, ["wrong secret"]));
        Assert.Throws<WebhookVerificationException>(() => LlmWorkflowWebhooks.Verify(Body.Replace("completed", "failed", StringComparison.Ordinal), headers, ["right secret"]));
        var old = SignedHeaders(["right secret"], DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeSeconds());
        Assert.Throws<WebhookVerificationException>(() => LlmWorkflowWebhooks.Verify(Body, old, ["right secret"]));
    }
}
