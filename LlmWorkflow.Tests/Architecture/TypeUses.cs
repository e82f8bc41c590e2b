using Mono.Cecil;

namespace LlmWorkflow.Tests.Architecture;

/// <summary>One type's use of another: <paramref name="From"/> (top-level type, Cecil's full name) uses <paramref name="To"/> in <paramref name="File"/> (repository-relative; null when no code of it has a line).</summary>
internal sealed record TypeUse(string From, string FromNamespace, string? File, string To, string ToNamespace);

/// <summary>
/// Which types each type of the given assemblies uses, read with Mono.Cecil: base type and interfaces, fields,
/// properties, attributes, method signatures and locals, and every type, method and field its IL names (generic
/// arguments included). Nested and compiler-generated types (lambdas' closures, state machines) count as their
/// top-level type. A use in a method is placed in the method's file (so a partial class's files are told apart); a use
/// in the type's declaration in every file of the type.
/// </summary>
internal static class TypeUses
{
    private static readonly Lazy<List<TypeUse>> ProductionUses = new(() => Of(ProductionCode.Assemblies));

    /// <summary>The production assemblies' uses, read once per test run (two test classes ask).</summary>
    public static List<TypeUse> OfProduction() => ProductionUses.Value;

    public static List<TypeUse> Of(IEnumerable<string> assemblies)
    {
        var found = new List<TypeUse>();
        foreach (var assembly in assemblies)
        {
            using var module = ProductionCode.Read(assembly);
            foreach (var type in module.GetTypes())
            {
                found.AddRange(Of(type));
            }
        }

        return found;
    }

    private static IEnumerable<TypeUse> Of(TypeDefinition type)
    {
        var top = TopLevel(type);
        var typeFiles = type.Methods.SelectMany(FilesOf).Distinct().DefaultIfEmpty(null).ToList();
        var declared = new List<Mono.Cecil.TypeReference>();
        if (type.BaseType is { } baseType)
        {
            declared.Add(baseType);
        }

        declared.AddRange(type.Interfaces.Select(i => i.InterfaceType));
        declared.AddRange(type.Fields.Select(f => f.FieldType));
        declared.AddRange(type.Properties.Select(p => p.PropertyType));
        declared.AddRange(type.CustomAttributes.Select(a => a.AttributeType));
        foreach (var file in typeFiles)
        {
            foreach (var used in declared.SelectMany(Named))
            {
                yield return Reference(top, file, used);
            }
        }

        foreach (var method in type.Methods)
        {
            var files = FilesOf(method).DefaultIfEmpty(null).ToList();
            foreach (var used in UsedBy(method).SelectMany(Named).Distinct())
            {
                foreach (var file in files)
                {
                    yield return Reference(top, file, used);
                }
            }
        }
    }

    private static TypeUse Reference(TypeDefinition from, string? file, Mono.Cecil.TypeReference to) =>
        new(from.FullName, from.Namespace, file, TopLevel(to).FullName, TopLevel(to).Namespace);

    private static IEnumerable<string> FilesOf(MethodDefinition method) =>
        ProductionCode.Lines(method).Select(p => p.Document.Url).Where(ProductionCode.IsHandWritten).Select(ProductionCode.Relative).Distinct();

    private static IEnumerable<Mono.Cecil.TypeReference> UsedBy(MethodDefinition method)
    {
        yield return method.ReturnType;
        foreach (var parameter in method.Parameters)
        {
            yield return parameter.ParameterType;
        }

        foreach (var attribute in method.CustomAttributes)
        {
            yield return attribute.AttributeType;
        }

        if (!method.HasBody)
        {
            yield break;
        }

        foreach (var variable in method.Body.Variables)
        {
            yield return variable.VariableType;
        }

        foreach (var instruction in method.Body.Instructions)
        {
            switch (instruction.Operand)
            {
                case Mono.Cecil.TypeReference named:
                    yield return named;
                    break;
                case MethodReference called:
                    yield return called.DeclaringType;
                    yield return called.ReturnType;
                    foreach (var parameter in called.Parameters)
                    {
                        yield return parameter.ParameterType;
                    }

                    if (called is GenericInstanceMethod generic)
                    {
                        foreach (var argument in generic.GenericArguments)
                        {
                            yield return argument;
                        }
                    }

                    break;
                case FieldReference field:
                    yield return field.DeclaringType;
                    yield return field.FieldType;
                    break;
            }
        }
    }

    /// <summary>The named types in a type reference: itself, its element type, its generic arguments (generic parameters name none).</summary>
    private static IEnumerable<Mono.Cecil.TypeReference> Named(Mono.Cecil.TypeReference type)
    {
        switch (type)
        {
            case GenericParameter:
                yield break;
            case GenericInstanceType generic:
                foreach (var inner in Named(generic.ElementType).Concat(generic.GenericArguments.SelectMany(Named)))
                {
                    yield return inner;
                }

                break;
            case TypeSpecification specification:
                foreach (var inner in Named(specification.ElementType))
                {
                    yield return inner;
                }

                break;
            default:
                yield return type;
                break;
        }
    }

    private static T TopLevel<T>(T type) where T : Mono.Cecil.TypeReference
    {
        Mono.Cecil.TypeReference current = type;
        while (current.DeclaringType is { } outer)
        {
            current = outer;
        }

        return (T)current;
    }
}
