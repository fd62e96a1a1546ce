using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Tests.Infrastructure;

namespace OperationsHub.Core.Tests;

/// <summary>Every transition is conditional: a repeated or late one changes nothing and says so.</summary>
public abstract class TransitionTests(TestProvider provider) : IAsyncLifetime
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(1);
    private EngineHarness _hub = null!;

    public async ValueTask InitializeAsync() => _hub = await EngineHarness.CreateAsync(provider);

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task TryClaimAsync_Twice_SecondReturnsNullAndWritesNothing()
    {
        var run = (await _hub.StartAsync()).Run;

        var first = await _hub.Transitions.TryClaimAsync(run.Id, "worker-a", Lease, default);
        var second = await _hub.Transitions.TryClaimAsync(run.Id, "worker-b", Lease, default);

        first.Should().NotBeNull();
        first!.Status.Should().Be(RunStatus.Running);
        first.Attempt.Should().Be(1);
        second.Should().BeNull();
        var stored = await _hub.GetRunAsync(run.Id);
        stored.LeaseOwner.Should().Be("worker-a");
        stored.StartedAt.Should().NotBeNull();
        (await _hub.GetEventsAsync(run.Id)).Select(e => e.Kind).Should().Equal(RunEventKinds.Created, RunEventKinds.Started);
    }

    [Fact]
    public async Task TryCompleteAsync_Twice_OneEventOneNotification()
    {
        var run = (await _hub.StartAsync()).Run;
        var claimed = await ClaimAsync(run.Id, "w");
        var counts = new RunCounts(2, 2, 2, 0, 0);

        var first = await _hub.Transitions.TryCompleteAsync(claimed, "w", RunOutcome.Succeeded, counts, [], 0, default);
        var second = await _hub.Transitions.TryCompleteAsync(claimed, "w", RunOutcome.Failed, counts, [], 0, default);

        first.Should().NotBeNull();
        second.Should().BeNull();
        var stored = await _hub.GetRunAsync(run.Id);
        stored.Outcome.Should().Be(RunOutcome.Succeeded);
        stored.LeaseOwner.Should().BeNull();
        stored.SucceededCount.Should().Be(2);
        (await _hub.GetEventsAsync(run.Id)).Count(e => e.Kind == RunEventKinds.Completed).Should().Be(1);
        (await _hub.GetNotificationsAsync(run.Id)).Count(n => n.Kind == NotificationKinds.Completed).Should().Be(1);
    }

    [Fact]
    public async Task TryCompleteAsync_ByAWorkerThatDoesNotHoldTheLease_ChangesNothing()
    {
        var run = (await _hub.StartAsync()).Run;
        var claimed = await ClaimAsync(run.Id, "owner");
        var before = await _hub.GetRunAsync(run.Id);

        var result = await _hub.Transitions.TryCompleteAsync(
            claimed, "intruder", RunOutcome.Succeeded, default, [], 0, default);

        result.Should().BeNull();
        var after = await _hub.GetRunAsync(run.Id);
        after.Status.Should().Be(RunStatus.Running);
        after.Version.Should().Be(before.Version);
    }

    [Fact]
    public async Task LateTransitions_OnACompletedRun_AllReturnNullAndChangeNothing()
    {
        var run = (await _hub.StartAsync()).Run;
        var claimed = await ClaimAsync(run.Id, "w");
        await _hub.Transitions.TryCompleteAsync(claimed, "w", RunOutcome.Succeeded, default, [], 0, default);
        var before = await _hub.GetRunAsync(run.Id);
        var failure = new RunFailure("x", "y");

        (await _hub.Transitions.TryClaimAsync(run.Id, "w", Lease, default)).Should().BeNull();
        (await _hub.Transitions.TryFailQueuedAsync(run.Id, failure, default)).Should().BeNull();
        (await _hub.Transitions.TryRequeueAsync(run.Id, "w", 5, default)).Should().BeNull();
        (await _hub.Transitions.TryAbandonAsync(run.Id, "w", failure, default)).Should().BeNull();
        (await _hub.Transitions.TryCancelQueuedAsync(run.Id, "x", null, default)).Should().BeNull();
        (await _hub.Transitions.TryRequestCancelAsync(run.Id, "x", null, default)).Should().BeNull();

        var after = await _hub.GetRunAsync(run.Id);
        after.Version.Should().Be(before.Version);
        after.Outcome.Should().Be(RunOutcome.Succeeded);
        (await _hub.GetEventsAsync(run.Id)).Should().HaveCount(3);
        (await _hub.GetNotificationsAsync(run.Id)).Should().HaveCount(2);
    }

    [Fact]
    public async Task TryRequeueAsync_WhileTheLeaseIsLive_ChangesNothing()
    {
        var run = (await _hub.StartAsync()).Run;
        await _hub.Transitions.TryClaimAsync(run.Id, "w", Lease, default);

        (await _hub.Transitions.TryRequeueAsync(run.Id, "w", 5, default)).Should().BeNull();
        (await _hub.Transitions.TryAbandonAsync(run.Id, "w", new RunFailure("abandoned", "x"), default)).Should().BeNull();

        (await _hub.GetRunAsync(run.Id)).Status.Should().Be(RunStatus.Running);
    }

    [Fact]
    public async Task TryRequestCancelAsync_RunningRun_RecordsRequestOnce()
    {
        var run = (await _hub.StartAsync()).Run;
        await _hub.Transitions.TryClaimAsync(run.Id, "w", Lease, default);

        (await _hub.Runs.CancelAsync(run.Id, "Alice")).Should().BeTrue();
        (await _hub.Runs.CancelAsync(run.Id, "Alice")).Should().BeFalse();

        var stored = await _hub.GetRunAsync(run.Id);
        stored.Status.Should().Be(RunStatus.Running, "the worker ends it when its handler observes the request");
        stored.CancelRequestedAt.Should().NotBeNull();
        (await _hub.GetEventsAsync(run.Id)).Count(e => e.Kind == RunEventKinds.CancelRequested).Should().Be(1);
    }

    [Fact]
    public async Task Transitions_PublishAfterCommit_WithIncreasingVersions()
    {
        var received = new List<Feed.RunChanged>();
        var run = (await _hub.StartAsync()).Run;
        using var subscription = _hub.Feed.Subscribe(Feed.RunChangeScope.ForRun(run.Id), batch =>
        {
            lock (received)
            {
                received.AddRange(batch.Changes);
            }

            return Task.CompletedTask;
        });

        var claimed = await ClaimAsync(run.Id, "w");
        await WaitFor.ConditionAsync(() => Task.FromResult(Count() >= 1), "the claim signal");
        await _hub.Transitions.TryCompleteAsync(claimed, "w", RunOutcome.Succeeded, default, [], 0, default);
        await WaitFor.ConditionAsync(() => Task.FromResult(Count() >= 2), "the completion signal");

        lock (received)
        {
            received.Select(c => c.Version).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
            received.Should().AllSatisfy(c =>
            {
                c.TenantId.Should().Be(_hub.TenantId);
                c.InitiatorUserId.Should().Be(_hub.Alice.UserId);
            });
        }

        int Count()
        {
            lock (received)
            {
                return received.Count;
            }
        }
    }

    [Fact]
    public async Task TryClaimBatchAsync_TakesTheOldestQueuedRunsUpToTheLimit_EachWithItsStartedEvent()
    {
        var ids = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await _hub.StartAsync(identity: new Dictionary<string, string> { ["n"] = $"{i}" })).Run.Id);
        }

        var first = await _hub.Transitions.TryClaimBatchAsync("w", Lease, 3, default);
        var second = await _hub.Transitions.TryClaimBatchAsync("w", Lease, 3, default);
        var third = await _hub.Transitions.TryClaimBatchAsync("w", Lease, 3, default);

        first.Select(r => r.RunId).Should().Equal(ids.Take(3));
        second.Select(r => r.RunId).Should().Equal(ids.Skip(3));
        third.Should().BeEmpty("nothing is queued any more");
        first.Concat(second).Should().AllSatisfy(r =>
        {
            r.Status.Should().Be(RunStatus.Running);
            r.Attempt.Should().Be(1);
        });
        foreach (var id in ids)
        {
            var stored = await _hub.GetRunAsync(id);
            stored.LeaseOwner.Should().Be("w");
            stored.StartedAt.Should().NotBeNull();
            (await _hub.GetEventsAsync(id)).Select(e => (e.Kind, e.Message)).Should()
                .Equal((RunEventKinds.Created, "Queued by Alice Admin."), (RunEventKinds.Started, "Started (attempt 1)."));
        }
    }

    [Fact]
    public async Task TryClaimBatchAsync_ByWorkersRacing_ClaimsEveryRunExactlyOnce()
    {
        const int runs = 120;
        for (var i = 0; i < runs; i++)
        {
            await _hub.StartAsync(identity: new Dictionary<string, string> { ["n"] = $"{i}" }, system: true);
        }

        // Six workers claim at once, in small batches, until the queue is empty: on PostgreSQL their claims really
        // overlap (each worker's statement on its own writer connection), and locked rows must be skipped, not shared.
        var claims = await Task.WhenAll(Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
        {
            var mine = new List<long>();
            while (true)
            {
                var batch = await _hub.Transitions.TryClaimBatchAsync($"worker-{w}", Lease, 4, default);
                if (batch.Count == 0)
                {
                    return mine;
                }

                mine.AddRange(batch.Select(r => r.RunId));
            }
        })));

        var all = claims.SelectMany(c => c).ToList();
        all.Should().HaveCount(runs).And.OnlyHaveUniqueItems();
        await using var db = await _hub.DbAsync();
        (await db.Runs.CountAsync(r => r.Status == RunStatus.Running && r.Attempt == 1)).Should().Be(runs);
        (await db.RunEvents.CountAsync(e => e.Kind == RunEventKinds.Started)).Should().Be(runs);
        for (var w = 0; w < 6; w++)
        {
            var owner = $"worker-{w}";
            (await db.Runs.CountAsync(r => r.LeaseOwner == owner)).Should().Be(claims[w].Count);
        }
    }

    private async Task<Storage.RunRow> ClaimAsync(long runId, string owner) =>
        (await _hub.Transitions.TryClaimAsync(runId, owner, Lease, default))
        ?? throw new InvalidOperationException($"Run {runId} could not be claimed.");
}

public sealed class TransitionTestsOnSqlite() : TransitionTests(TestProvider.Sqlite);

public sealed class TransitionTestsOnPostgreSql() : TransitionTests(TestProvider.PostgreSql);
