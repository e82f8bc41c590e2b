using System.Net;
using System.Text;
using Microsoft.Extensions.Options;
using LlmWorkflow.Engine.Network;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Worker.Webhooks;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>Private-network protection: refused at submission for literal hosts and localhost, at connect time otherwise.</summary>
[IntegrationTest]
public sealed class WebhookSsrfTests
{
    [Theory]
    [InlineData("http://127.0.0.1/hook")]
    [InlineData("http://127.8.9.10:8080/hook")]
    [InlineData("http://10.0.0.5/hook")]
    [InlineData("http://172.16.0.1/hook")]
    [InlineData("http://172.31.255.255/hook")]
    [InlineData("http://192.168.1.20/hook")]
    [InlineData("http://100.64.0.1/hook")]
    [InlineData("http://0.0.0.0/hook")]
    [InlineData("http://224.0.0.1/hook")]
    [InlineData("http://255.255.255.255/hook")]
    [InlineData("http://2130706433/hook")]
    [InlineData("http://0x7f.1/hook")]
    [InlineData("http://0x7f000001/hook")]
    [InlineData("http://017700000001/hook")]
    [InlineData("http://0177.0.0.1/hook")]
    [InlineData("http://127.1/hook")]
    [InlineData("http://[::1]/hook")]
    [InlineData("http://[::]/hook")]
    [InlineData("http://[::ffff:127.0.0.1]/hook")]
    [InlineData("http://[fc00::1]/hook")]
    [InlineData("http://[fd12:3456::1]/hook")]
    [InlineData("http://[64:ff9b::10.0.0.1]/hook")]
    [InlineData("http://localhost/hook")]
    [InlineData("https://LOCALHOST:8443/hook")]
    [InlineData("http://api.localhost/hook")]
    // Link-local and metadata addresses: refused even with private networks allowed (the theory after the next).
    public void NonPublicDestinationsAreRefusedAtSubmission(string url)
    {
        var problem = WebhookUrlPolicy.Check(url, allowPrivateNetworks: false);

        Assert.NotNull(problem);
        Assert.Contains("private networks are not allowed", problem, StringComparison.Ordinal);
        Assert.Null(WebhookUrlPolicy.Check(url, allowPrivateNetworks: true));
    }

    [Theory]
    [InlineData("https://app.example.com/api/webhooks/llm-callback")]
    [InlineData("http://93.184.216.34/hook")]
    [InlineData("http://172.32.0.1/hook")]
    [InlineData("http://100.128.0.1/hook")]
    [InlineData("http://[2606:4700:4700::1111]/hook")]
    [InlineData("http://localhost.example.com/hook")]
    public void PublicDestinationsAreAccepted(string url) =>
        Assert.Null(WebhookUrlPolicy.Check(url, allowPrivateNetworks: false));

    [Theory]
    [InlineData("ftp://example.com/hook")]
    [InlineData("file:///etc/passwd")]
    [InlineData("/relative/hook")]
    [InlineData("not a url")]
    public void OnlyAbsoluteHttpUrlsAreAccepted(string url)
    {
        Assert.Equal("webhook_url must be an absolute http:// or https:// URL.", WebhookUrlPolicy.Check(url, allowPrivateNetworks: false));
        Assert.NotNull(WebhookUrlPolicy.Check(url, allowPrivateNetworks: true));
    }

    [Theory]
    [InlineData("::ffff:10.1.2.3", "private (10.0.0.0/8)")]
    [InlineData("::ffff:169.254.169.254", "link-local (169.254.0.0/16, cloud metadata)")]
    [InlineData("::127.0.0.1", "loopback (127.0.0.0/8)")]
    [InlineData("ff02::1", "multicast (ff00::/8)")]
    [InlineData("8.8.8.8", null)]
    [InlineData("2001:4860:4860::8888", null)]
    public void AddressesAreClassifiedIncludingEmbeddedIPv4(string address, string? range) =>
        Assert.Equal(range, NetworkAddressPolicy.BlockedRange(IPAddress.Parse(address)));

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://169.254.1.1:8080/hook")]
    [InlineData("http://[::ffff:169.254.169.254]/")]
    [InlineData("http://[::ffff:a9fe:a9fe]/hook")]
    [InlineData("http://[fd00:ec2::254]/latest/meta-data/")]
    [InlineData("http://[fe80::1]/hook")]
    [InlineData("http://100.100.100.200/latest/meta-data/")]
    [InlineData("http://metadata.google.internal/computeMetadata/v1/")]
    [InlineData("http://0xA9FEA9FE/")]
    public void LinkLocalAndCloudMetadataAddressesAreRefusedEvenWhenPrivateNetworksAreAllowed(string url)
    {
        var refusal = WebhookUrlPolicy.Check(url, allowPrivateNetworks: true);
        Assert.NotNull(refusal);
        Assert.Contains("never allowed", refusal, StringComparison.Ordinal);
        Assert.Null(WebhookUrlPolicy.Check("http://10.0.0.5:9000/hook", allowPrivateNetworks: true));
    }

    [Theory]
    [InlineData("169.254.169.254")]
    [InlineData("fd00:ec2::254")]
    [InlineData("::ffff:169.254.169.254")]
    public async Task ConnectionsToMetadataAddressesAreRefusedWithPrivateNetworksAllowed(string address)
    {
        var refused = await Assert.ThrowsAsync<WebhookDestinationBlockedException>(() => GuardedConnector.ConnectAsync(
            new DnsEndPoint(address, 80), allowPrivateNetworks: true, TestContext.Current.CancellationToken, "External:Http:AllowPrivateNetworks").AsTask());
        Assert.Contains("never allowed", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostNameResolvingToLoopbackIsRefusedAtConnectTime()
    {
        await using var receiver = await WebhookReceiver.StartAsync("secret");
        var endpoint = new DnsEndPoint("localhost", receiver.BaseUrl.Port);

        var refused = await Assert.ThrowsAsync<WebhookDestinationBlockedException>(
            () => GuardedConnector.ConnectAsync(endpoint, allowPrivateNetworks: false, TestContext.Current.CancellationToken).AsTask());
        Assert.Contains("'localhost' resolves to", refused.Message, StringComparison.Ordinal);

        await using var allowed = await GuardedConnector.ConnectAsync(endpoint, allowPrivateNetworks: true, TestContext.Current.CancellationToken);
        Assert.True(allowed.CanWrite);
    }

    [Fact]
    public async Task DeliveryToABlockedHostFailsPermanentlyWithoutReachingIt()
    {
        await using var receiver = await WebhookReceiver.StartAsync("secret");
        var options = new WebhookOptions { AllowPrivateNetworks = false };
        using var sender = new WebhookSender(new HttpClient(WebhookSender.CreateTransport(options)), Options.Create(options));
        var url = new UriBuilder(receiver.HookUrl) { Host = "localhost" }.Uri.ToString();

        var result = await sender.SendAsync(
            new WebhookRequest(url, "msg_1", WebhookEventTypes.Completed, Encoding.UTF8.GetBytes("{}"), ["secret"], DateTimeOffset.UtcNow),
            TestContext.Current.CancellationToken);

        Assert.Equal(WebhookSendOutcome.PermanentFailure, result.Outcome);
        Assert.Contains("private networks are not allowed (Webhooks:AllowPrivateNetworks)", result.Error, StringComparison.Ordinal);
        Assert.Null(result.HttpStatus);
        Assert.Equal(0, receiver.CallCount);
    }
}
