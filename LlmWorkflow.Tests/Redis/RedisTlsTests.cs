using LlmWorkflow.Engine.Redis;

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
}
