using System.Text.RegularExpressions;

namespace LlmWorkflow.Tests.Deployment;

/// <summary>
/// Reads the facts the agreement tests need out of a Bicep file's text (the Bicep compiler is not available here):
/// parameters, single-line env entries, Key Vault secret references and quoted values.
/// </summary>
public sealed partial class BicepText(string path)
{
    public string Path { get; } = path;

    public string Text { get; } = File.ReadAllText(path);

    /// <summary>Declared parameters and whether each has a default.</summary>
    public IReadOnlyDictionary<string, bool> Parameters =>
        ParameterDeclaration().Matches(Text).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Success);

    /// <summary>Container env entries <c>{ name: 'X', secretRef: 'y' }</c> / <c>{ name: 'X', value: ... }</c>.</summary>
    public IReadOnlyDictionary<string, (string Kind, string Value)> Env =>
        EnvEntry().Matches(Text).ToDictionary(m => m.Groups[1].Value, m => (m.Groups[2].Value, m.Groups[3].Value.Trim()));

    /// <summary>Container App secrets declared as Key Vault references: secret name → Key Vault secret name.</summary>
    public IReadOnlyDictionary<string, string> KeyVaultSecrets =>
        KeyVaultSecret().Matches(Text).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);

    /// <summary>The value of <c>var name = '...'</c> or <c>var name = 123</c>.</summary>
    public string Variable(string name)
    {
        var match = Regex.Match(Text, $@"^var {Regex.Escape(name)} = '?([^'\r\n]*)'?\s*$", RegexOptions.Multiline);
        Assert.True(match.Success, $"{Path} has no var {name}");
        return match.Groups[1].Value;
    }

    /// <summary>The keys passed in the <c>params: {{ ... }}</c> block of <c>module name '...'</c>.</summary>
    public (string File, IReadOnlySet<string> Keys) ModuleCall(string module)
    {
        var match = Regex.Match(Text, $@"^module {Regex.Escape(module)} '([^']+)' = \{{.*?^  params: \{{\r?\n(.*?)^  \}}", RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.True(match.Success, $"{Path} has no module {module}");
        var keys = Regex.Matches(match.Groups[2].Value, @"^    (\w+):", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToHashSet();
        return (match.Groups[1].Value, keys);
    }

    /// <summary>Every module name declared in the file.</summary>
    public IReadOnlyList<string> Modules => [.. ModuleDeclaration().Matches(Text).Select(m => m.Groups[1].Value)];

    [GeneratedRegex(@"^param (\w+) \w+( = .*)?$", RegexOptions.Multiline)]
    private static partial Regex ParameterDeclaration();

    [GeneratedRegex(@"\{ name: '([A-Za-z0-9_]+)', (secretRef|value): ([^}]+) \}")]
    private static partial Regex EnvEntry();

    [GeneratedRegex(@"\{ name: '([a-z0-9-]+)', keyVaultUrl: '\$\{keyVaultUri\}secrets/([a-z0-9-]+)'")]
    private static partial Regex KeyVaultSecret();

    [GeneratedRegex(@"^module (\w+) '", RegexOptions.Multiline)]
    private static partial Regex ModuleDeclaration();
}
