using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Tests.Engine;

[UnitTest]
public sealed class ErrorSanitizerTests
{
    [Theory]
    [InlineData("api_key", true)]
    [InlineData("apiKey", true)]
    [InlineData("access_token", true)]
    [InlineData("Authorization", true)]
    [InlineData("db_password", true)]
    [InlineData("client-secret", true)]
    [InlineData("max_tokens", false)]
    [InlineData("city", false)]
    public void RecognisesSecretKeys(string key, bool secret) => Assert.Equal(secret, ErrorSanitizer.IsSecretKey(key));

    [Fact]
    public void RedactsNestedSecretsAndCutsLongValues()
    {
        var details = new JsonObject
        {
            ["headers"] = new JsonObject { ["Authorization"] = "Bearer abc" },
            ["list"] = new JsonArray(new JsonObject { ["token"] = "t" }),
            ["prompt"] = new string('x', 500),
            ["count"] = 3,
        };

        var sanitized = ErrorSanitizer.Sanitize(details);

        Assert.Equal(
            $$"""{"headers":{"Authorization":"[REDACTED]"},"list":[{"token":"[REDACTED]"}],"prompt":"{{new string('x', 200)}}…","count":3}""",
            sanitized.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        Assert.Equal("Bearer abc", details["headers"]!["Authorization"]!.GetValue<string>());
    }

    [Fact]
    public void StepOutputsAboveTheCapBecomePointers()
    {
        var big = JsonValue.Create(new string('a', StepOutputCap.MaxBytes + 1));

        Assert.Equal($$"""{"truncated":true,"size_bytes":{{StepOutputCap.MaxBytes + 3}}}""", StepOutputCap.Apply(big)!.ToJsonString());
        Assert.Equal("\"small\"", StepOutputCap.Apply(JsonValue.Create("small"))!.ToJsonString());
    }
}
