using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>How a parallel step reacts to a failing branch.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ParallelMode>))]
public enum ParallelMode
{
    /// <summary>Cancel the other branches at the first failure.</summary>
    [JsonStringEnumMemberName("fail_fast")]
    FailFast,

    /// <summary>Let every branch finish, then fail with the first error.</summary>
    [JsonStringEnumMemberName("wait_all")]
    WaitAll,
}
