using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Tests.Infrastructure;

namespace OperationsHub.Core.Tests;

/// <summary>Retry (linked both ways, through the one start path), cancel with a reason, and bulk actions as runs.</summary>
public abstract class OperatorActionTests(TestProvider provider) : IAsyncLifetime
{
    private EngineHarness _hub = null!;

    public async ValueTask InitializeAsync() => _hub = await EngineHarness.CreateAsync(provider);

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    private async Task<long> CompletedAsync(string type, IReadOnlyDictionary<string, string>? identity = null, IReadOnlyDictionary<string, string>? inputs = null)
    {
        var run = (await _hub.StartAsync(type: type, identity: identity, inputs: inputs, target: "Fleet A")).Run;
        await _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);
        (await _hub.GetRunAsync(run.Id)).Status.Should().Be(RunStatus.Completed);
        return run.Id;
    }

    private Task<RetryResult> RetryAsync(long runId, bool failedItemsOnly = false) => _hub.Runs.RetryAsync(new RetryRequest
    {
        TenantId = _hub.TenantId,
        RunId = runId,
        Initiator = _hub.Bob,
        FailedItemsOnly = failedItemsOnly,
    });

    [Fact]
    public async Task Retry_OfAFailedRun_IsANewRunOfTheSameWork_LinkedBothWays()
    {
        var identity = new Dictionary<string, string> { ["scope"] = "fleet-a" };
        var original = await CompletedAsync(TestOperations.AllFail, identity, new Dictionary<string, string> { ["items"] = "7" });

        var result = await RetryAsync(original);

        result.Refusal.Should().BeNull();
        result.Started!.Deduped.Should().BeFalse();
        var retry = await _hub.GetRunAsync(result.Started.Run.Id);
        retry.Id.Should().NotBe(original);
        retry.RetryOfRunId.Should().Be(original);
        retry.Status.Should().Be(RunStatus.Queued);
        retry.InitiatorName.Should().Be(_hub.Bob.DisplayName);
        var before = await _hub.GetRunAsync(original);
        retry.RunIdentityHash.Should().Be(before.RunIdentityHash, "the same work: same type and identity inputs");
        var context = RunJson.DeserializeContext(retry.ContextJson);
        context.Target.Should().Be("Fleet A");
        context.Inputs.Should().Contain("items", "7").And.Contain("scope", "fleet-a");
        (await _hub.GetEventsAsync(retry.Id)).First().Message.Should().Be($"Queued by {_hub.Bob.DisplayName} as a retry of #{original}.");
        (await _hub.GetEventsAsync(original)).Last().Should().Match<OperationRunEvent>(e =>
            e.Kind == RunEventKinds.Retried && e.Message == $"Retried as #{retry.Id} by {_hub.Bob.DisplayName}.");
        before.Status.Should().Be(RunStatus.Completed, "a completed run never gets a second life");
        before.Outcome.Should().Be(RunOutcome.Failed);
    }

    [Fact]
    public async Task Retry_WhileTheSameWorkIsActive_IsDedupedToThatRun_AndTheOriginalIsNotMarked()
    {
        var identity = new Dictionary<string, string> { ["scope"] = "fleet-b" };
        var original = await CompletedAsync(TestOperations.AllFail, identity);
        var active = (await _hub.StartAsync(type: TestOperations.AllFail, identity: identity)).Run;

        var result = await RetryAsync(original);

        result.Started!.Deduped.Should().BeTrue();
        result.Started.Run.Id.Should().Be(active.Id);
        (await _hub.GetEventsAsync(original)).Should().NotContain(e => e.Kind == RunEventKinds.Retried);
    }

    [Fact]
    public async Task Retry_OfARunStillActive_OrUnknown_IsRefused_AndNothingIsStarted()
    {
        var queued = (await _hub.StartAsync(type: TestOperations.Blocking)).Run;
        var dispatched = _hub.Dispatcher.Dispatched.Count;

        var active = await RetryAsync(queued.Id);
        var missing = await RetryAsync(9_999_999);
        var otherTenant = await _hub.Runs.RetryAsync(new RetryRequest { TenantId = _hub.OtherTenantId, RunId = queued.Id, Initiator = _hub.Bob });

        active.Refusal!.Kind.Should().Be(RetryRefusalKind.NotRetryable);
        active.Refusal.Message.Should().Contain("still queued");
        missing.Refusal!.Kind.Should().Be(RetryRefusalKind.NotFound);
        otherTenant.Refusal!.Kind.Should().Be(RetryRefusalKind.NotFound, "a run of another tenant is not found there");
        _hub.Dispatcher.Dispatched.Should().HaveCount(dispatched);
    }

    [Fact]
    public async Task RetryFailedItems_PassesTheFailedItemKeysToTheHandler_WhereTheTypeSupportsIt()
    {
        var partial = await CompletedAsync(TestOperations.Partial);
        var allFail = await CompletedAsync(TestOperations.AllFail);

        var result = await RetryAsync(partial, failedItemsOnly: true);
        var refused = await RetryAsync(allFail, failedItemsOnly: true);

        var retry = await _hub.GetRunAsync(result.Started!.Run.Id);
        RunJson.DeserializeContext(retry.ContextJson).Items.Should().Equal("DEV-4");
        retry.RetryOfRunId.Should().Be(partial);
        refused.Refusal!.Message.Should().Be("This operation type can only be retried as a whole.");
    }

    [Fact]
    public async Task Cancel_WithAReason_PutsWhoAndWhyIntoTheTimeline_AndNotifiesTheInitiator()
    {
        var queued = (await _hub.StartAsync(type: TestOperations.Blocking)).Run;

        (await _hub.Runs.CancelAsync(queued.Id, "Mateo Manager", "Started by mistake <script>")).Should().BeTrue();

        var events = await _hub.GetEventsAsync(queued.Id);
        events.Last().Message.Should().Be("Cancelled by Mateo Manager before it started. Reason: Started by mistake");
        (await _hub.GetNotificationsAsync(queued.Id)).Last().Body.Should().Contain("Reason: Started by mistake");
    }

    [Fact]
    public async Task BulkCancel_CancelsEachActiveRun_NamesTheBulkRunInItsTimeline_AndSkipsCompletedOnes()
    {
        var queued = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            queued.Add((await _hub.StartAsync(type: TestOperations.Blocking, identity: new Dictionary<string, string> { ["n"] = $"{i}" })).Run.Id);
        }

        var completed = await CompletedAsync(TestOperations.Succeed);
        var foreign = (await _hub.StartAsync(type: TestOperations.Blocking, tenantId: _hub.OtherTenantId)).Run.Id;
        var bulk = (await _hub.Runs.StartAsync(BulkActions.Request(_hub.TenantId, BulkActionKind.Cancel, [.. queued, completed, foreign], "Cleanup", _hub.Alice))).Run;

        await _hub.Executor.ExecuteAsync(bulk.Id, CancellationToken.None);

        var bulkRun = await _hub.GetRunAsync(bulk.Id);
        bulkRun.Type.Should().Be(BulkActions.Type);
        bulkRun.Outcome.Should().Be(RunOutcome.Succeeded);
        (bulkRun.TotalCount, bulkRun.SucceededCount, bulkRun.SkippedCount).Should().Be((5, 3, 2));
        bulkRun.InitiatorName.Should().Be(_hub.Alice.DisplayName);
        foreach (var id in queued)
        {
            var run = await _hub.GetRunAsync(id);
            run.Outcome.Should().Be(RunOutcome.Cancelled);
            (await _hub.GetEventsAsync(id)).Last().Message.Should()
                .Be($"Cancelled by bulk action #{bulk.Id} ({_hub.Alice.DisplayName}) before it started. Reason: Cleanup");
        }

        (await _hub.GetRunAsync(completed)).Outcome.Should().Be(RunOutcome.Succeeded);
        (await _hub.GetRunAsync(foreign)).Status.Should().Be(RunStatus.Queued, "a run of another tenant is never touched");
        await using var db = await _hub.DbAsync();
        var log = await db.RunLogLines.Where(l => l.RunId == bulk.Id).OrderBy(l => l.Id).Select(l => l.Message).ToListAsync();
        log.Should().Contain($"#{completed}: already completed; skipped.").And.Contain(l => l.StartsWith($"#{foreign}: no such run", StringComparison.Ordinal));
        (await _hub.GetNotificationsAsync(bulk.Id)).Should().Contain(n => n.UserId == _hub.Alice.UserId && n.Kind == NotificationKinds.Completed);
    }

    [Fact]
    public async Task BulkRetry_RetriesFailedRuns_SkipsSucceededAndActiveOnes()
    {
        var failed = await CompletedAsync(TestOperations.AllFail);
        var succeeded = await CompletedAsync(TestOperations.Succeed);
        var active = (await _hub.StartAsync(type: TestOperations.Blocking)).Run.Id;
        var bulk = (await _hub.Runs.StartAsync(BulkActions.Request(_hub.TenantId, BulkActionKind.Retry, [failed, succeeded, active], null, _hub.Alice))).Run;

        await _hub.Executor.ExecuteAsync(bulk.Id, CancellationToken.None);

        var bulkRun = await _hub.GetRunAsync(bulk.Id);
        (bulkRun.SucceededCount, bulkRun.SkippedCount, bulkRun.FailedCount).Should().Be((1, 2, 0));
        await using var db = await _hub.DbAsync();
        var retry = await db.Runs.SingleAsync(r => r.RetryOfRunId == failed);
        retry.InitiatorUserId.Should().Be(_hub.Alice.UserId, "the person behind the bulk action owns its retries");
        (await _hub.GetEventsAsync(failed)).Last().Message.Should().Be($"Retried as #{retry.Id} by bulk action #{bulk.Id} ({_hub.Alice.DisplayName}).");
        (await db.Runs.CountAsync(r => r.RetryOfRunId == succeeded || r.RetryOfRunId == active)).Should().Be(0);
    }

    [Fact]
    public async Task BulkAction_OfTheSameRunsAskedTwice_IsOneRun()
    {
        var a = (await _hub.StartAsync(type: TestOperations.Blocking)).Run.Id;
        var first = await _hub.Runs.StartAsync(BulkActions.Request(_hub.TenantId, BulkActionKind.Cancel, [a], null, _hub.Alice));
        var second = await _hub.Runs.StartAsync(BulkActions.Request(_hub.TenantId, BulkActionKind.Cancel, [a, a], null, _hub.Alice));

        second.Deduped.Should().BeTrue("a double click is one bulk action");
        second.Run.Id.Should().Be(first.Run.Id);
    }

    [Fact]
    public async Task BulkAction_CancelledWhileItRuns_StopsBetweenRuns_AndLeavesTheRestAlone()
    {
        var targets = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            targets.Add((await _hub.StartAsync(type: TestOperations.Blocking, identity: new Dictionary<string, string> { ["n"] = $"{i}" })).Run.Id);
        }

        var bulk = (await _hub.Runs.StartAsync(BulkActions.Request(_hub.TenantId, BulkActionKind.Cancel, targets, null, _hub.Alice))).Run;
        // The handler, on its own, with a context whose token is cancelled once two runs were done (as the worker's
        // heartbeat does when the bulk run is cancelled): it must stop before the third.
        using var stop = new CancellationTokenSource();
        var context = new StoppingContext(bulk.Id, _hub.TenantId, await _hub.GetRunAsync(bulk.Id), stop, afterItems: 2);
        var handler = ActivatorUtilities.CreateInstance<BulkActionHandler>(_hub.Services);

        var run = () => handler.ExecuteAsync(context, stop.Token);

        await run.Should().ThrowAsync<OperationCanceledException>();
        context.Done.Should().Be(2);
        var outcomes = new List<RunOutcome>();
        foreach (var id in targets)
        {
            outcomes.Add((await _hub.GetRunAsync(id)).Outcome);
        }

        outcomes.Should().Equal(RunOutcome.Cancelled, RunOutcome.Cancelled, RunOutcome.Pending, RunOutcome.Pending, RunOutcome.Pending);
    }

    /// <summary>A handler's context whose token is cancelled after a number of items were done.</summary>
    private sealed class StoppingContext(long runId, long tenantId, OperationRun run, CancellationTokenSource stop, int afterItems) : IOperationContext
    {
        public int Done { get; private set; }

        public long RunId => runId;

        public long TenantId => tenantId;

        public string Type => BulkActions.Type;

        public int Attempt => 1;

        public RunContext Context { get; } = RunJson.DeserializeContext(run.ContextJson);

        public CancellationToken CancellationToken => stop.Token;

        public void SetTotal(int total)
        {
        }

        public void ReportProcessed(int processed)
        {
        }

        public void ItemSucceeded() => Item();

        public void ItemSkipped() => Item();

        public void ItemFailed(string code, string message, string? item = null) => Item();

        public void RecordFailure(string code, string message)
        {
        }

        public ValueTask RenewLeaseAsync() => ValueTask.CompletedTask;

        public void Log(RunLogLevel level, string message)
        {
        }

        private void Item()
        {
            if (++Done == afterItems)
            {
                stop.Cancel();
            }
        }
    }
}

public sealed class OperatorActionTestsOnSqlite() : OperatorActionTests(TestProvider.Sqlite);

public sealed class OperatorActionTestsOnPostgreSql() : OperatorActionTests(TestProvider.PostgreSql);
