namespace LlmWorkflow.Engine.Execution;

/// <summary>The error taxonomy from the requirement documents: who has to act to fix the failure.</summary>
public enum ErrorCategory
{
    /// <summary>Bad input from the caller (missing field, bad coordinates, unparseable answer the user can fix).</summary>
    UserError,

    /// <summary>Deployment or workflow configuration is wrong (missing API key, unknown model, bad definition).</summary>
    ConfigError,

    /// <summary>Our own failure (bug, database down, timeout of the whole workflow).</summary>
    SystemError,

    /// <summary>A third party failed (LLM provider, Google Places, WeatherAPI); often retryable.</summary>
    ExternalError,
}

public static class ErrorCategoryNames
{
    /// <summary>The wire form used in API responses and webhooks: USER_ERROR, CONFIG_ERROR, ...</summary>
    public static string ToWire(this ErrorCategory category) => category switch
    {
        ErrorCategory.UserError => "USER_ERROR",
        ErrorCategory.ConfigError => "CONFIG_ERROR",
        ErrorCategory.SystemError => "SYSTEM_ERROR",
        ErrorCategory.ExternalError => "EXTERNAL_ERROR",
        _ => throw new ArgumentOutOfRangeException(nameof(category)),
    };
}
