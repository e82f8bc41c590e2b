using Mono.Cecil;
using Mono.Cecil.Cil;

namespace LlmWorkflow.Tests.Architecture;

/// <summary>One method of production code and how many source lines its body spans.</summary>
/// <param name="Name">Declaring type (nested types joined with '/') and method, as Cecil names them, e.g. <c>LlmWorkflow.Worker.Jobs.JobProcessor::ProcessAsync</c>.</param>
/// <param name="File">The source file, relative to the repository root.</param>
internal sealed record MeasuredMethod(string Name, string File, int FirstLine, int Lines)
{
    /// <summary>The name, with the file for top-level statements (every host's is <c>Program::&lt;Main&gt;$</c>).</summary>
    public string Key => Name.StartsWith("Program::", StringComparison.Ordinal) ? $"{File} {Name}" : Name;
}

/// <summary>
/// Measures every method of the production assemblies from their portable PDBs: a method's length is the span of its
/// sequence points, from the line of its first to the line of its last (for a block body, its opening brace to its
/// closing one; the signature is not counted). Static field initializers are declarations, not counted. An async or iterator method is measured on its state machine. A
/// constructor is measured from its base or this call: the field initializers the compiler puts before it are not its
/// lines. Lambdas and local functions are measured on their own and also count in the method that holds them.
/// </summary>
internal static class MethodLengths
{
    public static List<MeasuredMethod> All() => Of(ProductionCode.Assemblies);

    /// <summary>The methods of the named assemblies beside the tests, hand-written files only.</summary>
    public static List<MeasuredMethod> Of(IEnumerable<string> assemblies)
    {
        var measured = new List<MeasuredMethod>();
        foreach (var assembly in assemblies)
        {
            using var module = ProductionCode.Read(assembly);
            var points = new Dictionary<MethodDefinition, List<SequencePoint>>();
            foreach (var method in module.GetTypes().SelectMany(t => t.Methods).Where(m => m.HasBody))
            {
                var owner = ProductionCode.WrittenIn(method);
                if (!points.TryGetValue(owner, out var list))
                {
                    points[owner] = list = [];
                }

                list.AddRange(!method.IsConstructor ? ProductionCode.Lines(method)
                    : method.IsStatic ? BodyOfStaticConstructor(method) : BodyOfConstructor(method));
            }

            foreach (var (method, list) in points)
            {
                if (Measure(method, list) is { } found)
                {
                    measured.Add(found);
                }
            }
        }

        return measured;
    }

    private static MeasuredMethod? Measure(MethodDefinition method, List<SequencePoint> points)
    {
        if (points.Count == 0)
        {
            return null;
        }

        // A method lies in one file; the last point (its closing brace) says which.
        var file = points.MaxBy(p => p.EndLine)!.Document.Url;
        if (!ProductionCode.IsHandWritten(file))
        {
            return null;
        }

        var inFile = points.Where(p => p.Document.Url == file).ToList();
        var first = inFile.Min(p => p.StartLine);
        var last = inFile.Max(p => p.EndLine);
        return new MeasuredMethod($"{method.DeclaringType.FullName}::{method.Name}", ProductionCode.Relative(file), first, last - first + 1);
    }

    /// <summary>
    /// A static constructor holds the static fields' initializers (declarations, not a method's lines) and, when the
    /// type declares one, the explicit <c>static Name()</c> body after them: only that body's points count.
    /// </summary>
    private static IEnumerable<SequencePoint> BodyOfStaticConstructor(MethodDefinition constructor)
    {
        var points = ProductionCode.Lines(constructor).ToList();
        if (points.Count == 0 || !File.Exists(points[^1].Document.Url))
        {
            return [];
        }

        var declaration = $"static {constructor.DeclaringType.Name}()";
        var lines = File.ReadAllLines(points[^1].Document.Url);
        var at = Array.FindIndex(lines, l => l.Trim() == declaration);
        return at < 0 ? [] : points.Where(p => p.StartLine > at + 1);
    }

    /// <summary>A constructor's points from its base or this call on (before it: the type's field initializers).</summary>
    private static IEnumerable<SequencePoint> BodyOfConstructor(MethodDefinition constructor)
    {
        var points = ProductionCode.Lines(constructor).OrderBy(p => p.Offset).ToList();
        var chained = constructor.Body.Instructions.FirstOrDefault(i => i.OpCode.Code == Code.Call
            && i.Operand is MethodReference { Name: ".ctor" } target
            && (target.DeclaringType.FullName == constructor.DeclaringType.FullName
                || target.DeclaringType.FullName == constructor.DeclaringType.BaseType?.FullName));
        if (chained is null)
        {
            return points; // a struct's or a static constructor: no chained call, no initializers before it to skip
        }

        var start = points.LastOrDefault(p => p.Offset <= chained.Offset);
        return start is null ? points : points.SkipWhile(p => p != start);
    }
}
