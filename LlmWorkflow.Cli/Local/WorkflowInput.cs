using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Cli.Local;

/// <summary>Reads <c>--input</c> (inline JSON or a file path) and checks it against a workflow's <c>input_schema</c>.</summary>
public static class WorkflowInput
{
    /// <summary>
    /// Inline JSON when the value starts with <c>{</c> or <c>[</c>, else a file; no value means the workflow's sample
    /// input in <c>workflows/examples/&lt;name&gt;.json</c> when there is one, else an empty object.
    /// Throws <see cref="UsageException"/> naming the file and JSON path of each problem.
    /// </summary>
    public static JsonNode Read(string? value, WorkflowReference workflow, CliConsole console)
    {
        var (text, source) = Source(value, workflow, console);
        JsonNode? input;
        try
        {
            input = text is null ? new JsonObject() : JsonNode.Parse(text);
        }
        catch (JsonException ex)
        {
            throw new UsageException($"{source}: not valid JSON: {JsonErrorText.Describe(ex)}");
        }

        input ??= new JsonObject();
        if (workflow.Definition.InputSchema is { } schema && InputSchemaValidator.Validate(schema, input) is { Count: > 0 } problems)
        {
            throw new UsageException(string.Join(Environment.NewLine, problems
                .Select(p => $"{source}:{p.Path}: {p.Message}")
                .Prepend($"The input does not match the input_schema of workflow \"{workflow.Definition.Name}\" ({console.DisplayPath(workflow.File)}):")));
        }

        return input;
    }

    /// <summary>Inline JSON or a file, as given to <c>--input</c>; without a workflow to check it against (submit).</summary>
    public static JsonNode Parse(string value, CliConsole console)
    {
        var (text, source) = Inline(value) ? (value, "--input") : (ReadFile(value, console), value);
        try
        {
            return JsonNode.Parse(text) ?? new JsonObject();
        }
        catch (JsonException ex)
        {
            throw new UsageException($"{source}: not valid JSON: {JsonErrorText.Describe(ex)}");
        }
    }

    private static bool Inline(string value) => value.TrimStart() is ['{' or '[', ..];

    private static string ReadFile(string value, CliConsole console)
    {
        var path = console.FullPath(value);
        return File.Exists(path)
            ? File.ReadAllText(path)
            : throw new UsageException($"--input {value}: no such file (pass a file path or inline JSON such as '{{\"name\": \"Ada\"}}').");
    }

    private static (string? Text, string Source) Source(string? value, WorkflowReference workflow, CliConsole console)
    {
        if (value is null)
        {
            var example = workflow.Folder is { } folder ? Path.Combine(folder.Examples, workflow.Definition.Name + ".json") : null;
            return example is not null && File.Exists(example) ? (File.ReadAllText(example), console.DisplayPath(example)) : (null, "(no input)");
        }

        return Inline(value) ? (value, "--input") : (ReadFile(value, console), value);
    }
}
