using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Tests;

[UnitTest]
public sealed class SmokeTests
{
    [Fact]
    public void ErrorCategoriesUseWireNames() =>
        Assert.Equal("EXTERNAL_ERROR", ErrorCategory.ExternalError.ToWire());
}
