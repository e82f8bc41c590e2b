using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Tests.External;

namespace LlmWorkflow.Tests.Security;

/// <summary>
/// SSRF through the generic http step: every redirect hop is checked like the first URL, and allowed names that
/// resolve to internal addresses are refused at connect time. Real sockets; the refused listener counts connections.
/// </summary>
[IntegrationTest]
public sealed class HttpStepRedirectTests
{
    [Fact]
    public async Task ARedirectFromAnAllowedHostToARefusedOneIsRefusedAndTheRefusedListenerSeesNoConnection()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var refused = RawListener.Start(_ => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecret");
        await using var redirector = RawListener.Start(_ => $"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{refused.Port}/internal\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(allowedHosts: "localhost"));

        var error = (await Assert.ThrowsAsync<WorkflowException>(() => gateway.CallAsync(
            "http", "get", new JsonObject { ["url"] = $"http://localhost:{redirector.Port}/start" }, ct))).Error;

        Assert.Equal((ErrorCategory.ConfigError, "redirect_not_allowed"), (error.Category, error.Type));
        Assert.Contains("127.0.0.1", error.Message, StringComparison.Ordinal);
        Assert.True(redirector.Connections >= 1);
        Assert.Equal(0, refused.Connections);
    }

    [Fact]
    public async Task AnAllowedNameThatResolvesToLoopbackIsRefusedUnlessPrivateNetworksAreAllowed()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var target = RawListener.Start(_ => "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}");
        var options = TestExternalGateways.Options(allowedHosts: "localhost");
        options.Http.AllowPrivateNetworks = false;
        var gateway = TestExternalGateways.Create(options);

        var error = (await Assert.ThrowsAsync<WorkflowException>(() => gateway.CallAsync(
            "http", "get", new JsonObject { ["url"] = $"http://localhost:{target.Port}/x" }, ct))).Error;

        Assert.Equal((ErrorCategory.ConfigError, "address_not_allowed"), (error.Category, error.Type));
        Assert.False(error.Retryable);
        Assert.Equal(0, target.Connections);
    }

    [Fact]
    public async Task ARedirectBetweenAllowedHostsIsFollowedWithoutTheCredentials()
    {
        var ct = TestContext.Current.CancellationToken;
        string? finalRequest = null;
        await using var target = RawListener.Start(request =>
        {
            finalRequest = request;
            return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}";
        });
        await using var redirector = RawListener.Start(_ => $"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{target.Port}/moved\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(allowedHosts: ["localhost", "127.0.0.1"]));

        var result = await gateway.CallAsync("http", "get", new JsonObject
        {
            ["url"] = $"http://localhost:{redirector.Port}/start",
            ["headers"] = new JsonObject { ["Authorization"] = "Bearer top-secret", ["X-Trace"] = "t1" },
        }, ct);

        Assert.True((bool)result!["ok"]!);
        Assert.Contains("GET /moved", finalRequest, StringComparison.Ordinal);
        Assert.Contains("X-Trace: t1", finalRequest, StringComparison.Ordinal);
        Assert.DoesNotContain("top-secret", finalRequest, StringComparison.Ordinal);
    }

    /// <summary>A loopback TCP listener that answers each connection with a fixed HTTP response and counts connections.</summary>
    private sealed class RawListener : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly Task _loop;
        private readonly CancellationTokenSource _stop = new();
        private int _connections;

        private RawListener(Func<string, string> respond)
        {
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            _loop = Task.Run(() => AcceptAsync(respond));
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Connections => Volatile.Read(ref _connections);

        public static RawListener Start(Func<string, string> respond) => new(respond);

        private async Task AcceptAsync(Func<string, string> respond)
        {
            while (!_stop.IsCancellationRequested)
            {
                using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _connections);
                await using var stream = client.GetStream();
                var buffer = new byte[16 * 1024];
                var received = new StringBuilder();
                while (!received.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var read = await stream.ReadAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        break;
                    }

                    received.Append(Encoding.Latin1.GetString(buffer, 0, read));
                }

                await stream.WriteAsync(Encoding.Latin1.GetBytes(respond(received.ToString())), _stop.Token);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            try
            {
                await _loop;
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Stopped while waiting for a connection.
            }

            _stop.Dispose();
        }
    }
}
