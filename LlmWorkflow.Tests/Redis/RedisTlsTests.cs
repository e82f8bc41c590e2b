using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Tests.Redis;

public sealed class RedisTlsTests(TlsRedisFixture tls) : IClassFixture<TlsRedisFixture>
{
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task TlsUrlWithSslHostCarriesCommandsAndBlockingReads()
    {
        var options = RedisConnectionOptions.Parse($"rediss://127.0.0.1:{tls.Port}/1?sslHost=redis.test");
        options.CertificateValidation = tls.Validate;
        await using var client = new RedisClient(options);

        Assert.True(await client.StringSetAsync("tls:key", "over tls", ct: _ct));
        Assert.Equal("over tls", await client.StringGetAsync("tls:key", _ct));
        Assert.Empty(await client.StreamReadAsync([("tls:stream", "$")], 1, TimeSpan.FromMilliseconds(50), _ct));
    }

    [Fact]
    public async Task CertificateForAnotherHostIsRejected()
    {
        await using var client = new RedisClient(tls.Options(sslHost: "other.test"));

        var error = await Assert.ThrowsAsync<RedisConnectionException>(() => client.PingAsync(_ct));

        Assert.Contains("Could not connect", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ManagedRedisConnectionStringAuthenticatesWithAPasswordOverTls()
    {
        // The form infra/ stores for Azure Managed Redis: host:port,password=<access key>,ssl=true,abortConnect=false.
        const string password = "access-key-with=and/+";
        await using (var admin = new RedisClient(tls.Options()))
        {
            await admin.ExecuteAsync("CONFIG", ["SET", "requirepass", password], _ct);
        }

        try
        {
            var options = RedisConnectionOptions.Parse($"127.0.0.1:{tls.Port},password={password},ssl=true,abortConnect=false,sslHost=redis.test");
            options.CertificateValidation = tls.Validate;
            Assert.True(options.Ssl);
            await using var client = new RedisClient(options);
            Assert.True(await client.StringSetAsync("tls:auth", "authenticated", ct: _ct));
            Assert.Equal("authenticated", await client.StringGetAsync("tls:auth", _ct));

            // Without the password the server refuses the connection's commands.
            await using var anonymous = new RedisClient(tls.Options());
            await Assert.ThrowsAnyAsync<RedisException>(() => anonymous.StringGetAsync("tls:auth", _ct));
        }
        finally
        {
            var options = tls.Options();
            options.Password = password;
            await using var admin = new RedisClient(options);
            await admin.ExecuteAsync("CONFIG", ["SET", "requirepass", ""], CancellationToken.None);
        }
    }
}
