using LlmWorkflow.Storage.Redis;

namespace LlmWorkflow.Tests.Redis;

[UnitTest]
public sealed class RedisConnectionOptionsTests
{
    [Fact]
    public void ParsesTheStackExchangeForm()
    {
        var options = RedisConnectionOptions.Parse(
            "cache.example:6390,password=p@ss=word,ssl=true,user=app,defaultDatabase=3,connectTimeout=1500,syncTimeout=2500,abortConnect=false,sslHost=redis.example");

        Assert.Equal("cache.example", options.Host);
        Assert.Equal(6390, options.Port);
        Assert.Equal("app", options.User);
        Assert.Equal("p@ss=word", options.Password);
        Assert.True(options.Ssl);
        Assert.Equal("redis.example", options.SslHost);
        Assert.Equal(3, options.Database);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), options.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), options.CommandTimeout);
    }

    [Fact]
    public void StackExchangeFormDefaultsAndKeyCase()
    {
        var plain = RedisConnectionOptions.Parse("localhost");
        Assert.Equal(("localhost", 6379, false, 0), (plain.Host, plain.Port, plain.Ssl, plain.Database));
        Assert.Null(plain.Password);

        var tls = RedisConnectionOptions.Parse("redis.example, SSL=True, PASSWORD=x, unknownKey=whatever");
        Assert.Equal(6380, tls.Port); // StackExchange.Redis's default TLS port
        Assert.True(tls.Ssl);
        Assert.Equal("x", tls.Password);
    }

    [Theory]
    [InlineData("[::1]:7000", "::1", 7000)]
    [InlineData("::1", "::1", 6379)]
    [InlineData("10.0.0.5:7001,10.0.0.6:7001", "10.0.0.5", 7001)]
    public void ParsesEndpoints(string connectionString, string host, int port)
    {
        var options = RedisConnectionOptions.Parse(connectionString);
        Assert.Equal((host, port), (options.Host, options.Port));
    }

    [Fact]
    public void ParsesRedisUrls()
    {
        var options = RedisConnectionOptions.Parse("redis://app:p%40ss%3Aword@cache.example:6390/2?syncTimeout=700");

        Assert.Equal(("cache.example", 6390, 2), (options.Host, options.Port, options.Database));
        Assert.Equal("app", options.User);
        Assert.Equal("p@ss:word", options.Password);
        Assert.False(options.Ssl);
        Assert.Equal(TimeSpan.FromMilliseconds(700), options.CommandTimeout);
    }

    [Fact]
    public void ParsesTlsUrlsAndPasswordOnlyUserInfo()
    {
        var options = RedisConnectionOptions.Parse("rediss://:secret@cache.example");

        Assert.True(options.Ssl);
        Assert.Equal(6379, options.Port);
        Assert.Null(options.User);
        Assert.Equal("secret", options.Password);
        Assert.Equal(0, options.Database);
    }

    [Fact]
    public void ParsesIpv6Urls()
    {
        var options = RedisConnectionOptions.Parse("redis://[::1]:7002/1");
        Assert.Equal(("::1", 7002, 1), (options.Host, options.Port, options.Database));
    }

    [Theory]
    [InlineData("password=only")]
    [InlineData("localhost:notaport")]
    [InlineData("localhost,defaultDatabase=x")]
    [InlineData("localhost,ssl=maybe")]
    [InlineData("redis://host/notadb")]
    public void RejectsMalformedStrings(string connectionString) =>
        Assert.Throws<FormatException>(() => RedisConnectionOptions.Parse(connectionString));

    [Fact]
    public void ToStringLeavesThePasswordOut()
    {
        var text = RedisConnectionOptions.Parse("rediss://app:topsecret@cache.example:6390/4").ToString();
        Assert.Equal("rediss://app@cache.example:6390/4", text);
    }
}
