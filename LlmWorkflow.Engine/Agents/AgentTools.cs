using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Transforms;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Agents;

/// <summary>A tool the agent loop can offer and run. Implementations never run twice for one ledger row that finished.</summary>
internal interface IAgentTool
{
    AIFunctionDeclaration Declaration { get; }

    bool RequiresApproval { get; }

    /// <summary>Runs the call; its answer goes back to the model as the function result (JSON text).</summary>
    Task<JsonNode?> InvokeAsync(AgentToolInvocation invocation, CancellationToken cancellationToken);
}

/// <param name="Scope">The step's scope with the model's arguments as <c>item</c>.</param>
internal sealed record AgentToolInvocation(JsonObject Arguments, string IdempotencyKey, ExpressionScope Scope);

/// <summary>Shared by the tools declared in a definition: the declaration the model sees.</summary>
internal abstract class DeclaredAgentTool(AgentToolDefinition definition) : IAgentTool
{
    public AIFunctionDeclaration Declaration { get; } = AIFunctionFactory.CreateDeclaration(
        definition.Name, definition.Description ?? definition.Name, JsonSerializer.SerializeToElement(definition.Parameters, AgentJson.Default.JsonObject));

    public bool RequiresApproval => definition.RequiresApproval;

    protected AgentToolDefinition Definition => definition;

    public abstract Task<JsonNode?> InvokeAsync(AgentToolInvocation invocation, CancellationToken cancellationToken);
}

/// <summary>
/// <c>http</c>: <c>method</c> to <c>url</c>, whose <c>{name}</c> placeholders are filled (escaped) from the arguments and
/// whose <c>${…}</c> expressions are resolved; the other arguments go as the query (GET, DELETE) or the JSON body. The
/// client is the generic http step's (the SSRF guard checks every resolved address at connect, no redirects followed)
/// and every call carries the ledger's stable <c>Idempotency-Key</c>, so a call retried after a crash is the same call.
/// </summary>
internal sealed class HttpAgentTool(AgentToolDefinition definition, HttpClient http, int maxResultChars) : DeclaredAgentTool(definition)
{
    public override async Task<JsonNode?> InvokeAsync(AgentToolInvocation invocation, CancellationToken cancellationToken)
    {
        var (url, unused) = BuildUrl(invocation);
        var method = new HttpMethod(Definition.Method);
        using var request = new HttpRequestMessage(method, url);
        request.Headers.TryAddWithoutValidation("Idempotency-Key", invocation.IdempotencyKey);
        foreach (var (name, value) in Definition.Spec["headers"] as JsonObject ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, ValueText.Render(ValueResolver.Resolve(value, invocation.Scope)));
        }

        if (method != HttpMethod.Get && method != HttpMethod.Delete)
        {
            var body = Definition.Spec["body"] is { } template ? ValueResolver.Resolve(template, invocation.Scope) : unused;
            request.Content = new StringContent(body?.ToJsonString() ?? "{}", Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
        }

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (text.Length > maxResultChars)
        {
            text = text[..maxResultChars];
        }

        JsonNode? parsed;
        try
        {
            parsed = JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            parsed = JsonValue.Create(text);
        }

        return new JsonObject { ["status"] = (int)response.StatusCode, ["body"] = parsed };
    }

    /// <summary>The URL with its placeholders filled, and the arguments no placeholder used (query or body).</summary>
    private (Uri Url, JsonObject Unused) BuildUrl(AgentToolInvocation invocation)
    {
        var template = ValueResolver.ResolveText(Definition.Url!, invocation.Scope);
        var unused = (JsonObject)invocation.Arguments.DeepClone();
        foreach (var (name, value) in invocation.Arguments)
        {
            var placeholder = "{" + name + "}";
            if (template.Contains(placeholder, StringComparison.Ordinal))
            {
                template = template.Replace(placeholder, Uri.EscapeDataString(ValueText.Render(value)), StringComparison.Ordinal);
                unused.Remove(name);
            }
        }

        if (!Uri.TryCreate(template, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            throw WorkflowException.Config("invalid_tool_url", $"Tool \"{Definition.Name}\" built \"{template}\", which is not an http(s) URL.");
        }

        if (Definition.Method is "GET" or "DELETE" && unused.Count > 0)
        {
            var query = string.Join("&", unused.Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(ValueText.Render(p.Value))));
            url = new Uri(url + (url.Query.Length > 0 ? "&" : "?") + query);
        }

        return (url, unused);
    }
}

/// <summary><c>transform</c>: the tool's <c>config</c> run as a transform step's, with the arguments as <c>${item}</c>.</summary>
internal sealed class TransformAgentTool(AgentToolDefinition definition, TransformRegistry transforms) : DeclaredAgentTool(definition)
{
    public override Task<JsonNode?> InvokeAsync(AgentToolInvocation invocation, CancellationToken cancellationToken)
    {
        var config = (JsonObject)Definition.Spec["config"]!;
        return Task.FromResult(transforms.Get((string)config["operation"]!).Apply(config, invocation.Scope));
    }
}

/// <summary><c>external_api</c>: a registered service's operation with <c>params</c> resolved against the arguments.</summary>
internal sealed class ExternalApiAgentTool(AgentToolDefinition definition, IExternalServiceGateway? gateway) : DeclaredAgentTool(definition)
{
    public override async Task<JsonNode?> InvokeAsync(AgentToolInvocation invocation, CancellationToken cancellationToken)
    {
        var services = gateway ?? throw WorkflowException.Config("external_not_configured", "No external service gateway is registered.");
        var parameters = Definition.Spec["params"] is { } template
            ? ValueResolver.Resolve(template, invocation.Scope) as JsonObject ?? []
            : (JsonObject)invocation.Arguments.DeepClone();
        return await services.CallAsync((string)Definition.Spec["service"]!, (string)Definition.Spec["operation"]!, parameters, cancellationToken)
            .ConfigureAwait(false);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonObject))]
[System.Text.Json.Serialization.JsonSerializable(typeof(JsonNode))]
internal sealed partial class AgentJson : System.Text.Json.Serialization.JsonSerializerContext;
