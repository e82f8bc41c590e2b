using System.Text.Encodings.Web;
using System.Text.Json;
using LlmWorkflow.Contracts;

namespace LlmWorkflow.Cli;

/// <summary>JSON settings for what the CLI prints.</summary>
internal static class CliJson
{
    /// <summary>Indented, and without escaping quotes or non-ASCII text, since people read it too.</summary>
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The wire records (source-generated metadata) printed the same way as <see cref="Indented"/>.</summary>
    public static readonly JsonSerializerOptions IndentedWire = new(WireJsonContext.Default.Options)
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>A status answer as the CLI prints it with <c>--json</c>.</summary>
    public static string Indent(JobStatusResponse status) => JsonSerializer.Serialize(status, IndentedWire.GetTypeInfo(typeof(JobStatusResponse)));
}
