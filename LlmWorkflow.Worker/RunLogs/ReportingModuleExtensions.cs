namespace LlmWorkflow.Worker.RunLogs;

/// <summary>Reporting's part of the worker host's composition.</summary>
public static class ReportingModuleExtensions
{
    /// <summary>Reporting in a worker: the CSV run logs (off unless a directory is configured).</summary>
    public static IHostApplicationBuilder AddReporting(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CsvRunLogOptions>().Bind(builder.Configuration.GetSection(CsvRunLogOptions.SectionName))
            .PostConfigure(o => o.CsvDirectory ??= builder.Configuration[CsvRunLogOptions.DirectoryVariable] is { Length: > 0 } dir ? dir : null);
        builder.Services.AddSingleton<CsvRunLogs>();
        return builder;
    }
}
