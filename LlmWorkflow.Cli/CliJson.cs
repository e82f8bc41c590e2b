using System.Text.Encodings.Web;
using System.Text.Json;

namespace LlmWorkflow.Cli;

/// <summary>JSON settings for what the CLI prints.</summary>
internal static class CliJson
{
    /// <summary>Indented, and without escaping quotes or non-ASCII text, since people read it too.</summary>
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
