namespace LlmWorkflow.Api;

/// <summary>Names this assembly for <c>WebApplicationFactory</c> (the AppHost's top-level Program would be ambiguous).</summary>
public sealed class ApiAssembly;
