namespace LlmWorkflow.Tests.Fakes;

/// <summary>Default behaviour of <see cref="FakeAnthropicServer"/>.</summary>
public sealed record FakeAnthropicOptions
{
    public IReadOnlyList<string> Chunks { get; init; } = ["Hello", " from", " Claude"];

    public int InputTokens { get; init; } = 20;

    public int OutputTokens { get; init; } = 6;

    public string Text => string.Concat(Chunks);
}
