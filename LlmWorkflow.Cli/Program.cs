using LlmWorkflow.Cli;

return await CliApp.RunAsync(args, CliConsole.FromSystem());
