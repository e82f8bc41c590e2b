namespace LlmWorkflow.Pipeline.Redis;

/// <summary>One stream entry: its id (<c>ms-seq</c>) and fields. Fields are empty for an entry deleted while pending.</summary>
public sealed record StreamEntry(string Id, IReadOnlyDictionary<string, string> Fields);

/// <summary>The entries one stream returned to XREAD or XREADGROUP.</summary>
public sealed record StreamReadResult(string Stream, IReadOnlyList<StreamEntry> Entries);

/// <summary>One consumer group as XINFO GROUPS reports it; <paramref name="Lag"/> is null when Redis cannot tell.</summary>
public sealed record StreamGroupInfo(string Name, long Consumers, long Pending, string LastDeliveredId, long? Lag);

/// <summary>One consumer of a group as XINFO CONSUMERS reports it; <paramref name="Idle"/> is the time since its last attempt.</summary>
public sealed record StreamConsumerInfo(string Name, long Pending, TimeSpan Idle);
