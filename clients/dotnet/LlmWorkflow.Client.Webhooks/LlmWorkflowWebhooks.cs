using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Contracts;
using Microsoft.AspNetCore.Http;
using StandardWebhooks;
using StandardWebhooks.Diagnostics;

namespace LlmWorkflow.Client;

/// <summary>A verified webhook delivery: its event name and body, readable as the record of its kind.</summary>
public sealed record WebhookDelivery(string Event, JsonObject Body)
{
    /// <summary>workflow.completed, workflow.failed or workflow.cancelled.</summary>
    public bool IsTerminal => Event is "workflow.completed" or "workflow.failed" or "workflow.cancelled";

    public Guid JobId => Guid.Parse((string)Body["job_id"]!);

    public TerminalWebhookBody AsTerminal() => Body.Deserialize<TerminalWebhookBody>(LlmWorkflowClient.JsonOptions)!;

    public StepWebhookBody AsStep() => Body.Deserialize<StepWebhookBody>(LlmWorkflowClient.JsonOptions)!;

    public WaitingWebhookBody AsWaiting() => Body.Deserialize<WaitingWebhookBody>(LlmWorkflowClient.JsonOptions)!;
}

/// <summary>
/// Verifies the service's webhook deliveries (Standard Webhooks: <c>webhook-id</c>, <c>webhook-timestamp</c>,
/// <c>webhook-signature</c> over the raw body, timestamp within 5 minutes) with the StandardWebhooks package.
/// </summary>
public static class LlmWorkflowWebhooks
{
    private const string IdHeader = "webhook-id";
    private const string TimestampHeader = "webhook-timestamp";
    private const string SignatureHeader = "webhook-signature";

    /// <summary>
    /// Reads the raw body of an ASP.NET Core request and verifies it against any of <paramref name="secrets"/> (pass
    /// the old and the new one while rotating). Throws <see cref="WebhookVerificationException"/> when none matches.
    /// </summary>
    public static async Task<WebhookDelivery> VerifyAsync(HttpRequest request, IEnumerable<string> secrets, CancellationToken cancellationToken = default)
    {
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(cancellationToken);
        return Verify(body, request.Headers, secrets);
    }

    /// <inheritdoc cref="VerifyAsync(HttpRequest, IEnumerable{string}, CancellationToken)"/>
    public static Task<WebhookDelivery> VerifyAsync(HttpRequest request, string secret, CancellationToken cancellationToken = default) =>
        VerifyAsync(request, [secret], cancellationToken);

    /// <summary>Verifies a raw body already read and returns the delivery.</summary>
    public static WebhookDelivery Verify(string body, IHeaderDictionary headers, IEnumerable<string> secrets)
    {
        WebhookVerificationException? failure = null;
        foreach (var secret in secrets)
        {
            var webhook = WebhookFor(secret);
            foreach (var single in OneSignatureEach(headers))
            {
                try
                {
                    webhook.Verify(body, single);
                    var json = JsonNode.Parse(body) as JsonObject ?? throw new WebhookVerificationException("The webhook body is not a JSON object.");
                    return new WebhookDelivery((string?)json["event"] ?? "", json);
                }
                catch (WebhookVerificationException error)
                {
                    failure = error;
                }
            }
        }

        throw failure ?? new WebhookVerificationException("No webhook secret was given.");
    }

    /// <summary>
    /// The headers once per signature of a space-separated <c>webhook-signature</c> (the service sends one per secret
    /// while its secret is rotated). StandardWebhooks 1.1.2 compares only the first of several signatures correctly
    /// (its loop takes the whole header for the last one), so each is handed to it alone.
    /// </summary>
    private static IEnumerable<IHeaderDictionary> OneSignatureEach(IHeaderDictionary headers)
    {
        var signatures = headers[SignatureHeader].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (signatures.Length <= 1)
        {
            yield return headers;
            yield break;
        }

        foreach (var signature in signatures)
        {
            yield return new HeaderDictionary
            {
                [IdHeader] = headers[IdHeader],
                [TimestampHeader] = headers[TimestampHeader],
                [SignatureHeader] = signature,
            };
        }
    }

    /// <summary>
    /// The key the service signs with: a <c>whsec_&lt;base64&gt;</c> secret is its decoded bytes (the Standard Webhooks
    /// form, which the package reads as is), any other secret its UTF-8 bytes (docs/WEBHOOKS.md).
    /// </summary>
    private static StandardWebhook WebhookFor(string secret) =>
        secret.StartsWith("whsec_", StringComparison.Ordinal) ? new StandardWebhook(secret) : new StandardWebhook(Encoding.UTF8.GetBytes(secret));
}
