namespace LlmWorkflow.Engine.Definitions;

/// <summary>Why a <c>provider/model</c> id would not run as written: a <see cref="ValidationCodes"/> code, what is wrong and the fix.</summary>
public sealed record ModelProblem(string Code, string Message, string Hint);
