namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// Weighted shares of the worker slots between tenants (<c>Worker:TenantSlotShares</c>, docs/ADMISSION.md "Shares of
/// worker slots between tenants"), as the slot statements take them: the slots of every live worker, and the tenants'
/// weights (<c>Tenants:&lt;id&gt;:Weight</c>, the LLM budgets' own) as two parallel arrays; a tenant absent weighs 1.
/// </summary>
public sealed record SlotShares(int TotalSlots, string[] Tenants, decimal[] Weights);
