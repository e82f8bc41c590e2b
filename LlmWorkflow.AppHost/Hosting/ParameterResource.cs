namespace LlmWorkflow.AppHost.Hosting;

/// <summary>
/// A value supplied from outside the model (an API key, a password): a concrete value when the AppHost runs, and a
/// <c>parameter.v0</c> input that the deployment tool prompts for or reads from its secret store in the manifest.
/// </summary>
public sealed class ParameterResource
{
    /// <summary>Declares the parameter; <paramref name="runValue"/> is what local runs use.</summary>
    public ParameterResource(string name, string runValue, bool secret)
    {
        Name = name;
        RunValue = runValue;
        Secret = secret;
    }

    /// <summary>The resource name, referenced in the manifest as <c>{name.value}</c>.</summary>
    public string Name { get; }

    /// <summary>The value handed to projects when the AppHost runs them.</summary>
    public string RunValue { get; }

    /// <summary>Whether deployment tools must treat the value as a secret.</summary>
    public bool Secret { get; }
}
