using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using LlmWorkflow.Engine;

namespace LlmWorkflow.Tests.Telemetry;

/// <summary>Document 004: e-mail addresses never reach a log provider, in the message or in the structured arguments.</summary>
[UnitTest]
public sealed class LogRedactionTests
{
    [Fact]
    public void EmailsAreRedactedInMessagesAndArgumentsAndOtherLinesPassUnchanged()
    {
        var captured = new CapturingProvider();
        var builder = Host.CreateApplicationBuilder();
        builder.AddServiceDefaults();
        builder.Logging.AddProvider(captured);
        using var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILogger<LogRedactionTests>>();

        logger.LogWarning("Webhook for {Owner} failed at {Url}", "ada.lovelace+jobs@example.co.uk", "https://hooks.example.com/x");
        logger.LogInformation("Job {JobId} finished", 42);

        var redacted = captured.Lines.Single(l => l.Message.StartsWith("Webhook", StringComparison.Ordinal));
        Assert.Equal("Webhook for [REDACTED_EMAIL] failed at https://hooks.example.com/x", redacted.Message);
        Assert.Equal("[REDACTED_EMAIL]", redacted.Arguments["Owner"]);
        Assert.Equal("Webhook for {Owner} failed at {Url}", redacted.Arguments["{OriginalFormat}"]);
        var plain = captured.Lines.Single(l => l.Message.StartsWith("Job", StringComparison.Ordinal));
        Assert.Equal("Job 42 finished", plain.Message);
        Assert.Equal(42, plain.Arguments["JobId"]);
    }

    [Fact]
    public void ApiKeysInQueryStringsAndDatabaseKeysAnywhereAreRedacted()
    {
        var captured = new CapturingProvider();
        var builder = Host.CreateApplicationBuilder();
        builder.AddServiceDefaults();
        builder.Logging.AddProvider(captured);
        using var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILogger<LogRedactionTests>>();
        const string databaseKey = "lwk_Bw2FEX5WxDj5m5SCbP2jm6uzJts1HXGiujVF4mXv308";

        // The line ASP.NET Core's hosting diagnostics write for EventSource's ?api_key= (any key, configured ones too).
        logger.LogInformation("Request starting {Url}", "http://localhost/api/v1/jobs/1/events?last_event_id=0&api_key=configured-secret&x=1");
        logger.LogWarning("Refused key {Key}", databaseKey);

        var request = captured.Lines.Single(l => l.Message.StartsWith("Request", StringComparison.Ordinal));
        Assert.Equal("Request starting http://localhost/api/v1/jobs/1/events?last_event_id=0&api_key=[REDACTED]&x=1", request.Message);
        var refused = captured.Lines.Single(l => l.Message.StartsWith("Refused", StringComparison.Ordinal));
        Assert.Equal("Refused key lwk_Bw2FEX5W[REDACTED]", refused.Message);
        Assert.Equal("lwk_Bw2FEX5W[REDACTED]", refused.Arguments["Key"]);
    }

    private sealed record CapturedLine(string Message, IReadOnlyDictionary<string, object?> Arguments);

    private sealed class CapturingProvider : ILoggerProvider
    {
        public ConcurrentQueue<CapturedLine> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new CapturingLogger(Lines);

        public void Dispose()
        {
        }
    }

    private sealed class CapturingLogger(ConcurrentQueue<CapturedLine> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue(new CapturedLine(formatter(state, exception),
                (state as IReadOnlyList<KeyValuePair<string, object?>> ?? []).ToDictionary(p => p.Key, p => p.Value)));
    }
}
