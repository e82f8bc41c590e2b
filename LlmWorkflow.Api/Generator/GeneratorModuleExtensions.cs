namespace LlmWorkflow.Api.Generator;

/// <summary>The generator's part of the API host's composition.</summary>
internal static class GeneratorModuleExtensions
{
    /// <summary>Document 004's project generator.</summary>
    public static WebApplicationBuilder AddGenerator(this WebApplicationBuilder builder)
    {
        builder.Services.AddProjectGenerator(builder.Configuration);
        return builder;
    }
}
