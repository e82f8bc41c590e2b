using Microsoft.Extensions.Options;

namespace LlmWorkflow.ServiceDefaults;

/// <summary>
/// A setting that makes a start impossible (options validation: e.g. WEBHOOK_URL without a signing secret) ends the
/// process with one line naming the setting and exit code 1, not an unhandled-exception stack trace and exit 134 that
/// hide the reason in a console full of frames. Other unhandled exceptions are bugs and keep their stack trace.
/// </summary>
public static class StartupRefusals
{
    private static int installed;

    public static void ReportInOneLine()
    {
        if (Interlocked.Exchange(ref installed, 1) == 1)
        {
            return;
        }

        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            if (Reason(e.ExceptionObject as Exception) is { } reason)
            {
                Console.Error.WriteLine($"Start refused: {reason}");
                Environment.Exit(1);
            }
        };
    }

    private static string? Reason(Exception? exception) => exception switch
    {
        OptionsValidationException invalid => string.Join(" ", invalid.Failures),
        AggregateException { InnerExceptions.Count: 1 } wrapped => Reason(wrapped.InnerException),
        _ => null,
    };
}
