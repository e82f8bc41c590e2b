using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>What the tier tests share: the one_llm_step job with extra members, its 400s naming a field, its step's tier usage.</summary>
internal static class TierSubmissions
{
    public static JsonObject OneLlmStep(JsonObject fields)
    {
        fields["workflow_name"] = "one_llm_step";
        fields["input_data"] = new JsonObject { ["question"] = "why is the sky blue?" };
        return fields;
    }

    /// <summary>Each case's members (JSON) are a 400 whose <c>errors.{Field}</c> has a message containing <c>Says</c>.</summary>
    public static async Task AssertRefusedAsync(HttpClient client, IEnumerable<(string Fields, string Field, string Says)> cases, CancellationToken ct)
    {
        foreach (var (fields, field, says) in cases)
        {
            using var response = await client.PostAsJsonAsync("/api/v1/workflow", OneLlmStep(JsonNode.Parse(fields)!.AsObject()), ct);

            var problem = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{fields}: {problem?.ToJsonString()}");
            var messages = problem!["errors"]![field]!.AsArray().Select(m => (string?)m).ToList();
            Assert.True(messages.Any(m => m!.Contains(says, StringComparison.Ordinal)), $"{fields}: {problem.ToJsonString()}");
        }
    }

    /// <summary>The llm step "answer"'s usage names the tier that served it, the tier asked for, the list price and the discount.</summary>
    public static void AssertUsage(JsonObject done, string tier, string requested, decimal list, decimal discount)
    {
        var usage = done["steps"]!.AsArray().Single(s => (string?)s!["step_id"] == "answer")!["output"]!["usage"]!;
        Assert.Equal((tier, requested, list, discount),
            ((string?)usage["service_tier"], (string?)usage["requested_service_tier"], (decimal)usage["list_cost_usd"]!, (decimal)usage["discount_usd"]!));
    }
}
