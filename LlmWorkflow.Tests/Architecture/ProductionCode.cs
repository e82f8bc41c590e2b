using Mono.Cecil;
using LlmWorkflow.Tests.Infrastructure;
using Mono.Cecil.Cil;

namespace LlmWorkflow.Tests.Architecture;

/// <summary>
/// The solution's production assemblies as built beside the tests, read with Mono.Cecil (with their portable PDBs),
/// and the rule for which of their source files count as hand-written production code: not migrations, not generated
/// files (source generators' output under <c>obj/</c>, the client's <c>Generated/</c> folder).
/// </summary>
internal static class ProductionCode
{
    /// <summary>The production assemblies' file names (the CLI's is <c>llmwf</c>).</summary>
    public static readonly string[] Assemblies =
    [
        "LlmWorkflow.Api", "LlmWorkflow.Worker", "LlmWorkflow.Storage", "LlmWorkflow.Engine", "LlmWorkflow.Contracts",
        "LlmWorkflow.ServiceDefaults", "LlmWorkflow.AppHost", "llmwf", "LlmWorkflow.Client",
    ];

    /// <summary>Reads one assembly beside the tests with its symbols; the caller disposes it.</summary>
    public static ModuleDefinition Read(string assemblyName) =>
        ModuleDefinition.ReadModule(Path.Combine(AppContext.BaseDirectory, assemblyName + ".dll"), new ReaderParameters { ReadSymbols = true });

    /// <summary>Whether a source file (absolute, as a PDB names it) is hand-written production code.</summary>
    public static bool IsHandWritten(string file)
    {
        var root = RepositoryPaths.Root + Path.DirectorySeparatorChar;
        return file.StartsWith(root, StringComparison.Ordinal)
            && !file.Contains("/obj/", StringComparison.Ordinal)
            && !file.Contains("/Migrations/", StringComparison.Ordinal)
            && !file.Contains("/Generated/", StringComparison.Ordinal)
            && !file.EndsWith(".g.cs", StringComparison.Ordinal);
    }

    /// <summary>A path relative to the repository root, with '/' separators.</summary>
    public static string Relative(string file) => Path.GetRelativePath(RepositoryPaths.Root, file).Replace('\\', '/');

    /// <summary>
    /// The method a compiler-generated method was written in: an async or iterator state machine's <c>MoveNext</c> is
    /// its kickoff method's body. Lambdas and local functions stay methods of their own (their lines also sit inside
    /// the method that declares them, which is measured whole).
    /// </summary>
    public static MethodDefinition WrittenIn(MethodDefinition method) =>
        method.DebugInformation.StateMachineKickOffMethod ?? method;

    /// <summary>The non-hidden sequence points of a method, in order of their line.</summary>
    public static IEnumerable<SequencePoint> Lines(MethodDefinition method) =>
        method.DebugInformation.SequencePoints.Where(p => !p.IsHidden);
}
