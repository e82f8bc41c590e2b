using System.Net;
using System.Net.Sockets;
using System.Text;
using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Tests.Llm;

/// <summary>
/// <see cref="LoopbackAnswer"/>, the one-request server the worker's LLM rehearsal calls through the provider's real
/// transport: what it answers, to whom, and how it reads a request that arrives in pieces.
/// </summary>
public sealed class LoopbackAnswerTests
{
    [Fact]
    public async Task HttpClientGetsTheAnswerOverALoopbackConnection()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var answer = LoopbackAnswer.Start("application/json", """{"ok":true}""", ct);
        using var http = new HttpClient();

        using var response = await http.PostAsync(new Uri(answer.BaseUrl, "v1/chat/completions"),
            new StringContent(new string('x', 5000), Encoding.UTF8, "application/json"), ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("""{"ok":true}""", await response.Content.ReadAsStringAsync(ct));
        Assert.True(response.Headers.ConnectionClose);
        Assert.Equal(IPAddress.Loopback.ToString(), answer.BaseUrl.Host);
        await answer.Served.WaitAsync(TimeSpan.FromSeconds(10), ct);
    }

    [Fact]
    public async Task ItAnswersOnlyOnceTheWholeBodyHasArrived()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var answer = LoopbackAnswer.Start("text/plain", "done", ct);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, answer.BaseUrl.Port, ct);
        var stream = client.GetStream();

        // The head in two pieces (the header name in another case), then the body in two pieces.
        await stream.WriteAsync(Encoding.ASCII.GetBytes("POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 10\r"), ct);
        await stream.WriteAsync(Encoding.ASCII.GetBytes("\n\r\n12345"), ct);
        await Task.Delay(200, ct);
        Assert.False(answer.Served.IsCompleted);
        await stream.WriteAsync(Encoding.ASCII.GetBytes("67890"), ct);

        await answer.Served.WaitAsync(TimeSpan.FromSeconds(10), ct);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var reply = await reader.ReadToEndAsync(ct);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", reply, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\ndone", reply, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AConnectionClosedBeforeTheRequestEndsFailsTheAnswer()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var answer = LoopbackAnswer.Start("text/plain", "done", ct);
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, answer.BaseUrl.Port, ct);
            await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n123"), ct);
        }

        await Assert.ThrowsAsync<EndOfStreamException>(() => answer.Served.WaitAsync(TimeSpan.FromSeconds(10), ct));
    }

    [Fact]
    public async Task AContentLengthThatIsNotANumberIsRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stream = new MemoryStream(Encoding.ASCII.GetBytes("POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n"));

        await Assert.ThrowsAsync<InvalidDataException>(() => LoopbackAnswer.ReadRequestAsync(stream, ct));
    }

    [Fact]
    public async Task ARequestLargerThanItReadsIsRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stream = new MemoryStream(Encoding.ASCII.GetBytes("POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + new string('x', 100_000)));

        await Assert.ThrowsAsync<InvalidDataException>(() => LoopbackAnswer.ReadRequestAsync(stream, ct));
    }
}
