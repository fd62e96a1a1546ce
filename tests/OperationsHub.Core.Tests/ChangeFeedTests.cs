using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Tests.Infrastructure;

namespace OperationsHub.Core.Tests;

public sealed class ChangeFeedTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    private readonly FakeTimeProvider _time = new();
    private readonly InProcessRunChangeFeed _feed;

    public ChangeFeedTests() => _feed = CreateFeed(maxBatchRuns: 500);

    [Fact]
    public async Task Publish_FirstSignal_IsDeliveredAtOnce()
    {
        var sink = new Sink();
        using var _ = _feed.Subscribe(RunChangeScope.ForTenant(1), sink.Receive);

        _feed.Publish(Change(runId: 7, version: 1));

        await sink.WaitForDeliveriesAsync(1);
        sink.Batches.Single().Changes.Should().ContainSingle().Which.RunId.Should().Be(7);
    }

    [Fact]
    public async Task Publish_BurstOfTenThousand_YieldsABoundedNumberOfCallbacksEndingWithTheFinalState()
    {
        var sink = new Sink();
        using var _ = _feed.Subscribe(RunChangeScope.ForRun(42), sink.Receive);

        for (var version = 1; version <= 10_000; version++)
        {
            _feed.Publish(Change(runId: 42, version: version));
        }

        await sink.WaitForDeliveriesAsync(1);
        // The clock has not moved: whatever the first delivery did not take waits for the interval.
        _time.Advance(Interval);
        await sink.WaitUntilAsync(() => sink.Last?.Changes.Single().Version == 10_000, "the final version");

        sink.Count.Should().BeInRange(1, 2, "10,000 signals within one interval coalesce into at most a leading and a trailing delivery");
        sink.Batches.Should().AllSatisfy(b => b.Changes.Should().ContainSingle("signals of one run coalesce to its newest version"));
    }

    [Fact]
    public async Task AStateChange_IsNotHiddenBehindAProgressBeat_ThatCoalescesWithIt()
    {
        var sink = new Sink();
        using var _ = _feed.Subscribe(RunChangeScope.ForTenant(1), sink.Receive);
        _feed.Publish(Change(runId: 1, version: 1));
        await sink.WaitForDeliveriesAsync(1);

        // Within one interval: run 2 changes state, then beats progress; run 3 only beats progress.
        _feed.Publish(Change(runId: 2, version: 5));
        _feed.Publish(Change(runId: 2, version: 6) with { ProgressOnly = true });
        _feed.Publish(Change(runId: 3, version: 2) with { ProgressOnly = true });
        _time.Advance(Interval);
        await sink.WaitForDeliveriesAsync(2);

        var batch = sink.Last!;
        batch.Changes.Single(c => c.RunId == 2).Should().Be(Change(runId: 2, version: 6), "the newest version, still a state change");
        batch.Changes.Single(c => c.RunId == 3).ProgressOnly.Should().BeTrue();
        batch.ProgressOnly.Should().BeFalse();
        new RunChangeBatch([Change(runId: 3, version: 2) with { ProgressOnly = true }], Overflowed: false).ProgressOnly.Should().BeTrue();
        new RunChangeBatch([], Overflowed: true).ProgressOnly.Should().BeFalse("an overflow may hide anything");
    }

    [Fact]
    public async Task Publish_WithinTheInterval_WaitsForItThenDeliversTheLatest()
    {
        var sink = new Sink();
        using var _ = _feed.Subscribe(RunChangeScope.ForTenant(1), sink.Receive);
        _feed.Publish(Change(runId: 1, version: 1));
        await sink.WaitForDeliveriesAsync(1);

        _feed.Publish(Change(runId: 1, version: 2));
        _feed.Publish(Change(runId: 2, version: 1));
        _time.Advance(Interval / 2);
        await Task.Delay(50, TestContext.Current.CancellationToken);
        sink.Count.Should().Be(1, "the minimum interval has not passed");

        _time.Advance(Interval / 2);
        await sink.WaitForDeliveriesAsync(2);
        sink.Last!.Changes.Should().BeEquivalentTo([Change(1, 2), Change(2, 1)]);
    }

    [Fact]
    public async Task ASlowSubscriber_IsAskedLessOften_AndAFastOneAgainAtTheUsualInterval()
    {
        var sink = new Sink();
        var cost = TimeSpan.FromMilliseconds(60); // each delivery "takes" 60 ms of the clock: 5 x 60 = 300 ms between
        using var _ = _feed.Subscribe(RunChangeScope.ForTenant(1), async batch =>
        {
            _time.Advance(cost);
            await sink.Receive(batch);
        });
        _feed.Publish(Change(runId: 1, version: 1));
        await sink.WaitForDeliveriesAsync(1);

        _feed.Publish(Change(runId: 1, version: 2));
        _time.Advance(Interval * 2); // 60 + 200 ms since the last delivery started: past the usual interval
        await Task.Delay(50, TestContext.Current.CancellationToken);
        sink.Count.Should().Be(1, "a delivery that took 60 ms holds the next one back for 300 ms, not 100");

        _time.Advance(TimeSpan.FromMilliseconds(40));
        await sink.WaitForDeliveriesAsync(2);

        cost = TimeSpan.Zero; // the machine is idle again
        _time.Advance(TimeSpan.FromSeconds(1));
        _feed.Publish(Change(runId: 1, version: 3));
        await sink.WaitForDeliveriesAsync(3);
        _feed.Publish(Change(runId: 1, version: 4));
        _time.Advance(Interval);
        await sink.WaitForDeliveriesAsync(4);
    }

    [Fact]
    public async Task Subscribe_Scopes_SeeOnlyTheirOwnRuns()
    {
        var tenantOne = new Sink();
        var tenantTwo = new Sink();
        var alice = new Sink();
        var runFive = new Sink();
        using var a = _feed.Subscribe(RunChangeScope.ForTenant(1), tenantOne.Receive);
        using var b = _feed.Subscribe(RunChangeScope.ForTenant(2), tenantTwo.Receive);
        using var c = _feed.Subscribe(RunChangeScope.ForUser(100), alice.Receive);
        using var d = _feed.Subscribe(RunChangeScope.ForRun(5), runFive.Receive);

        _feed.Publish(new RunChanged(5, 1, 100, 1)); // Alice's run in tenant 1
        _feed.Publish(new RunChanged(6, 2, 200, 1)); // someone else's run in tenant 2
        _feed.Publish(new RunChanged(7, 1, null, 1)); // a system run in tenant 1

        _time.Advance(Interval);
        await tenantOne.WaitUntilAsync(() => tenantOne.AllRunIds.Count == 2, "tenant 1's runs");
        await tenantTwo.WaitForDeliveriesAsync(1);
        await alice.WaitForDeliveriesAsync(1);
        await runFive.WaitForDeliveriesAsync(1);
        tenantOne.AllRunIds.Should().BeEquivalentTo([5L, 7L]);
        tenantTwo.AllRunIds.Should().Equal(6L);
        alice.AllRunIds.Should().Equal(5L);
        runFive.AllRunIds.Should().Equal(5L);
    }

    [Fact]
    public async Task Dispose_Subscription_NeverFiresAgain()
    {
        var sink = new Sink();
        var subscription = _feed.Subscribe(RunChangeScope.ForTenant(1), sink.Receive);
        _feed.Publish(Change(1, 1));
        await sink.WaitForDeliveriesAsync(1);
        _feed.Publish(Change(1, 2)); // pending on the interval timer

        subscription.Dispose();
        _time.Advance(Interval * 10);
        _feed.Publish(Change(1, 3));
        await Task.Delay(100, TestContext.Current.CancellationToken);

        sink.Count.Should().Be(1);
        _feed.SubscriptionCount.Should().Be(0, "a disposed subscription is removed from the feed");
    }

    [Fact]
    public async Task Publish_MoreRunsThanABatchHolds_DeliversAnOverflowSignal()
    {
        var feed = CreateFeed(maxBatchRuns: 10);
        var sink = new Sink();
        using var _ = feed.Subscribe(RunChangeScope.ForTenant(1), sink.Receive);
        feed.Publish(Change(0, 1));
        await sink.WaitForDeliveriesAsync(1);

        for (var run = 1; run <= 50; run++)
        {
            feed.Publish(Change(run, 1));
        }

        _time.Advance(Interval);
        await sink.WaitForDeliveriesAsync(2);
        sink.Last!.Overflowed.Should().BeTrue();
        sink.Last.Changes.Should().BeEmpty();
    }

    [Fact]
    public async Task Subscriber_ThatThrows_DoesNotStopLaterDeliveries()
    {
        var calls = 0;
        using var _ = _feed.Subscribe(RunChangeScope.ForTenant(1), _ =>
        {
            Interlocked.Increment(ref calls);
            throw new InvalidOperationException("circuit gone");
        });

        _feed.Publish(Change(1, 1));
        await WaitFor.ConditionAsync(() => Task.FromResult(Volatile.Read(ref calls) == 1), "first call");
        _feed.Publish(Change(1, 2));

        // The clock moves on until the next delivery. (One step is not always enough: a step taken while the first
        // delivery was still unwinding its throw counts as that delivery's cost, and back-pressure then waits longer.)
        await WaitFor.ConditionAsync(
            () =>
            {
                _time.Advance(Interval);
                return Task.FromResult(Volatile.Read(ref calls) == 2);
            },
            "second call");
    }

    [Theory]
    [InlineData(-1, 10, false)]
    [InlineData(100, 0, false)]
    [InlineData(100, 10, true)]
    [InlineData(0, 1, true)]
    public void Options_AreValidated(int intervalMs, int maxBatchRuns, bool valid)
    {
        var result = new ValidateChangeFeedOptions().Validate(null, new ChangeFeedOptions
        {
            MinInterval = TimeSpan.FromMilliseconds(intervalMs),
            MaxBatchRuns = maxBatchRuns,
        });

        result.Succeeded.Should().Be(valid);
    }

    private InProcessRunChangeFeed CreateFeed(int maxBatchRuns) => new(
        Options.Create(new ChangeFeedOptions { MinInterval = Interval, MaxBatchRuns = maxBatchRuns }),
        _time,
        NullLogger<InProcessRunChangeFeed>.Instance);

    private static RunChanged Change(long runId, int version) => new(runId, 1, null, version);

    private sealed class Sink
    {
        private readonly List<RunChangeBatch> _batches = [];

        public IReadOnlyList<RunChangeBatch> Batches
        {
            get
            {
                lock (_batches)
                {
                    return [.. _batches];
                }
            }
        }

        public int Count => Batches.Count;

        public RunChangeBatch? Last => Batches.LastOrDefault();

        public IReadOnlyList<long> AllRunIds => Batches.SelectMany(b => b.Changes).Select(c => c.RunId).ToList();

        public Task Receive(RunChangeBatch batch)
        {
            lock (_batches)
            {
                _batches.Add(batch);
            }

            return Task.CompletedTask;
        }

        public Task WaitForDeliveriesAsync(int count) =>
            WaitUntilAsync(() => Count >= count, $"{count} deliveries");

        public Task WaitUntilAsync(Func<bool> condition, string what) =>
            WaitFor.ConditionAsync(() => Task.FromResult(condition()), what);
    }
}
