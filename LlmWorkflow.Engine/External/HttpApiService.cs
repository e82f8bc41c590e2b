using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.External;

/// <summary>
/// Generic <c>http</c> service: <c>get</c> and <c>post</c> to <c>url</c> (with <c>{name}</c> placeholders filled,
/// escaped, from <c>path</c>), plus <c>query</c>, <c>headers</c> and a JSON <c>body</c>. Only hosts in
/// <c>External:Http:AllowedHosts</c> may be called, and every redirect hop is checked the same way (scheme, allow-list,
/// and at connect time the resolved address, unless <c>External:Http:AllowPrivateNetworks</c>). Returns the JSON body,
/// or the text when it is not JSON.
/// </summary>
public sealed partial class HttpApiService(ExternalHttp http, HttpServiceOptions options) : IExternalService
{
    public const string ServiceName = "http";

    public string Name => ServiceName;

    public IReadOnlyCollection<string> Operations { get; } = ["get", "post"];

    /// <summary>None of its own: secrets in a call's headers and query are redacted per call.</summary>
    public IEnumerable<string?> Secrets => [];

    // Generic endpoints are only cached when configuration asks for it.
    public TimeSpan DefaultCacheTtl(string operation) => TimeSpan.Zero;

    public async Task<JsonNode?> CallAsync(string operation, JsonObject parameters, CancellationToken cancellationToken)
    {
        var url = BuildUrl(parameters);
        var method = operation == "post" ? HttpMethod.Post : HttpMethod.Get;
        List<string> secrets = [.. (parameters["headers"] as JsonObject ?? [])
            .Where(h => SecretRedactor.IsSecretName(h.Key)).Select(h => h.Value?.ToString() ?? string.Empty)];
        var firstHost = url.Host;
        ExternalHttpResponse response;
        for (var hop = 0; ; hop++)
        {
            // Every hop passes the same checks as the first URL: scheme, allow-list, and (at connect) the address.
            CheckAllowed(url, hop);
            // Credentials go only to the host the workflow named, not to where it redirects.
            using var request = BuildRequest(method, url, parameters, includeSecrets: hop == 0 || url.Host == firstHost);
            response = await http.SendAsync(request, secrets, cancellationToken).ConfigureAwait(false);
            if (!response.IsRedirect || response.Location is null)
            {
                break;
            }

            if (hop >= options.MaxRedirects)
            {
                throw WorkflowException.External("too_many_redirects", $"{url.Host} redirected more than {options.MaxRedirects} times.", retryable: false);
            }

            url = response.Location.IsAbsoluteUri ? response.Location : new Uri(url, response.Location);
            if (response.StatusCode == System.Net.HttpStatusCode.SeeOther
                || (method == HttpMethod.Post && (int)response.StatusCode is 301 or 302))
            {
                method = HttpMethod.Get;
            }
        }

        if (!response.IsSuccess)
        {
            var excerpt = response.Body.Length > 200 ? response.Body[..200] : response.Body;
            throw ExternalHttp.StatusFailure(response, $"{url.Host}", SecretRedactor.Redact(excerpt, secrets));
        }

        return response.Json() ?? JsonValue.Create(response.Body);
    }

    private void CheckAllowed(Uri url, int hop)
    {
        var via = hop == 0 ? "" : " (reached by a redirect)";
        if (url.Scheme is not ("http" or "https"))
        {
            throw WorkflowException.Config("invalid_url", $"The http service only calls http(s) URLs; got a {url.Scheme} URL{via}.");
        }

        if (!IsAllowed(url.Host))
        {
            throw WorkflowException.Config(
                hop == 0 ? "host_not_allowed" : "redirect_not_allowed",
                $"The http service may not call '{url.Host}'{via}.",
                $"Add {url.Host} to External:Http:AllowedHosts if the workflow should reach it.");
        }
    }

    private static HttpRequestMessage BuildRequest(HttpMethod method, Uri url, JsonObject parameters, bool includeSecrets)
    {
        var request = new HttpRequestMessage(method, url);
        if (parameters["headers"] is JsonObject headers)
        {
            foreach (var (name, value) in headers)
            {
                if (!includeSecrets && SecretRedactor.IsSecretName(name))
                {
                    continue;
                }

                request.Headers.TryAddWithoutValidation(name, value?.ToString() ?? string.Empty);
            }
        }

        if (method == HttpMethod.Post && parameters["body"] is { } body)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        return request;
    }

    private static Uri BuildUrl(JsonObject parameters)
    {
        var template = ServiceParameters.RequireString(parameters, "url", "http");
        var path = parameters["path"] as JsonObject;
        var filled = Placeholder().Replace(template, match =>
            path?[match.Groups[1].Value] is { } value
                ? Uri.EscapeDataString(value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString())
                : throw WorkflowException.User("missing_parameter", $"The url needs path.{match.Groups[1].Value}."));
        if (!Uri.TryCreate(filled, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw WorkflowException.User("invalid_url", $"'{SecretRedactor.Redact(filled)}' is not an absolute http(s) URL.");
        }

        if (parameters["query"] is not JsonObject query || query.Count == 0)
        {
            return uri;
        }

        var builder = new StringBuilder(uri.Query.Length > 1 ? uri.Query[1..] : string.Empty);
        foreach (var (name, value) in query)
        {
            if (value is null)
            {
                continue;
            }

            var text = value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString();
            builder.Append(builder.Length == 0 ? "" : "&").Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(text));
        }

        return new UriBuilder(uri) { Query = builder.ToString() }.Uri;
    }

    private bool IsAllowed(string host) => options.AllowedHosts.Any(allowed =>
        allowed.StartsWith("*.", StringComparison.Ordinal)
            ? host.EndsWith(allowed[1..], StringComparison.OrdinalIgnoreCase)
            : host.Equals(allowed, StringComparison.OrdinalIgnoreCase));

    [GeneratedRegex(@"\{([A-Za-z0-9_]+)\}")]
    private static partial Regex Placeholder();
}
