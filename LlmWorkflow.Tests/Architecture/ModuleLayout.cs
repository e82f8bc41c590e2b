namespace LlmWorkflow.Tests.Architecture;

/// <summary>A capability module: the namespaces (in any project) that hold its code.</summary>
internal sealed record CapabilityModule(string Name, string[] Namespaces)
{
    public bool Holds(string ns) => Namespaces.Any(prefix => ns == prefix || ns.StartsWith(prefix + ".", StringComparison.Ordinal));
}

/// <summary>One use that breaks the layout's rule: the core using a module, or a module using another module.</summary>
internal sealed record LayoutViolation(string From, string FromPlace, string ToModule, string To)
{
    /// <summary>The allow-list's key: the using type and the module it uses.</summary>
    public string Key => $"{From} -> {ToModule}";
}

/// <summary>
/// The job core and the capability modules beside it, by namespace, and the rule between them: the core uses no
/// module, and a module uses no other module (each may use the core, and the engine's and the hosts' shared parts).
/// The hosts' composition (Program, the DI extensions) wires modules to the core and is neither.
/// </summary>
internal sealed record ModuleLayout(string[] CoreNamespaces, CapabilityModule[] Modules, string[] CompositionTypes)
{
    /// <summary>The layout of issue 81: what a plain job needs, and the capabilities it does not.</summary>
    public static readonly ModuleLayout Current = new(
        CoreNamespaces:
        [
            "LlmWorkflow.Storage.Jobs",     // the lifecycle table, its guarded statements, the queue, the claim, the finish
            "LlmWorkflow.Storage.Persistence",
            "LlmWorkflow.Storage.Redis",
            "LlmWorkflow.Worker.Jobs",      // the run's writes, its lease, the processor
            "LlmWorkflow.Worker",           // the stream consumer and the worker's core services
            "LlmWorkflow.Api.Jobs",         // submit, status, commands
            "LlmWorkflow.Engine.Execution", // the run of a definition's steps
        ],
        Modules:
        [
            new("Admission", ["LlmWorkflow.Storage.Admission", "LlmWorkflow.Engine.Llm.Admission", "LlmWorkflow.Engine.Llm.Budgets",
                "LlmWorkflow.Engine.Llm.Batches", "LlmWorkflow.Api.Admission", "LlmWorkflow.Worker.Admission"]),
            new("Scheduling", ["LlmWorkflow.Storage.Schedules", "LlmWorkflow.Worker.Schedules", "LlmWorkflow.Api.Schedules",
                "LlmWorkflow.Storage.Approvals", "LlmWorkflow.Api.Approvals", "LlmWorkflow.Api.Signals", "LlmWorkflow.Storage.Scheduling",
                "LlmWorkflow.Worker.Scheduling", "LlmWorkflow.Engine.Scheduling"]),
            new("Webhooks", ["LlmWorkflow.Storage.Webhooks", "LlmWorkflow.Worker.Webhooks", "LlmWorkflow.Api.Webhooks"]),
            new("Reporting", ["LlmWorkflow.Worker.RunLogs", "LlmWorkflow.Api.Reporting", "LlmWorkflow.Storage.Reporting"]),
            new("Versions", ["LlmWorkflow.Storage.Versions", "LlmWorkflow.Api.Versions"]),
            new("Generator", ["LlmWorkflow.Api.Generator", "LlmWorkflow.Engine.Generator"]),
            new("Agents", ["LlmWorkflow.Engine.Agents", "LlmWorkflow.Api.Mcp", "LlmWorkflow.Engine.Mcp", "LlmWorkflow.Api.Agents"]),
        ],
        CompositionTypes: ["Program", "LlmWorkflow.Worker.WorkerHostExtensions"]);

    public bool IsCore(string ns) => CoreNamespaces.Contains(ns) || CoreNamespaces.Any(c => ns.StartsWith(c + ".", StringComparison.Ordinal) && ModuleOf(ns) is null);

    public CapabilityModule? ModuleOf(string ns) => Modules.FirstOrDefault(m => m.Holds(ns));

    /// <summary>Every use that breaks the rule, one per (using type, place, used module, used type).</summary>
    public List<LayoutViolation> Violations(IEnumerable<TypeUse> uses)
    {
        var found = new HashSet<LayoutViolation>();
        foreach (var use in uses)
        {
            if (IsComposition(use) || ModuleOf(use.ToNamespace) is not { } used)
            {
                continue;
            }

            var user = ModuleOf(use.FromNamespace);
            if ((user is null && IsCore(use.FromNamespace)) || (user is not null && user != used))
            {
                found.Add(new LayoutViolation(use.From, user?.Name ?? "core", used.Name, use.To));
            }
        }

        return [.. found];
    }

    /// <summary>Whether the use is made by the hosts' composition, which wires the modules to the core by design.</summary>
    public bool IsComposition(TypeUse use) => CompositionTypes.Contains(use.From) || IsComposition(use.FromNamespace, use.From);

    // The hosts' DI extension classes live in Microsoft.Extensions.* namespaces by convention, or are named for what
    // they extend (a module's AddX on IServiceCollection or the host builder, its MapX on the endpoints).
    private static bool IsComposition(string ns, string type) => ns.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal)
        || type.EndsWith("ServiceCollectionExtensions", StringComparison.Ordinal) || type.EndsWith("HostExtensions", StringComparison.Ordinal)
        || type.EndsWith("ModuleExtensions", StringComparison.Ordinal);
}
