using LlmWorkflow.AppHost.Hosting;

namespace LlmWorkflow.Tests.Hosting;

public sealed class AppHostOptionsTests
{
    [Fact]
    public void NoArgumentsGiveTwoWorkersLocalServersAndPort5080()
    {
        var options = AppHostOptions.Parse([]);

        Assert.Equal(2, options.Workers);
        Assert.Equal(5080, options.ApiPort);
        Assert.Null(options.PostgresConnectionString);
        Assert.Null(options.RedisConnectionString);
        Assert.Null(options.DataDirectory);
        Assert.False(options.ShowHelp);
    }

    [Fact]
    public void ReadsEveryOptionInBothSpellings()
    {
        var options = AppHostOptions.Parse(
        [
            "--workers", "4", "--api-port=6000", "--postgres", "Host=db;Database=x", "--redis=cache:6379,password=p=q", "--data", "/tmp/d", "--help",
        ]);

        Assert.Equal(4, options.Workers);
        Assert.Equal(6000, options.ApiPort);
        Assert.Equal("Host=db;Database=x", options.PostgresConnectionString);
        Assert.Equal("cache:6379,password=p=q", options.RedisConnectionString);
        Assert.Equal("/tmp/d", options.DataDirectory);
        Assert.True(options.ShowHelp);
    }

    [Theory]
    [InlineData("--workers", "many")]
    [InlineData("--workers", "-1")]
    [InlineData("--api-port", "70000")]
    [InlineData("--colour", "blue")]
    [InlineData("--publisher", "kubernetes")]
    public void RejectsBadOptions(string name, string value)
    {
        var error = Assert.Throws<ArgumentException>(() => AppHostOptions.Parse([name, value]));
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsAnOptionWithoutItsValue() =>
        Assert.Throws<ArgumentException>(() => AppHostOptions.Parse(["--workers"]));

    [Fact]
    public void ReadsTheManifestPublisherAndItsOutputPath()
    {
        var options = AppHostOptions.Parse(["--publisher", "manifest", "--output-path", "out/aspire-manifest.json"]);

        Assert.Equal("manifest", options.Publisher);
        Assert.Equal("out/aspire-manifest.json", options.OutputPath);
        Assert.Null(AppHostOptions.Parse([]).Publisher);
    }
}
