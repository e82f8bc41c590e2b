using System.CommandLine;

namespace LlmWorkflow.Cli.Commands;

/// <summary>The <c>job_id</c> argument, checked to be a GUID before any request is made.</summary>
internal static class JobIdArgument
{
    public static Argument<string> Create()
    {
        var argument = new Argument<string>("job_id") { Description = "The job id returned by submit (a GUID)." };
        argument.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() is { } value && !Guid.TryParse(value, out _))
            {
                result.AddError($"\"{value}\" is not a job id (expected a GUID such as 3f2c9a4e-...).");
            }
        });
        return argument;
    }
}
