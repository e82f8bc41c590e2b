namespace LlmWorkflow.Cli;

/// <summary>Process exit codes, stable for scripts and CI.</summary>
public static class ExitCodes
{
    /// <summary>The command did what it was asked; for <c>validate</c>: no problems.</summary>
    public const int Success = 0;

    /// <summary>Validation problems, a failed or cancelled run, or an error answer from the service.</summary>
    public const int Failure = 1;

    /// <summary>The command line was wrong: unknown option, missing file, unparsable input, unknown workflow.</summary>
    public const int UsageError = 2;
}
