using Mono.Cecil;
using Mono.Cecil.Cil;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// The source files a set of entry methods can reach, read mechanically from the built assemblies with Mono.Cecil:
/// each method's IL gives the methods it calls, constructs or takes a delegate to; its portable PDB gives the file it
/// is written in. A call through an interface or a virtual member reaches the same-named members of every solution
/// type that implements or derives from it (how dependency injection reaches an implementation); a method reaches the
/// lambdas, local functions and async/iterator state machines the compiler generated from it. Only the given
/// assemblies' files count. It over-counts (every branch, every implementation) and misses only the framework's
/// callbacks into our code (JSON converters, option validators), which no IL of ours calls.
/// </summary>
public sealed class CodeReach
{
    private readonly Dictionary<string, TypeNode> _types = new(StringComparer.Ordinal);

    private CodeReach()
    {
    }

    /// <summary>Reads the assemblies (with their portable PDBs beside them) found in <paramref name="directory"/>.</summary>
    public static CodeReach Load(string directory, IEnumerable<string> assemblyNames)
    {
        var reach = new CodeReach();
        foreach (var name in assemblyNames)
        {
            using var module = ModuleDefinition.ReadModule(Path.Combine(directory, name + ".dll"), new ReaderParameters { ReadSymbols = true });
            foreach (var type in module.GetTypes())
            {
                reach.Add(type);
            }
        }

        foreach (var type in reach._types.Values)
        {
            foreach (var baseName in type.BaseNames.Where(reach._types.ContainsKey))
            {
                reach._types[baseName].Subtypes.Add(type);
            }
        }

        return reach;
    }

    /// <summary>
    /// The source files reachable from the methods of each root type named as given (all of its methods when the name is
    /// null). With <paramref name="ran"/> (type full name as Cecil writes it, method name), only through methods that
    /// ran: a method without a body (an interface's, an abstract one) passes, since a call through it reaches the
    /// implementations that ran; and a file counts for its logic, not for a constructor or a property accessor alone
    /// (a registry that builds every transform at start-up does not make each transform's file part of a job's path,
    /// and a record's file is where its properties are read, not a step of the path).
    /// </summary>
    public IReadOnlySet<string> FilesReachedFrom(IEnumerable<(string TypeName, string? MethodName)> roots, Func<string, string, bool>? ran = null)
    {
        var seen = new HashSet<MethodNode>();
        var pending = new Stack<MethodNode>();
        foreach (var (typeName, methodName) in roots)
        {
            var type = _types.TryGetValue(typeName, out var found) ? found : throw new ArgumentException($"No type {typeName} in the assemblies read.");
            var methods = type.Methods.Where(m => methodName is null || m.Name == methodName).ToList();
            if (methods.Count == 0)
            {
                throw new ArgumentException($"{typeName} has no method {methodName}.");
            }

            methods.ForEach(pending.Push);
        }

        while (pending.TryPop(out var method))
        {
            if ((ran is null || !method.HasBody || ran(method.Type.FullName, method.Name)) && seen.Add(method))
            {
                foreach (var next in Callees(method).Concat(Generated(method)))
                {
                    pending.Push(next);
                }
            }
        }

        if (ran is not null)
        {
            seen.RemoveWhere(m => m.HasBody && (m.Name is ".ctor" or ".cctor" || m.Name.StartsWith("get_", StringComparison.Ordinal)
                || m.Name.StartsWith("set_", StringComparison.Ordinal) || m.Documents.Count == 0));
        }

        // A method without a body (an interface's, an abstract one) is read where its type is declared.
        return seen.SelectMany(m => m.Documents.Count > 0 ? m.Documents : m.Type.Methods.SelectMany(o => o.Documents).Take(1))
            .ToHashSet(StringComparer.Ordinal);
    }

    private void Add(TypeDefinition definition)
    {
        var type = new TypeNode(definition.FullName, definition.Name, _types.GetValueOrDefault(definition.DeclaringType?.FullName ?? ""));
        _types[type.FullName] = type;
        type.Outer?.Nested.Add(type);
        if (definition.BaseType is { } baseType)
        {
            type.BaseNames.Add(baseType.GetElementType().FullName);
        }

        type.BaseNames.AddRange(definition.Interfaces.Select(i => i.InterfaceType.GetElementType().FullName));
        foreach (var method in definition.Methods)
        {
            var node = new MethodNode(type, method.Name) { HasBody = method.HasBody };
            node.Documents.UnionWith(method.DebugInformation.SequencePoints.Where(p => !p.IsHidden).Select(p => p.Document.Url));
            if (method.HasBody)
            {
                node.Targets.AddRange(method.Body.Instructions
                    .Where(i => i.OpCode.Code is Code.Call or Code.Callvirt or Code.Newobj or Code.Ldftn or Code.Ldvirtftn)
                    .Select(i => (MethodReference)i.Operand)
                    .Select(target => (target.DeclaringType.GetElementType().FullName, target.Name)));
            }

            type.Methods.Add(node);
        }
    }

    private IEnumerable<MethodNode> Callees(MethodNode method) =>
        from target in method.Targets
        where _types.ContainsKey(target.Type)
        from type in _types[target.Type].SelfAndSubtypes()
        from candidate in type.Methods
        // The called member and, through a base or interface, the same member of every subtype (explicit
        // implementations are named "Namespace.IInterface.Member").
        where candidate.Name == target.Name || candidate.Name.EndsWith("." + target.Name, StringComparison.Ordinal)
        select candidate;

    // The compiler names what it generates from method M "<M>...": state machines <M>d__N (all their methods),
    // lambdas <M>b__N and local functions <M>g__Name|N, in the type itself or its closure classes (<>c...).
    private static IEnumerable<MethodNode> Generated(MethodNode method)
    {
        var prefix = "<" + method.Name + ">";
        foreach (var nested in method.Type.Nested)
        {
            var all = nested.Name.StartsWith(prefix, StringComparison.Ordinal);
            if (all || nested.Name.StartsWith("<>c", StringComparison.Ordinal))
            {
                foreach (var m in nested.Methods.Where(m => all || m.Name.StartsWith(prefix, StringComparison.Ordinal)))
                {
                    yield return m;
                }
            }
        }

        foreach (var m in method.Type.Methods.Where(m => m.Name.StartsWith(prefix, StringComparison.Ordinal)))
        {
            yield return m;
        }
    }

    private sealed class TypeNode(string fullName, string name, TypeNode? outer)
    {
        public string FullName { get; } = fullName;

        public string Name { get; } = name;

        public TypeNode? Outer { get; } = outer;

        public List<string> BaseNames { get; } = [];

        public List<TypeNode> Subtypes { get; } = [];

        public List<TypeNode> Nested { get; } = [];

        public List<MethodNode> Methods { get; } = [];

        public IEnumerable<TypeNode> SelfAndSubtypes()
        {
            var seen = new HashSet<TypeNode>();
            var pending = new Stack<TypeNode>([this]);
            while (pending.TryPop(out var type))
            {
                if (seen.Add(type))
                {
                    yield return type;
                    type.Subtypes.ForEach(pending.Push);
                }
            }
        }
    }

    private sealed class MethodNode(TypeNode type, string name)
    {
        public TypeNode Type { get; } = type;

        public string Name { get; } = name;

        public bool HasBody { get; init; }

        public HashSet<string> Documents { get; } = new(StringComparer.Ordinal);

        public List<(string Type, string Name)> Targets { get; } = [];
    }
}
