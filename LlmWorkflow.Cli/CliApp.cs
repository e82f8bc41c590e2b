using System.CommandLine;
using System.CommandLine.Invocation;
using LlmWorkflow.Cli.Commands;

using LlmWorkflow.Cli.Remote;

namespace LlmWorkflow.Cli;

/// <summary>The <c>llmwf</c> root command and the one place that turns outcomes into exit codes.</summary>
public static class CliApp
{
    public static RootCommand CreateRootCommand(CliConsole console) => new("llmwf: author, check and run LlmWorkflow definitions locally, and talk to a running service.")
    {
        ValidateCommand.Create(console),
        DryRunCommand.Create(console),
        DiagramCommand.Create(console),
        RunCommand.Create(console),
        NewCommand.Create(console),
        EditCommand.Create(console),
        UpgradeCommand.Create(console),
        SubmitCommand.Create(console),
        StatusCommand.Create(console),
        WatchCommand.Create(console),
        JobsCommand.Create(console),
        CancelCommand.Create(console),
        RetryCommand.Create(console),
        WorkflowsCommand.Create(console),
        KeysCommand.Create(console),
    };

    /// <summary>Parses and runs <paramref name="args"/>; returns the exit code (see <see cref="ExitCodes"/>).</summary>
    public static async Task<int> RunAsync(string[] args, CliConsole console, CancellationToken cancellationToken = default)
    {
        var parsed = CreateRootCommand(console).Parse(args);
        var invocation = new InvocationConfiguration { Output = console.Out, Error = console.Error, EnableDefaultExceptionHandler = false };
        if (parsed.Action is ParseErrorAction)
        {
            await parsed.InvokeAsync(invocation, cancellationToken);
            return ExitCodes.UsageError;
        }

        try
        {
            return await parsed.InvokeAsync(invocation, cancellationToken);
        }
        catch (UsageException ex)
        {
            await console.Error.WriteLineAsync(ex.Message);
            return ExitCodes.UsageError;
        }
        catch (ServiceException ex)
        {
            await console.Error.WriteLineAsync(ex.Message);
            return ExitCodes.Failure;
        }
    }
}
