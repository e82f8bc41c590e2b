namespace LlmWorkflow.Engine.StructuredOutput;

/// <summary>One way a JSON answer breaks its schema: where (a JSON pointer into the answer, "" for the whole answer) and why.</summary>
public sealed record SchemaViolation(string Path, string Message)
{
    /// <summary>The pointer as a person reads it: the whole answer is <c>(root)</c>.</summary>
    public string DisplayPath => Path.Length == 0 ? "(root)" : Path;

    public override string ToString() => $"{DisplayPath}: {Message}";
}
