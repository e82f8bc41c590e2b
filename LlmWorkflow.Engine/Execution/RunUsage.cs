using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// Token and cost totals of a run, and the budget check. Concurrent branches reserve their worst-case cost
/// before calling a model so two parallel calls cannot both squeeze under the limit.
/// </summary>
internal sealed class RunUsage(decimal? maxCostUsd)
{
    private readonly Lock _lock = new();
    private decimal _reserved;

    /// <summary>Totals per <c>provider/model</c>, in the order the models first answered.</summary>
    private readonly List<ModelCost> _models = [];

    public int InputTokens { get; private set; }

    public int OutputTokens { get; private set; }

    public decimal? CostUsd { get; private set; }

    /// <summary>The priced calls at list price (what a cheaper tier saved is this minus <see cref="CostUsd"/>).</summary>
    public decimal? ListCostUsd { get; private set; }

    public bool Unpriced { get; private set; }

    public string? Provider { get; private set; }

    public string? Model { get; private set; }

    public decimal? MaxCostUsd => maxCostUsd;

    /// <summary>The per-model breakdown so far.</summary>
    public IReadOnlyList<ModelCost> Models
    {
        get
        {
            lock (_lock)
            {
                return [.. _models];
            }
        }
    }

    /// <summary>
    /// Reserves <paramref name="estimateUsd"/>; false (nothing reserved) when <paramref name="requiredUsd"/> (the estimate,
    /// or with <c>budget_check: remaining</c> the estimate and the rest of the job's forecast) would exceed the budget.
    /// </summary>
    public bool TryReserve(decimal estimateUsd, decimal requiredUsd, out decimal spentUsd)
    {
        lock (_lock)
        {
            spentUsd = (CostUsd ?? 0) + _reserved;
            if (maxCostUsd is { } max && spentUsd + requiredUsd > max)
            {
                return false;
            }

            _reserved += estimateUsd;
            return true;
        }
    }

    public void Release(decimal estimateUsd)
    {
        lock (_lock)
        {
            _reserved -= estimateUsd;
        }
    }

    public void Add(LlmCallResult call)
    {
        Add(call.InputTokens, call.OutputTokens, call.CostUsd, call.Provider, call.Model);
        AddList(call.ListCostUsd ?? call.CostUsd);
    }

    /// <summary>Adds usage restored from a checkpointed record.</summary>
    public void Add(StepRecord record)
    {
        if (record.Model is not null)
        {
            Add(record.InputTokens ?? 0, record.OutputTokens ?? 0, record.CostUsd, record.Provider, record.Model);
            // A checkpointed flex call's list price is in its output's usage (LlmStepHandler); others were billed at list.
            AddList(ListCostOf(record) ?? record.CostUsd);
        }
    }

    private static decimal? ListCostOf(StepRecord record) =>
        record.Output?["usage"]?["list_cost_usd"] is JsonValue list && list.TryGetValue(out decimal usd) ? usd : null;

    private void AddList(decimal? listCost)
    {
        if (listCost is { } usd)
        {
            lock (_lock)
            {
                ListCostUsd = (ListCostUsd ?? 0) + usd;
            }
        }
    }

    private void Add(int inputTokens, int outputTokens, decimal? cost, string? provider, string? model)
    {
        lock (_lock)
        {
            InputTokens += inputTokens;
            OutputTokens += outputTokens;
            if (cost is { } priced)
            {
                CostUsd = (CostUsd ?? 0) + priced;
            }
            else
            {
                Unpriced = true;
            }

            Provider = provider;
            Model = model;
            AddToModel(inputTokens, outputTokens, cost, provider, model);
        }
    }

    private void AddToModel(int inputTokens, int outputTokens, decimal? cost, string? provider, string? model)
    {
        if (model is null)
        {
            return;
        }

        var index = _models.FindIndex(m => m.Model == model);
        var current = index >= 0 ? _models[index] : new ModelCost { Provider = provider ?? model.Split('/')[0], Model = model };
        var updated = current with
        {
            Calls = current.Calls + 1,
            InputTokens = current.InputTokens + inputTokens,
            OutputTokens = current.OutputTokens + outputTokens,
            CostUsd = cost is { } priced ? (current.CostUsd ?? 0) + priced : current.CostUsd,
            Unpriced = current.Unpriced || cost is null,
        };
        if (index >= 0)
        {
            _models[index] = updated;
        }
        else
        {
            _models.Add(updated);
        }
    }
}
