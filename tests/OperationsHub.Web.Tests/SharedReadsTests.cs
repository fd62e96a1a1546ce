using Microsoft.Extensions.Time.Testing;
using OperationsHub.Core.Feed;
using OperationsHub.Web.Features.Live;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

/// <summary>Watchers of the same view share a read, but never one that started before their latest change.</summary>
public sealed class SharedReadsTests
{
    private readonly FakeChangeFeed _feed = new();
    private readonly FakeTimeProvider _time = new();
    private int _reads;

    private SharedReads? _shared;

    private SharedReads Reads => _shared ??= new SharedReads(_feed, _time);

    [Fact]
    public async Task CallersBetweenTwoChanges_ShareOneRead()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Reads.GetAsync("grid", ReadAsync, CancellationToken.None)));

        _reads.Should().Be(1);
        results.Should().OnlyContain(r => r == 1);
    }

    [Fact]
    public async Task ACallerAfterANewChange_GetsAFreshRead()
    {
        (await Reads.GetAsync("grid", ReadAsync, CancellationToken.None)).Should().Be(1);
        _feed.Publish(new RunChanged(1, 1, null, 2));

        (await Reads.GetAsync("grid", ReadAsync, CancellationToken.None)).Should().Be(2, "the first read started before this change");
        (await Reads.GetAsync("grid", ReadAsync, CancellationToken.None)).Should().Be(2, "the second read already reflects it");
    }

    [Fact]
    public async Task DifferentViews_AreNotShared_AndOldResultsExpire()
    {
        await Reads.GetAsync("grid", ReadAsync, CancellationToken.None);
        await Reads.GetAsync("grid?mine", ReadAsync, CancellationToken.None);
        _reads.Should().Be(2);

        _time.Advance(TimeSpan.FromSeconds(2));
        (await Reads.GetAsync("grid", ReadAsync, CancellationToken.None)).Should().Be(3, "time-based figures must not go stale without changes");
    }

    [Fact]
    public async Task AFailedRead_IsNotHandedToTheNextCaller()
    {
        var failing = Reads.GetAsync<int>("grid", _ => Task.FromException<int>(new InvalidOperationException("db")), CancellationToken.None);
        await failing.Invoking(t => t).Should().ThrowAsync<InvalidOperationException>();

        (await Reads.GetAsync("grid", ReadAsync, CancellationToken.None)).Should().Be(1);
    }

    private Task<int> ReadAsync(CancellationToken cancellationToken) => Task.FromResult(Interlocked.Increment(ref _reads));
}
