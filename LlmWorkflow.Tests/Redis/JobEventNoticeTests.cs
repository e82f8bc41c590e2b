using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Redis;

/// <summary>
/// The live events' notices against the real server: a batch of many jobs' events is followed by one notice naming
/// them, which wakes every reader of each of those jobs and no other; a process subscribes once, however many readers
/// it serves, and forgets a reader that stopped watching.
/// </summary>
[IntegrationTest]
public sealed class JobEventNoticeTests(LocalRedisFixture redis) : IClassFixture<LocalRedisFixture>
{
    private readonly IConnectionMultiplexer _client = redis.Client;
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task OneNoticeNamingABatchsJobsWakesEveryReaderOfThoseJobsAndNoOther()
    {
        var events = new JobEventStream(_client, Options.Create(new QueueOptions { KeyPrefix = LocalRedisFixture.UniqueKey("notices") }));
        Guid first = Guid.CreateVersion7(), second = Guid.CreateVersion7(), quiet = Guid.CreateVersion7();
        await using var firstReader = await events.WatchAsync(first);
        await using var firstSecondReader = await events.WatchAsync(first);
        await using var secondReader = await events.WatchAsync(second);
        await using var quietReader = await events.WatchAsync(quiet);
        var woken = new[] { firstReader.Next(), firstSecondReader.Next(), secondReader.Next() };
        var notWoken = quietReader.Next();

        var batch = _client.GetDatabase().CreateBatch();
        var adds = new[] { events.AddOnly(batch, first, "run_started", "{}"), events.AddOnly(batch, second, "run_started", "{}") };
        var notice = batch.PublishAsync(events.NoticeChannel, JobEventStream.Notice([first, second]));
        batch.Execute();
        await Task.WhenAll(adds);

        Assert.Equal(1, await notice); // one subscription in this process, for its four readers
        await Task.WhenAll(woken).WaitAsync(TimeSpan.FromSeconds(10), _ct);
        Assert.False(notWoken.IsCompleted, "a notice that does not name a job wakes none of its readers");
    }

    [Fact]
    public async Task AReaderThatStopsWatchingIsForgotten()
    {
        var events = new JobEventStream(_client, Options.Create(new QueueOptions { KeyPrefix = LocalRedisFixture.UniqueKey("forget") }));
        var job = Guid.CreateVersion7();
        await using (await events.WatchAsync(job))
        {
            Assert.True(events.IsWatched(job));
        }

        Assert.False(events.IsWatched(job));
    }
}
