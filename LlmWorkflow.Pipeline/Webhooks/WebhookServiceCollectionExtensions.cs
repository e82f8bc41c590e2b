using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmWorkflow.Pipeline.Webhooks;

/// <summary>Registers the webhook outbox, the per-job secret protector and admin access (the Worker adds the dispatcher).</summary>
public static class WebhookServiceCollectionExtensions
{
    public static IServiceCollection AddWebhooks(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<WebhookOptions>()
            .Bind(configuration.GetSection(WebhookOptions.Section))
            .PostConfigure(options =>
            {
                if (string.IsNullOrEmpty(options.Secret))
                {
                    options.Secret = configuration[WebhookOptions.SecretEnvironmentVariable];
                }

                // Defaults here, not in the initializer: the binder appends configured items to a non-empty array.
                if (options.RetryDelays.Length == 0)
                {
                    options.RetryDelays = [.. WebhookOptions.DefaultRetryDelays];
                }
            })
            .Validate(o => o.MaxPayloadBytes >= 1024, "Webhooks:MaxPayloadBytes must be at least 1024.")
            .Validate(o => o.Timeout > TimeSpan.Zero, "Webhooks:Timeout must be positive.")
            .Validate(o => o.BatchSize > 0, "Webhooks:BatchSize must be positive.")
            .Validate(o => o.RetryDelays.All(d => d >= TimeSpan.Zero), "Webhooks:RetryDelays must not be negative.")
            .Validate(o => string.IsNullOrEmpty(o.DefaultUrl) || o.CanSign(null),
                "Webhooks:DefaultUrl (WEBHOOK_URL) is set but no signing secret is: set LLM_WEBHOOK_SECRET (Webhooks:Secret); unsigned webhooks are never sent.")
            .ValidateOnStart();

        // Per-job secrets are encrypted at rest; API and Worker share the application name and the key ring.
        services.AddDataProtection().SetApplicationName(WebhookSecretProtector.ApplicationName);
        services.AddOptions<KeyManagementOptions>()
            .Configure<NpgsqlDataSource>((options, dataSource) => options.XmlRepository = new PostgresXmlRepository(dataSource));
        services.AddSingleton<WebhookSecretProtector>();
        services.AddSingleton<WebhookOutbox>();
        services.AddSingleton<WebhookAdmin>();
        return services;
    }
}
