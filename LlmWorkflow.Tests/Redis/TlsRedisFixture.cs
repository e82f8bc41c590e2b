using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Tests.Hosting;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Redis;

/// <summary>
/// redis-server listening only on a TLS port with a freshly made self-signed certificate for "redis.test"
/// (the launcher has no TLS options, so this starts the process itself).
/// </summary>
public sealed class TlsRedisFixture : IAsyncLifetime
{
    private readonly TemporaryDirectory _directory = new();
    private Process? _server;

    public int Port { get; } = PortAllocator.GetFreePort();

    public X509Certificate2 Certificate { get; } = CreateCertificate();

    /// <summary>Trusts exactly this certificate, but still insists on a matching host name.</summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0
        && certificate is not null
        && certificate.GetCertHashString() == Certificate.GetCertHashString();

    public async ValueTask InitializeAsync()
    {
        var certFile = _directory.Combine("redis.crt");
        var keyFile = _directory.Combine("redis.key");
        await File.WriteAllTextAsync(certFile, Certificate.ExportCertificatePem());
        using (var key = Certificate.GetECDsaPrivateKey()!)
        {
            await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem());
        }
        var startInfo = new ProcessStartInfo(LlmWorkflow.AppHost.LocalServerPrograms.RedisServer()) { UseShellExecute = false, WorkingDirectory = _directory.Path };
        foreach (var argument in (string[])["--port", "0", "--tls-port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
            "--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-auth-clients", "no", "--save", "", "--appendonly", "no",
            "--dir", _directory.Path, "--logfile", _directory.Combine("redis.log")])
        {
            startInfo.ArgumentList.Add(argument);
        }
        _server = Process.Start(startInfo);
        // Waits until the server answers over TLS (it takes a moment to listen on a loaded machine).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var options = ConfigurationOptions.Parse($"127.0.0.1:{Port},ssl=true,sslHost=redis.test,connectTimeout=2000");
            options.CertificateValidation += Validate;
            try
            {
                await using var client = await ConnectionMultiplexer.ConnectAsync(options);
                await client.GetDatabase().PingAsync();
                return;
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, TestContext.Current.CancellationToken);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is { HasExited: false })
        {
            _server.Kill();
            await _server.WaitForExitAsync();
        }
        _server?.Dispose();
        Certificate.Dispose();
        _directory.Dispose();
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=redis.test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("redis.test");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
    }
}
