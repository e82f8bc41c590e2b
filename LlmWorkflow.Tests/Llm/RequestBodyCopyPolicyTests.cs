using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Net;
using System.Text;
using LlmWorkflow.Engine.Llm;
using OpenAI;
using OpenAI.Chat;

namespace LlmWorkflow.Tests.Llm;

/// <summary>
/// The OpenAI SDK's request bodies are sent from arrays of their own (<see cref="RequestBodyCopyPolicy"/>): the body
/// a provider receives is the SDK's byte for byte, and the SDK's pooled buffers are back in the shared pool while the
/// call waits for its answer, each returned exactly once (the pool's own events, read with an <see cref="EventListener"/>).
/// </summary>
[Collection(PoolEventsCollection.Name)]
[UnitTest]
public sealed class RequestBodyCopyPolicyTests
{
    private const string Completion = """
        {"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}
        """;

    [Fact]
    public async Task TheProviderReceivesTheSdksBodyByteForByte()
    {
        var ct = TestContext.Current.CancellationToken;
        var messages = new ChatMessage[] { new SystemChatMessage("Be brief ✓"), new UserChatMessage(new string('x', 40_000) + " \"quoted\"") };
        var options = new ChatCompletionOptions { Temperature = 0.3f, MaxOutputTokenCount = 20 };

        var plain = new RecordingHandler();
        await Client(plain, withPolicy: false).CompleteChatAsync(messages, options, ct);
        var copied = new RecordingHandler();
        await Client(copied, withPolicy: true).CompleteChatAsync(messages, options, ct);

        Assert.True(plain.Bodies.Single().Length > 40_000);
        Assert.Equal(plain.Bodies.Single(), copied.Bodies.Single());
    }

    [Fact]
    public async Task TheSdksPooledBodyBuffersAreBackInThePoolWhileTheCallWaitsForItsAnswerReturnedOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        using var pool = new PoolEvents();
        var handler = new RecordingHandler { OnWaiting = () => pool.Mark("waiting") };
        var client = Client(handler, withPolicy: true);

        for (var i = 0; i < 20; i++)
        {
            pool.Mark("call");
            await client.CompleteChatAsync([new UserChatMessage($"question {i}")], cancellationToken: ct);
        }

        var events = pool.Snapshot();
        Assert.Empty(PoolEvents.ReturnedTwice(events));
        // Once the body has gone out and the call waits for the provider, every array rented on the calling thread since
        // the call began is back (the body is written there, before the call's first real wait); other threads'
        // rentals are not the call's.
        var calls = 0;
        var rented = 0;
        var callThread = 0;
        var outstanding = new HashSet<int>();
        foreach (var e in events)
        {
            switch (e.Kind)
            {
                case "call": calls++; callThread = e.Thread; outstanding.Clear(); break;
                case "BufferRented" or "BufferAllocated" when e.Thread == callThread && e.Size >= 1024: rented++; outstanding.Add(e.BufferId); break;
                case "BufferReturned": outstanding.Remove(e.BufferId); break;
                case "waiting": Assert.Empty(outstanding); break;
            }
        }

        Assert.Equal(20, calls);
        Assert.True(rented >= 20, $"Only {rented} body buffers were seen rented: the pool's events did not arrive.");
    }

    private static ChatClient Client(HttpMessageHandler handler, bool withPolicy)
    {
        var options = new OpenAIClientOptions
        {
            Endpoint = new Uri("http://provider.invalid/v1"),
            Transport = new HttpClientPipelineTransport(new HttpClient(handler)),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        };
        if (withPolicy)
        {
            options.AddPolicy(new RequestBodyCopyPolicy(), PipelinePosition.PerCall);
        }

        return new ChatClient("m", new ApiKeyCredential("sk-test"), options);
    }

    private sealed class RecordingHandler : HttpMessageHandler
    {
        public ConcurrentQueue<byte[]> Bodies { get; } = new();

        /// <summary>Called once the body has been read, where a provider would be thinking.</summary>
        public Action? OnWaiting { get; init; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Bodies.Enqueue(await request.Content!.ReadAsByteArrayAsync(cancellationToken));
            OnWaiting?.Invoke();
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(Completion, Encoding.UTF8, "application/json") };
        }
    }

    /// <summary>The shared array pool's rent and return events, in order, with marks of the test's own.</summary>
    private sealed class PoolEvents : EventListener
    {
        private readonly List<(string Kind, int BufferId, int Size, int Thread)> _events = [];
        public void Mark(string kind)
        {
            lock (_events)
            {
                _events.Add((kind, 0, 0, Environment.CurrentManagedThreadId));
            }
        }

        public List<(string Kind, int BufferId, int Size, int Thread)> Snapshot()
        {
            lock (_events)
            {
                return [.. _events];
            }
        }

        /// <summary>Arrays returned twice with no rental between: the pool would hand them to two renters.</summary>
        public static List<int> ReturnedTwice(List<(string Kind, int BufferId, int Size, int Thread)> events)
        {
            var returned = new HashSet<int>();
            var twice = new List<int>();
            foreach (var (kind, id, _, _) in events)
            {
                if (kind is "BufferRented" or "BufferAllocated")
                {
                    returned.Remove(id);
                }
                else if (kind == "BufferReturned" && !returned.Add(id))
                {
                    twice.Add(id);
                }
            }

            return twice;
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "System.Buffers.ArrayPoolEventSource")
            {
                EnableEvents(eventSource, EventLevel.Verbose);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventName is not ("BufferRented" or "BufferAllocated" or "BufferReturned") || eventData.Payload is not { } payload)
            {
                return;
            }

            var id = (int)payload[eventData.PayloadNames!.IndexOf("bufferId")]!;
            var size = (int)payload[eventData.PayloadNames.IndexOf("bufferSize")]!;
            lock (_events)
            {
                // An in-process listener is called on the thread that rents or returns.
                _events.Add((eventData.EventName!, id, size, Environment.CurrentManagedThreadId));
            }
        }
    }
}

/// <summary>Tests that read the process-wide array pool's events run alone, so no other test's rentals mix in.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PoolEventsCollection
{
    public const string Name = "array pool events";
}
