using Microsoft.Extensions.Logging;

namespace LlmWorkflow.ServiceDefaults.Logging;

/// <summary>
/// Passes lines through unchanged unless their message or a string argument holds an e-mail address or an API key;
/// then the provider gets the redacted message and arguments instead (structured fields stay structured).
/// </summary>
internal sealed class RedactingLogger(ILogger inner) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!inner.IsEnabled(logLevel))
        {
            return;
        }

        var message = formatter(state, exception);
        var pairs = state as IReadOnlyList<KeyValuePair<string, object?>>;
        if (!MayNeedRedaction(message) && (pairs is null || !pairs.Any(p => p.Value is string s && MayNeedRedaction(s))))
        {
            inner.Log(logLevel, eventId, state, exception, formatter);
            return;
        }

        var redacted = new RedactedLogState(
            Redact(message),
            pairs?.Select(p => p.Value is string s && p.Key != "{OriginalFormat}" ? new KeyValuePair<string, object?>(p.Key, Redact(s)) : p).ToArray() ?? []);
        inner.Log(logLevel, eventId, redacted, exception, static (s, _) => s.Message);
    }

    internal static bool MayNeedRedaction(string text) =>
        EmailRedactor.MayContainEmail(text) || ApiKeyRedactor.MayContainKey(text) || DecisionLinkRedactor.MayContainLink(text);

    internal static string Redact(string text) => DecisionLinkRedactor.Redact(ApiKeyRedactor.Redact(EmailRedactor.Redact(text)));
}

/// <summary>A log line's state after redaction: the arguments as structured pairs and the already formatted message.</summary>
internal sealed class RedactedLogState(string message, KeyValuePair<string, object?>[] pairs) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public string Message => message;

    public KeyValuePair<string, object?> this[int index] => pairs[index];

    public int Count => pairs.Length;

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)pairs).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => pairs.GetEnumerator();

    public override string ToString() => message;
}
