using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmWorkflow.Storage.Webhooks;

/// <summary>Registers the webhook outbox and the per-job secret protector (the API adds admin access, the Worker the dispatcher).</summary>
public static class WebhookServiceCollectionExtensions
{
    /// <summary>A PKCS#12 file whose certificate encrypts Data Protection's key XML at rest (optional).</summary>
    public const string DataProtectionCertificatePath = "DataProtection:CertificatePath";

    public const string DataProtectionCertificatePassword = "DataProtection:CertificatePassword";

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
        var dataProtection = services.AddDataProtection().SetApplicationName(WebhookSecretProtector.ApplicationName);
        if (configuration[DataProtectionCertificatePath] is { Length: > 0 } certificatePath)
        {
            dataProtection.ProtectKeysWithCertificate(
                X509CertificateLoader.LoadPkcs12FromFile(certificatePath, configuration[DataProtectionCertificatePassword]));
        }

        services.AddOptions<KeyManagementOptions>()
            .Configure<NpgsqlDataSource>((options, dataSource) =>
            {
                options.XmlRepository = new PostgresXmlRepository(dataSource);
                // Without a certificate the key XML is stored as it is, by choice (docs/SECURITY.md): it sits in the
                // same database as the secrets it protects, which guards against copies of the jobs table alone. Saying
                // so explicitly replaces Data Protection's start-up warning about a missing encryptor.
                options.XmlEncryptor ??= new NullXmlEncryptor();
            });
        services.AddSingleton<WebhookSecretProtector>();
        // Decision links are protected by the same key ring: the worker issues them, the API reads them.
        services.AddOptions<Approvals.ApprovalOptions>().Bind(configuration.GetSection(Approvals.ApprovalOptions.Section))
            .Validate(o => o.MaxLinkLifetime > TimeSpan.Zero, "Approvals:MaxLinkLifetime must be positive.")
            .Validate(o => o.PublicBaseUrl is null || Uri.TryCreate(o.PublicBaseUrl, UriKind.Absolute, out _), "Approvals:PublicBaseUrl must be an absolute URL.");
        services.AddSingleton<Approvals.ApprovalLinks>();
        services.AddSingleton<WebhookOutbox>();
        return services;
    }
}
