using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Tests.Llm;

/// <summary>
/// The prompt hash (usage rows' <c>prompt_hash</c>, the response cache's key) against digests computed by coreutils'
/// <c>sha256sum</c> of the same bytes: each message's role, a newline, its text and a record separator (0x1E).
/// </summary>
[UnitTest]
public sealed class PromptHasherTests
{
    [Fact]
    public void HashesRolesAndTextsAsUtf8WithSeparators()
    {
        // printf 'system\nBe brief.\x1euser\nGrüß dich, 東京 🙂\x1e' | sha256sum
        Assert.Equal("17ebd14a5c0d9ef75c61d4b7cb506ff488cfbcaed490f0de3ac9eec725750821",
            PromptHasher.Hash([new ChatMessage(ChatRole.System, "Be brief."), new ChatMessage(ChatRole.User, "Grüß dich, 東京 🙂")]));
        // printf 'user\nHi\x1eassistant\nHello\x1euser\nHow are you?\x1e' | sha256sum
        Assert.Equal("a10525c8081077578449b3f635d5bde6942c1ea7fa0f615784afc6c873fa22c2",
            PromptHasher.Hash([new ChatMessage(ChatRole.User, "Hi"), new ChatMessage(ChatRole.Assistant, "Hello"), new ChatMessage(ChatRole.User, "How are you?")]));
        // printf '' | sha256sum
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", PromptHasher.Hash([]));
    }

    [Fact]
    public void MessagesThatSplitTheSameTextDifferentlyHashDifferently()
    {
        Assert.NotEqual(
            PromptHasher.Hash([new ChatMessage(ChatRole.User, "ab"), new ChatMessage(ChatRole.User, "c")]),
            PromptHasher.Hash([new ChatMessage(ChatRole.User, "a"), new ChatMessage(ChatRole.User, "bc")]));
    }

    [Fact]
    public void ALongPromptHashesLikeAnyOther()
    {
        // Longer than any pooled buffer size class it might land in, with multi-byte characters throughout.
        var text = string.Concat(Enumerable.Repeat("Straße 東京 ", 20_000));
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes("user\n" + text + "\u001e")));
        Assert.Equal(expected, PromptHasher.Hash([new ChatMessage(ChatRole.User, text)]));
    }
}
