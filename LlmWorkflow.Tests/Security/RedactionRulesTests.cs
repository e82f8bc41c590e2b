using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.External;

namespace LlmWorkflow.Tests.Security;

/// <summary>One rule list decides what is a secret, for error details, headers and query parameters alike.</summary>
[UnitTest]
public sealed class RedactionRulesTests
{
    [Theory]
    [InlineData("auth")]
    [InlineData("Authorization")]
    [InlineData("proxy-authorization")]
    [InlineData("X-Authentication")]
    [InlineData("oauth")]
    [InlineData("cookie")]
    [InlineData("Set-Cookie")]
    [InlineData("secret")]
    [InlineData("client_secret")]
    [InlineData("key")]
    [InlineData("api_key")]
    [InlineData("X-API-Key")]
    [InlineData("access_token")]
    [InlineData("password")]
    [InlineData("credentials")]
    [InlineData("session_id")]
    [InlineData("webhook_signature")]
    public void CredentialNamesAreSecret(string name) => Assert.True(SecretNames.IsSecret(name), name);

    [Theory]
    [InlineData("max_tokens")]
    [InlineData("author")]
    [InlineData("keyword")]
    [InlineData("city")]
    [InlineData("step_id")]
    public void OrdinaryNamesAreNot(string name) => Assert.False(SecretNames.IsSecret(name), name);

    [Fact]
    public void ErrorDetailsAndUrlsAreRedactedByTheSameRules()
    {
        var details = ErrorSanitizer.Sanitize(new JsonObject { ["auth"] = "Basic abc", ["cookie"] = "s=1", ["max_tokens"] = 10, ["nested"] = new JsonObject { ["key"] = "k" } });
        Assert.Equal(ErrorSanitizer.Redacted, (string?)details["auth"]);
        Assert.Equal(ErrorSanitizer.Redacted, (string?)details["cookie"]);
        Assert.Equal(ErrorSanitizer.Redacted, (string?)details["nested"]!["key"]);
        Assert.Equal(10, (int)details["max_tokens"]!);

        var url = SecretRedactor.Redact("https://x.test/a?auth=abc123&max_tokens=5&session=zz&q=paris");
        Assert.Equal("https://x.test/a?auth=[REDACTED]&max_tokens=5&session=[REDACTED]&q=paris", url);
    }
}
