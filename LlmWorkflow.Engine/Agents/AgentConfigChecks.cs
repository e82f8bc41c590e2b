using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Engine.Agents;

/// <summary>The validator's checks of an <c>agent</c> step's config (what <see cref="AgentStepConfig.Parse"/> refuses).</summary>
internal static class AgentConfigChecks
{
    private static readonly string[] Properties =
        ["model", "instructions", "instructions_file", "input", "variables", "tools", "max_turns", "max_tokens", "max_cost_usd", "max_output_tokens", "temperature", "stream"];

    public static void Check(JsonObject config, string configPath, ProblemList problems)
    {
        foreach (var unknown in config.Select(p => p.Key).Where(k => !Properties.Contains(k, StringComparer.Ordinal)))
        {
            problems.Add($"{configPath}.{unknown}", ValidationCodes.UnknownConfigProperty, $"The agent step has no property \"{unknown}\".",
                $"Use: {string.Join(", ", Properties)}.");
        }

        AgentStepConfig.Parse(config, out var found);
        foreach (var problem in found)
        {
            // Each message names its field as config.…; the problem's path is the step's config.
            problems.Add(configPath, ValidationCodes.InvalidConfigValue, problem, "See docs/AGENTS.md for the agent step's config.");
        }
    }
}
