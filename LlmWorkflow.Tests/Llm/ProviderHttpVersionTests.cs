using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Tests.Fakes;

namespace LlmWorkflow.Tests.Llm;

/// <summary>
/// Provider calls ask for HTTP/2 and accept HTTP/1.1 (<c>PreferHttp2Handler</c>, <c>LlmProviderRegistry.CreateTransport</c>),
/// against a real Kestrel fake: over TLS they agree on HTTP/2 and share connections, and calls past the server's
/// stream limit open another connection instead of waiting; over plain http they stay on HTTP/1.1.
/// </summary>
[IntegrationTest]
public sealed class ProviderHttpVersionTests
{
    private static readonly Dictionary<string, string> Keys = new() { ["OPENAI_API_KEY"] = "sk-test-openai-0123456789" };

    [Fact]
    public async Task OverTlsConcurrentCallsShareHttp2ConnectionsPastTheStreamLimit()
    {
        var ct = TestContext.Current.CancellationToken;
        using var certificate = SelfSignedLoopbackCertificate();
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { Certificate = certificate });
        // Past Kestrel's default limit of 100 concurrent streams per HTTP/2 connection.
        const int calls = 150;
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fake.AnswerGate = allArrived.Task;
        var transport = LlmProviderRegistry.CreateTransport();
        transport.SslOptions.RemoteCertificateValidationCallback =
            (_, presented, _, _) => presented is not null && presented.GetCertHashString() == certificate.GetCertHashString();
        var gateway = TestGateways.Create(
            TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys, transport: transport);

        var running = Enumerable.Range(0, calls).Select(i => gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o", $"call {i}"), ct)).ToArray();
        // No call is answered before all of them have arrived: a call queued behind the stream limit would arrive only
        // after its attempt timed out, as a retry.
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (fake.CallCount < calls && DateTimeOffset.UtcNow < deadline)
        {
            await Task.Delay(20, ct);
        }

        Assert.True(fake.Requests.Count == calls && fake.Requests.Select(r => r.Body).Distinct().Count() == calls,
            $"{fake.Requests.Count} requests ({fake.Requests.Select(r => r.Body).Distinct().Count()} distinct) reached the server for {calls} concurrent calls.");
        allArrived.SetResult();
        var results = await Task.WhenAll(running);

        Assert.All(results, r => Assert.Equal("Hello from the fake", r.Text));
        Assert.All(fake.Requests, r => Assert.Equal("HTTP/2", r.Protocol));
        // Shared: far fewer connections than calls; more than one: the stream limit opened another.
        Assert.InRange(fake.Requests.Select(r => r.ConnectionId).Distinct().Count(), 2, 10);
    }

    [Fact]
    public async Task OverPlainHttpCallsStayOnHttp11()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        var gateway = TestGateways.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() })), Keys);

        await gateway.CompleteAsync(TestGateways.Ask("openai/gpt-4o"), TestContext.Current.CancellationToken);

        Assert.Equal("HTTP/1.1", Assert.Single(fake.Requests).Protocol);
    }

    private static X509Certificate2 SelfSignedLoopbackCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=llm.test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        // Re-imported so the private key is usable by the server's TLS on every platform.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }
}
