using System.Net;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Asks for HTTP/2 on every provider call and accepts HTTP/1.1. Over TLS the version is agreed in the handshake
/// (ALPN): the hosted providers (OpenAI, OpenRouter, Anthropic) offer HTTP/2, so a worker's hundreds of concurrent
/// calls share a few connections instead of opening (and paying a TLS handshake for) one each. Over plain http
/// (a local OpenAI-compatible server) HTTP/1.1 is used, as before. The SDKs build their own request messages, whose
/// version is 1.1 unless set, so it is set here rather than on the <see cref="HttpClient"/>.
/// </summary>
internal sealed class PreferHttp2Handler : DelegatingHandler
{
    /// <summary>For IHttpClientFactory, which links the handlers itself.</summary>
    public PreferHttp2Handler()
    {
    }

    public PreferHttp2Handler(HttpMessageHandler inner) : base(inner)
    {
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Version = HttpVersion.Version20;
        request.VersionPolicy = HttpVersionPolicy.RequestVersionOrLower;
        return base.SendAsync(request, cancellationToken);
    }
}
