using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.LoadTest;

/// <summary>
/// An OpenAI-compatible chat completions endpoint that answers every request after a fixed delay: plain http, or
/// https with a self-signed certificate and HTTP/2 offered, as a hosted provider serves it (Kestrel's default of 100
/// concurrent streams per connection).
/// </summary>
internal sealed class FakeLlmServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly X509Certificate2? _certificate;

    private FakeLlmServer(WebApplication app, X509Certificate2? certificate)
    {
        _app = app;
        _certificate = certificate;
    }

    public Uri ApiUrl { get; private set; } = null!;

    private long _firstArrival = long.MaxValue;
    private long _lastArrival = long.MinValue;

    /// <summary>When the first and the last request since <see cref="ForgetArrivals"/> arrived (Unix ms), or null.</summary>
    public (long First, long Last)? Arrivals =>
        Volatile.Read(ref _firstArrival) is var first and not long.MaxValue ? (first, Volatile.Read(ref _lastArrival)) : null;

    public void ForgetArrivals()
    {
        Volatile.Write(ref _firstArrival, long.MaxValue);
        Volatile.Write(ref _lastArrival, long.MinValue);
    }

    private void RecordArrival(long unixMs)
    {
        for (var first = Volatile.Read(ref _firstArrival); unixMs < first; first = Volatile.Read(ref _firstArrival))
        {
            if (Interlocked.CompareExchange(ref _firstArrival, unixMs, first) == first)
            {
                break;
            }
        }

        for (var last = Volatile.Read(ref _lastArrival); unixMs > last; last = Volatile.Read(ref _lastArrival))
        {
            if (Interlocked.CompareExchange(ref _lastArrival, unixMs, last) == last)
            {
                break;
            }
        }
    }

    /// <summary>
    /// With https, the certificate as PEM in a file of its own: a service trusts it (and nothing else) with
    /// <c>SSL_CERT_FILE</c> and <c>SSL_CERT_DIR</c>, which .NET reads on Linux.
    /// </summary>
    public string? CertificatePemFile { get; private set; }

    public static async Task<FakeLlmServer> StartAsync(TimeSpan latency, bool https = false)
    {
        var certificate = https ? CreateCertificate() : null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxConcurrentConnections = null;
            k.Listen(IPAddress.Loopback, 0, listen =>
            {
                if (certificate is not null)
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    listen.UseHttps(certificate);
                }
            });
        });
        var app = builder.Build();
        FakeLlmServer? server = null;
        app.MapPost("/v1/chat/completions", async (HttpContext context) =>
        {
            server!.RecordArrival(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            await Task.Delay(latency, context.RequestAborted);
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""
                {"id":"bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini",
                 "choices":[{"index":0,"message":{"role":"assistant","content":"42"},"finish_reason":"stop"}],
                 "usage":{"prompt_tokens":12,"completion_tokens":1,"total_tokens":13}}
                """, context.RequestAborted);
        });
        await app.StartAsync();
        server = new FakeLlmServer(app, certificate);
        server.ApiUrl = new Uri(app.Urls.First().TrimEnd('/') + "/v1/");
        if (certificate is not null)
        {
            var directory = Directory.CreateTempSubdirectory("llmwf-bench-tls-");
            server.CertificatePemFile = Path.Combine(directory.FullName, "fake-llm.pem");
            await File.WriteAllTextAsync(server.CertificatePemFile, certificate.ExportCertificatePem());
        }

        return server;
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=fake-llm", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(6));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>
    /// Points the services' <c>openai</c> provider at this fake (and, with https, makes them trust its certificate and
    /// nothing else).
    /// </summary>
    public void ConfigureServices(Dictionary<string, string> settings)
    {
        if (CertificatePemFile is { } pem)
        {
            settings["SSL_CERT_FILE"] = pem;
            settings["SSL_CERT_DIR"] = Path.GetDirectoryName(pem)!;
        }

        settings["Llm__Providers__openai__BaseUrl"] = ApiUrl.ToString();
        settings["Llm__Providers__openai__ApiKey"] = "sk-bench";
    }

    /// <summary>
    /// Answers <paramref name="concurrency"/> requests at once before the measurement, so the fake's own JIT and
    /// thread-pool growth (a real provider is never cold) are not counted against the worker.
    /// </summary>
    public async Task WarmUpAsync(int concurrency)
    {
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
        if (_certificate is { } certificate)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.GetCertHashString() == certificate.GetCertHashString();
        }

        using var http = new HttpClient(handler)
        {
            Timeout = TimeSpan.FromMinutes(2),
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        var url = new Uri(ApiUrl, "chat/completions");
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            using var response = await http.PostAsync(url, new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
            response.EnsureSuccessStatusCode();
        }));
        ForgetArrivals();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _certificate?.Dispose();
        if (CertificatePemFile is not null)
        {
            Directory.Delete(Path.GetDirectoryName(CertificatePemFile)!, recursive: true);
        }
    }
}
