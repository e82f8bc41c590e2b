namespace LlmWorkflow.Engine.Definitions;

/// <summary>One way a job's <c>input_data</c> does not match the workflow's <c>input_schema</c>.</summary>
/// <param name="Path">JSON path into the input, e.g. <c>$.city</c>.</param>
public sealed record InputProblem(string Path, string Message);
