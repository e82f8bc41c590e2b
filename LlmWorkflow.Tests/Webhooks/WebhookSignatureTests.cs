using System.Text;
using LlmWorkflow.Worker.Webhooks;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>Signature vectors (computed independently with Python's hmac) and what a Standard Webhooks receiver accepts.</summary>
[UnitTest]
public sealed class WebhookSignatureTests
{
    // The Standard Webhooks specification's own test vector.
    private const string SpecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string SpecId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long SpecTimestamp = 1614265330;
    private static readonly byte[] SpecBody = Encoding.UTF8.GetBytes("""{"test": 2432232314}""");

    private const string PlainSecret = "plain-shared-secret";
    private const string Id = "msg_2bVhC1";
    private const long Timestamp = 1767225600;
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"event":"workflow.completed","job_id":"0193a5d2-0000-7000-8000-000000000001"}""");

    [Fact]
    public void StandardSignatureMatchesTheSpecificationVector() =>
        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", WebhookSignatures.Standard([SpecSecret], SpecId, SpecTimestamp, SpecBody));

    [Fact]
    public void LegacySignatureIsHexHmacOfTheBodyKeyedByTheSecretText()
    {
        Assert.Equal("sha256=066bf3ab67081e70bc799cdd2779f296dafa1f615e377570ad7af64fa444d58d", WebhookSignatures.Legacy(PlainSecret, Body));
        Assert.Equal("sha256=80ec8a89ce3cd22133a1066caecb4d04fea7467657c8514d717ec42c38a5c94c", WebhookSignatures.Legacy(SpecSecret, SpecBody));
    }

    [Fact]
    public void PlainSecretsAreUsedAsUtf8KeysAndRotationAddsOneSignaturePerSecret() =>
        Assert.Equal(
            "v1,nkrCIsYIR5bW7zpnVoLu4BYZGKoOrrQmpcLxUSQ1djE= v1,/OAaBL3soVBGJTvaOShPRxoZnT6WoS5hvYnJ7RqVDsQ=",
            WebhookSignatures.Standard([PlainSecret, "old-secret"], Id, Timestamp, Body));

    [Fact]
    public void ReceiverAcceptsGenuineDeliveries()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(SpecTimestamp).AddSeconds(30);
        var signature = WebhookSignatures.Standard([SpecSecret], SpecId, SpecTimestamp, SpecBody);
        Assert.Equal(VerificationResult.Valid, StandardWebhooksVerifier.Verify(SpecSecret, SpecId, SpecTimestamp.ToString(), signature, SpecBody, now));
        Assert.True(StandardWebhooksVerifier.VerifyLegacy(SpecSecret, WebhookSignatures.Legacy(SpecSecret, SpecBody), SpecBody));
    }

    [Fact]
    public void ReceiverHoldingEitherSecretAcceptsADeliveryDuringRotation()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(Timestamp);
        var signatures = WebhookSignatures.Standard(["new-secret", "old-secret"], Id, Timestamp, Body);
        Assert.Equal(VerificationResult.Valid, StandardWebhooksVerifier.Verify("old-secret", Id, Timestamp.ToString(), signatures, Body, now));
        Assert.Equal(VerificationResult.Valid, StandardWebhooksVerifier.Verify("new-secret", Id, Timestamp.ToString(), signatures, Body, now));
    }

    [Fact]
    public void ReceiverRejectsTamperedBodyStaleTimestampWrongSecretAndChangedId()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(Timestamp).AddSeconds(5);
        var signature = WebhookSignatures.Standard([PlainSecret], Id, Timestamp, Body);
        var tampered = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(Body).Replace("completed", "failed", StringComparison.Ordinal));

        Assert.Equal(VerificationResult.BadSignature, StandardWebhooksVerifier.Verify(PlainSecret, Id, Timestamp.ToString(), signature, tampered, now));
        Assert.Equal(VerificationResult.BadSignature, StandardWebhooksVerifier.Verify("wrong-secret", Id, Timestamp.ToString(), signature, Body, now));
        Assert.Equal(VerificationResult.BadSignature, StandardWebhooksVerifier.Verify(PlainSecret, "msg_other", Timestamp.ToString(), signature, Body, now));
        Assert.Equal(VerificationResult.StaleTimestamp,
            StandardWebhooksVerifier.Verify(PlainSecret, Id, Timestamp.ToString(), signature, Body, now.AddMinutes(6)));
        Assert.False(StandardWebhooksVerifier.VerifyLegacy(PlainSecret, WebhookSignatures.Legacy(PlainSecret, Body), tampered));
        Assert.False(StandardWebhooksVerifier.VerifyLegacy("wrong-secret", WebhookSignatures.Legacy(PlainSecret, Body), Body));
    }

    [Fact]
    public void MalformedStandardSecretFallsBackToItsUtf8Bytes() =>
        Assert.Equal(Encoding.UTF8.GetBytes("whsec_not base64!"), WebhookSignatures.StandardKey("whsec_not base64!"));
}
