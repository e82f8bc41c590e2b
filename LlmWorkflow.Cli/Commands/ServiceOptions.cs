using System.CommandLine;
using LlmWorkflow.Cli.Remote;

namespace LlmWorkflow.Cli.Commands;

/// <summary>
/// <c>--url</c> and <c>--api-key</c> of the commands that talk to a running service, with their environment fallbacks.
/// Commands on admin routes (<paramref name="admin"/>) look for <c>LLMWF_ADMIN_KEY</c> before <c>LLMWF_API_KEY</c>.
/// </summary>
internal sealed class ServiceOptions(bool admin = false)
{
    public const string DefaultUrl = "http://localhost:5080";
    public const string UrlVariable = "LLMWF_URL";
    public const string ApiKeyVariable = "LLMWF_API_KEY";
    public const string AdminKeyVariable = "LLMWF_ADMIN_KEY";

    private readonly Option<string?> _url = new("--url") { Description = $"The service's base URL. Default: ${UrlVariable}, else {DefaultUrl}." };
    private readonly Option<string?> _apiKey = new("--api-key")
    {
        Description = admin ? $"An admin key, sent as X-API-Key. Default: ${AdminKeyVariable}, else ${ApiKeyVariable}." : $"Sent as X-API-Key. Default: ${ApiKeyVariable}.",
    };

    public void AddTo(Command command)
    {
        command.Add(_url);
        command.Add(_apiKey);
    }

    public ServiceClient Connect(ParseResult parse, CliConsole console)
    {
        var url = parse.GetValue(_url) ?? console.Environment(UrlVariable) ?? DefaultUrl;
        if (!Uri.TryCreate(url.EndsWith('/') ? url : url + "/", UriKind.Absolute, out var baseUrl) || baseUrl.Scheme is not ("http" or "https"))
        {
            throw new UsageException($"--url {url}: not an http(s) URL.");
        }

        var key = parse.GetValue(_apiKey) ?? (admin ? console.Environment(AdminKeyVariable) : null) ?? console.Environment(ApiKeyVariable);
        return new ServiceClient(baseUrl, key, console.HttpHandler);
    }
}
