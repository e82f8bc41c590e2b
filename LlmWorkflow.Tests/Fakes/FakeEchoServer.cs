using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace LlmWorkflow.Tests.Fakes;

/// <summary>Generic JSON API fake: answers every request with <c>{method, path, query, body}</c> of what it received.</summary>
public sealed class FakeEchoServer : FakeHttpServer
{
    private FakeEchoServer()
    {
    }

    public static async Task<FakeEchoServer> StartAsync()
    {
        var server = new FakeEchoServer();
        await server.StartServerAsync();
        return server;
    }

    protected override string ErrorBody(int statusCode, string message) =>
        new JsonObject { ["error"] = message, ["status"] = statusCode }.ToJsonString();

    protected override Task HandleAsync(HttpContext context, RecordedRequest request) => WriteJsonAsync(context, new JsonObject
    {
        ["method"] = request.Method,
        ["path"] = request.Path,
        ["query"] = request.QueryString,
        ["body"] = request.Json,
    }.ToJsonString());
}
