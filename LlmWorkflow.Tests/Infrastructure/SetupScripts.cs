namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// What the README's test command needs beyond the build, installed by the scripts in .ci/ (CI runs them first): a
/// test that needs one names its script at the moment it fails, rather than failing on a missing Node module.
/// </summary>
public static class SetupScripts
{
    /// <summary>
    /// tools/json-schema-validator/validate.mjs once its Ajv is installed; otherwise the test fails naming
    /// <c>.ci/json-schema-validator.sh</c>.
    /// </summary>
    public static string JsonSchemaValidator
    {
        get
        {
            var tool = Path.Combine(RepositoryPaths.Root, "tools", "json-schema-validator");
            if (!Directory.Exists(Path.Combine(tool, "node_modules", "ajv")))
            {
                Assert.Fail($"The JSON Schema validator's packages are not installed ({Path.Combine(tool, "node_modules", "ajv")} is missing). " +
                            "Run `bash .ci/json-schema-validator.sh` once (and `bash .ci/contract-setup.sh` and `bash .ci/containers-setup.sh` " +
                            "for the other tests that need Node packages or podman); docs/TESTING.md lists them.");
            }

            return Path.Combine(tool, "validate.mjs");
        }
    }
}
