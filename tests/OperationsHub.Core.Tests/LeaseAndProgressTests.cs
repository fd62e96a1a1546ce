using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Storage;
using OperationsHub.Core.Tests.Infrastructure;
using OperationsHub.Core.Worker;

namespace OperationsHub.Core.Tests;

/// <summary>Heartbeat, progress throttling and recovery, driven by a fake clock.</summary>
public abstract class LeaseAndProgressTests(TestProvider provider) : IAsyncLifetime
{
    private ProgressCounter _commands = null!;
    private EngineHarness _hub = null!;

    public async ValueTask InitializeAsync() => _hub = await EngineHarness.CreateAsync(provider,
        fakeTime: true,
        configure: s =>
        {
            // Wraps the provider's own store: the counter sees every progress write that reaches the database.
            var real = s.Last(d => d.ServiceType == typeof(IRunStore));
            s.Remove(real);
            s.AddSingleton<IRunStore>(sp => _commands = new ProgressCounter((IRunStore)real.ImplementationFactory!(sp)));
        });

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    private WorkerOptions Options => _hub.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<WorkerOptions>>().Value;

    [Fact]
    public async Task Progress_TenThousandReportsInOneInterval_AreWrittenOnce()
    {
        var run = (await _hub.StartAsync(type: TestOperations.Chatty)).Run;
        var gate = _hub.Services.GetRequiredService<BlockingGate>();
        var execution = _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);
        await gate.WhenEnteredAsync(run.Id);

        (await _hub.GetRunAsync(run.Id)).ProcessedCount.Should().Be(0, "nothing is written before the interval");
        _commands.ProgressWrites.Should().Be(0);

        _hub.Time!.Advance(Options.ProgressInterval);
        // The row is visible as soon as it commits; the counter ticks when the store's task hands the result back.
        await WaitFor.ConditionAsync(
            async () => (await _hub.GetRunAsync(run.Id)).ProcessedCount == 10_000 && _commands.ProgressWrites > 0, "the progress write");
        _commands.ProgressWrites.Should().Be(1);

        gate.Release(run.Id);
        await execution.WaitAsync(TimeSpan.FromSeconds(15));
        _commands.ProgressWrites.Should().Be(1, "the final counts ride on the completion, not on another progress write");
        (await _hub.GetRunAsync(run.Id)).Outcome.Should().Be(RunOutcome.Succeeded);
    }

    [Fact]
    public async Task LiveRun_ThatKeepsRenewing_IsNeverRecovered()
    {
        var run = (await _hub.StartAsync(type: TestOperations.Blocking)).Run;
        var gate = _hub.Services.GetRequiredService<BlockingGate>();
        var execution = _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);
        await gate.WhenEnteredAsync(run.Id);
        var lease = Options.LeaseDuration;

        // Three whole leases of fake time, one progress interval at a time, with a recovery pass after each step.
        var steps = (int)(lease * 3 / Options.ProgressInterval);
        for (var step = 1; step <= steps; step++)
        {
            _hub.Time!.Advance(Options.ProgressInterval);
            var now = _hub.Time.GetUtcNow().UtcDateTime;
            // The renewal is due at least every LeaseRenewalInterval; wait until it has landed before recovery looks.
            await WaitFor.ConditionAsync(
                async () => (await _hub.GetRunAsync(run.Id)).LeaseExpiresAt >= now + lease - Options.LeaseRenewalInterval,
                $"lease renewal at step {step}");

            var result = await _hub.Recovery.RunOnceAsync(CancellationToken.None);

            result.Should().Be(default(RecoveryResult), $"a live run must not be recovered (step {step})");
        }

        var stored = await _hub.GetRunAsync(run.Id);
        stored.Status.Should().Be(RunStatus.Running);
        stored.Attempt.Should().Be(1);
        gate.Release(run.Id);
        await execution.WaitAsync(TimeSpan.FromSeconds(15));
        (await _hub.GetRunAsync(run.Id)).Outcome.Should().Be(RunOutcome.Succeeded);
    }

    [Fact]
    public void DefaultOptions_RecoverADeadNodesRunWithin10Seconds_AndToleratesThreeMissedRenewals()
    {
        var defaults = new WorkerOptions();

        (defaults.LeaseDuration + defaults.RecoveryInterval).Should().BeLessThanOrEqualTo(TimeSpan.FromSeconds(10));
        (defaults.LeaseDuration / defaults.LeaseRenewalInterval).Should().BeGreaterThanOrEqualTo(4,
            "a live node may miss three renewals in a row before its runs are taken");
    }

    [Fact]
    public async Task DeadWorker_RetrySafeRun_IsRequeuedAndRedispatchedOnceTheLeaseExpires()
    {
        var run = (await _hub.StartAsync(type: TestOperations.Succeed)).Run;
        await ClaimAsDeadWorkerAsync(run.Id);

        _hub.Time!.Advance(Options.LeaseDuration - TimeSpan.FromSeconds(1));
        (await _hub.Recovery.RunOnceAsync(CancellationToken.None)).Should().Be(default(RecoveryResult), "the lease is still live");

        _hub.Time.Advance(TimeSpan.FromSeconds(1.001));
        var result = await _hub.Recovery.RunOnceAsync(CancellationToken.None);

        result.Requeued.Should().Be(1);
        var stored = await _hub.GetRunAsync(run.Id);
        stored.Status.Should().Be(RunStatus.Queued);
        stored.LeaseOwner.Should().BeNull();
        _hub.Dispatcher.Dispatched.Count(id => id == run.Id).Should().Be(2, "once at start, once by recovery");
        (await _hub.GetEventsAsync(run.Id)).Select(e => e.Kind).Should().Contain(RunEventKinds.Requeued);

        await _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);
        stored = await _hub.GetRunAsync(run.Id);
        stored.Outcome.Should().Be(RunOutcome.Succeeded);
        stored.Attempt.Should().Be(2);
        (await _hub.GetNotificationsAsync(run.Id)).Count(n => n.Kind == NotificationKinds.Completed).Should().Be(1);
    }

    [Fact]
    public async Task LogLines_OfAClaimWhoseLeaseWasTaken_AreRefused_AndTheNewClaimsAreWritten()
    {
        var run = (await _hub.StartAsync(type: TestOperations.Succeed)).Run;
        await ClaimAsDeadWorkerAsync(run.Id);
        var store = _hub.Services.GetRequiredService<IRunStore>();
        LogEntry[] Lines(string text) => [new LogEntry(_hub.Time!.GetUtcNow().UtcDateTime, RunLogLevel.Information, text)];
        (await store.AppendLogAsync(run.Id, "dead-worker", 1, Lines("while it held the lease"), default)).Should().Be(1);

        // The lease runs out, recovery requeues the run and another worker claims it (attempt 2).
        _hub.Time!.Advance(Options.LeaseDuration + TimeSpan.FromSeconds(1));
        (await _hub.Recovery.RunOnceAsync(default)).Requeued.Should().Be(1);
        (await _hub.Transitions.TryClaimAsync(run.Id, "new-worker", Options.LeaseDuration, default)).Should().NotBeNull();

        (await store.AppendLogAsync(run.Id, "dead-worker", 1, Lines("late, from the first claim"), default)).Should().Be(0);
        (await store.AppendLogAsync(run.Id, "new-worker", 1, Lines("the right owner, an old attempt"), default)).Should().Be(0);
        (await store.AppendLogAsync(run.Id, "new-worker", 2, Lines("the new claim"), default)).Should().Be(1);
        await using var db = await _hub.DbAsync();
        (await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.ToListAsync(
                db.RunLogLines.Where(l => l.RunId == run.Id).OrderBy(l => l.Id).Select(l => l.Message)))
            .Should().Equal("while it held the lease", "the new claim");
    }

    [Fact]
    public async Task DeadWorker_RunThatIsNotRetrySafe_FailsAsAbandoned()
    {
        var run = (await _hub.StartAsync(type: TestOperations.BlockingNotRetrySafe)).Run;
        await ClaimAsDeadWorkerAsync(run.Id);
        _hub.Time!.Advance(Options.LeaseDuration + TimeSpan.FromSeconds(1));

        var result = await _hub.Recovery.RunOnceAsync(CancellationToken.None);

        result.Abandoned.Should().Be(1);
        var stored = await _hub.GetRunAsync(run.Id);
        stored.Status.Should().Be(RunStatus.Completed);
        stored.Outcome.Should().Be(RunOutcome.Failed);
        stored.FailuresJson.Should().Contain(RunFailureCodes.Abandoned);
        (await _hub.GetNotificationsAsync(run.Id)).Last().Outcome.Should().Be(RunOutcome.Failed);
    }

    [Fact]
    public async Task DeadWorker_RetrySafeRunOutOfAttempts_FailsAsAbandoned()
    {
        var run = (await _hub.StartAsync(type: TestOperations.Succeed)).Run;
        for (var attempt = 1; attempt <= Options.MaxAttempts; attempt++)
        {
            await ClaimAsDeadWorkerAsync(run.Id);
            _hub.Time!.Advance(Options.LeaseDuration + TimeSpan.FromSeconds(1));
            await _hub.Recovery.RunOnceAsync(CancellationToken.None);
        }

        var stored = await _hub.GetRunAsync(run.Id);
        stored.Attempt.Should().Be(Options.MaxAttempts);
        stored.Outcome.Should().Be(RunOutcome.Failed);
        stored.FailuresJson.Should().Contain(RunFailureCodes.Abandoned).And.Contain("attempts");
    }

    [Fact]
    public async Task HandlerOfAnEarlierClaim_EvenOnTheSameNode_CanNeitherRenewNorWrite()
    {
        // A node's handler stalls past its lease; recovery requeues the run and the same node claims it again. The
        // owner is the same, so only the attempt tells the stale handler from the live one: it must write nothing.
        var run = (await _hub.StartAsync(type: TestOperations.Succeed)).Run;
        var stale = (await _hub.Transitions.TryClaimAsync(run.Id, "node-a", Options.LeaseDuration, default))!;
        _hub.Time!.Advance(Options.LeaseDuration + TimeSpan.FromSeconds(1));
        (await _hub.Recovery.RunOnceAsync(CancellationToken.None)).Requeued.Should().Be(1);
        var live = (await _hub.Transitions.TryClaimAsync(run.Id, "node-a", Options.LeaseDuration, default))!;
        live.Attempt.Should().Be(2);

        (await _hub.Transitions.HeartbeatAsync(stale, "node-a", Options.LeaseDuration, new RunCounts(5, 5, 5, 0, 0), default))
            .Should().Be(HeartbeatResult.LeaseLost);
        (await _hub.Transitions.TryCompleteAsync(stale, "node-a", RunOutcome.Failed, new RunCounts(5, 5, 0, 5, 0), [], 0, default))
            .Should().BeNull();
        await _hub.Transitions.ReleaseLeaseAsync(stale, "node-a", default);

        var stored = await _hub.GetRunAsync(run.Id);
        stored.Status.Should().Be(RunStatus.Running);
        stored.ProcessedCount.Should().Be(0, "the stale handler's progress was not written");
        stored.LeaseExpiresAt.Should().BeAfter(_hub.Time.GetUtcNow().UtcDateTime, "the stale release did not end the live lease");
        (await _hub.Transitions.HeartbeatAsync(live, "node-a", Options.LeaseDuration, null, default)).Should().Be(HeartbeatResult.Renewed);
        (await _hub.Transitions.TryCompleteAsync(live, "node-a", RunOutcome.Succeeded, new RunCounts(1, 1, 1, 0, 0), [], 0, default))
            .Should().NotBeNull();
        (await _hub.GetRunAsync(run.Id)).Outcome.Should().Be(RunOutcome.Succeeded);
    }

    [Fact]
    public async Task QueuedRunOfATypeNobodyHandles_IsFailedAfterTheGrace_AndNotBefore()
    {
        var runId = await InsertQueuedOfUnknownTypeAsync();

        (await _hub.Recovery.RunOnceAsync(CancellationToken.None)).UnknownType.Should().Be(0, "it may have been queued by a newer node a moment ago");
        _hub.Time!.Advance(Options.UnknownTypeGrace + TimeSpan.FromSeconds(1));
        (await _hub.Recovery.RunOnceAsync(CancellationToken.None)).UnknownType.Should().Be(1);
        (await _hub.Recovery.RunOnceAsync(CancellationToken.None)).UnknownType.Should().Be(0, "it is failed now");

        var stored = await _hub.GetRunAsync(runId);
        stored.Outcome.Should().Be(RunOutcome.Failed);
        stored.StartedAt.Should().BeNull();
        stored.FailuresJson.Should().Contain(RunFailureCodes.UnknownOperationType).And.Contain("retired_type");
    }

    [Fact]
    public async Task RequeuedRunWhoseDispatchThrows_FailsWithDispatchFailed()
    {
        var run = (await _hub.StartAsync(type: TestOperations.Succeed)).Run;
        await ClaimAsDeadWorkerAsync(run.Id);
        _hub.Dispatcher.ThrowOnDispatch = new InvalidOperationException("worker gone");
        _hub.Time!.Advance(Options.LeaseDuration + TimeSpan.FromSeconds(1));

        var result = await _hub.Recovery.RunOnceAsync(CancellationToken.None);

        result.Requeued.Should().Be(1);
        result.DispatchFailed.Should().Be(1);
        var stored = await _hub.GetRunAsync(run.Id);
        stored.Outcome.Should().Be(RunOutcome.Failed);
        stored.FailuresJson.Should().Contain(RunFailureCodes.DispatchFailed);
    }

    private async Task<long> InsertQueuedOfUnknownTypeAsync()
    {
        await using var db = await _hub.DbAsync();
        var now = _hub.Time!.GetUtcNow().UtcDateTime;
        var run = new OperationRun
        {
            TenantId = _hub.TenantId, Type = "retired_type", Status = RunStatus.Queued, RunIdentityHash = "retired",
            ContextJson = "{}", CreatedAt = now, UpdatedAt = now,
        };
        db.Runs.Add(run);
        await db.SaveChangesAsync();
        return run.Id;
    }

    [Fact]
    public async Task Log_LinesAndFailuresOfARunningRun_AreWrittenInOneBatchAtTheNextBeat_Sanitized()
    {
        var run = (await _hub.StartAsync(type: TestOperations.Logging)).Run;
        var gate = _hub.Services.GetRequiredService<BlockingGate>();
        var execution = _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);
        await gate.WhenEnteredAsync(run.Id);
        (await LogAsync(run.Id)).Should().BeEmpty("lines wait in the buffer for the beat");
        _commands.LogWrites.Should().Be(0);

        _hub.Time!.Advance(Options.ProgressInterval);
        // The lines and the beat are two writes: wait for both to be visible.
        await WaitFor.ConditionAsync(async () => (await LogAsync(run.Id)).Count == 3 && (await _hub.GetRunAsync(run.Id)).FailureTotal == 1,
            "the first batch of lines and the beat after it");
        var live = await _hub.GetRunAsync(run.Id);
        live.Status.Should().Be(RunStatus.Running);
        live.FailureTotal.Should().Be(1, "a failure shows while the run still runs");
        RunJson.DeserializeFailures(live.FailuresJson).Should().ContainSingle().Which.Item.Should().Be("DEV-1");
        _commands.LogWrites.Should().Be(1, "three lines are one batch");

        gate.Release(run.Id);
        await execution.WaitAsync(TimeSpan.FromSeconds(15));
        var lines = await LogAsync(run.Id);
        lines.Select(l => l.Message).Should().HaveCount(4).And.EndWith("done");
        lines[1].Level.Should().Be(RunLogLevel.Warning);
        lines[1].Message.Should().NotContain(TestOperations.Secret).And.Contain("[redacted]");
        lines.Should().BeInAscendingOrder(l => l.Id);
        _commands.LogWrites.Should().Be(2, "the last line lands with the completion's flush");
    }

    [Fact]
    public async Task Log_AHandlerWritingAHundredThousandLines_StoresTheBoundAndOneTruncationLine_InABoundedNumberOfWrites()
    {
        var run = (await _hub.StartAsync(type: TestOperations.Logging, inputs: new Dictionary<string, string> { ["lines"] = "100000" })).Run;
        var gate = _hub.Services.GetRequiredService<BlockingGate>();
        var execution = _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);
        await gate.WhenEnteredAsync(run.Id);
        _hub.Time!.Advance(Options.ProgressInterval);
        await WaitFor.ConditionAsync(async () => _commands.LogWrites == 1 && (await CountLogAsync(run.Id)) > 0, "the first batch");
        gate.Release(run.Id);
        await execution.WaitAsync(TimeSpan.FromSeconds(30));

        var bound = Options.MaxLogLinesPerRun;
        (await CountLogAsync(run.Id)).Should().Be(bound + 1, "the bound, and one line that says the log was cut");
        var last = (await LogAsync(run.Id))[^1];
        last.Level.Should().Be(RunLogLevel.Warning);
        last.Message.Should().StartWith("Log truncated");
        _commands.LogWrites.Should().Be(1,
            "the 100,000 lines came within one beat: one batch, never a write per line (and the line after the bound is dropped, so the final flush has nothing)");
        (await _hub.GetRunAsync(run.Id)).Outcome.Should().Be(RunOutcome.PartiallySucceeded);
    }

    [Fact]
    public async Task Log_IsDeletedWithItsRun()
    {
        var run = (await _hub.StartAsync(type: TestOperations.Logging)).Run;
        var gate = _hub.Services.GetRequiredService<BlockingGate>();
        var execution = _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);
        await gate.WhenEnteredAsync(run.Id);
        gate.Release(run.Id);
        await execution.WaitAsync(TimeSpan.FromSeconds(15));
        (await CountLogAsync(run.Id)).Should().Be(4);

        var pruned = await _hub.Services.GetRequiredService<IRunStore>().PruneAsync(_hub.Time!.GetUtcNow().UtcDateTime.AddMinutes(1), 10, default);

        pruned.Select(p => p.RunId).Should().Contain(run.Id);
        (await CountLogAsync(run.Id)).Should().Be(0);
    }

    private async Task<List<RunLogLine>> LogAsync(long runId)
    {
        await using var db = await _hub.DbAsync();
        return await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.ToListAsync(
            db.RunLogLines.Where(l => l.RunId == runId).OrderBy(l => l.Id));
    }

    private async Task<int> CountLogAsync(long runId)
    {
        await using var db = await _hub.DbAsync();
        return db.RunLogLines.Count(l => l.RunId == runId);
    }

    private async Task ClaimAsDeadWorkerAsync(long runId) =>
        (await _hub.Transitions.TryClaimAsync(runId, "dead-worker", Options.LeaseDuration, default)).Should().NotBeNull();

    /// <summary>Counts the progress writes (heartbeats with counts) that the store committed.</summary>
    private sealed class ProgressCounter(IRunStore inner) : IRunStore
    {
        private int _progressWrites;
        private int _logWrites;

        public int ProgressWrites => Volatile.Read(ref _progressWrites);

        /// <summary>Log batches written: each is one write of the store (one commit, or a share of a group commit).</summary>
        public int LogWrites => Volatile.Read(ref _logWrites);

        public async Task<HeartbeatOutcome> HeartbeatAsync(Heartbeat heartbeat, CancellationToken cancellationToken)
        {
            var outcome = await inner.HeartbeatAsync(heartbeat, cancellationToken);
            if (heartbeat.Counts is not null && outcome.LeaseHeld)
            {
                Interlocked.Increment(ref _progressWrites);
            }

            return outcome;
        }

        public Task<long?> InsertQueuedAsync(NewRun run, RunEffects effects, CancellationToken cancellationToken) =>
            inner.InsertQueuedAsync(run, effects, cancellationToken);

        public Task<IReadOnlyList<RunRow>> ClaimAsync(RunClaim claim, Func<RunRow, RunEffects> effects, CancellationToken cancellationToken) =>
            inner.ClaimAsync(claim, effects, cancellationToken);

        public Task<RunRow?> ApplyAsync(RunTransition transition, Func<RunRow, RunEffects> effects, CancellationToken cancellationToken) =>
            inner.ApplyAsync(transition, effects, cancellationToken);

        public Task<RunRow?> ApplyAsync(RunTransition transition, RunEffects effects, CancellationToken cancellationToken) =>
            inner.ApplyAsync(transition, effects, cancellationToken);

        public Task ReleaseLeaseAsync(long runId, string owner, int attempt, DateTime now, CancellationToken cancellationToken) =>
            inner.ReleaseLeaseAsync(runId, owner, attempt, now, cancellationToken);

        public Task<IReadOnlyList<PrunedRun>> PruneAsync(DateTime cutoff, int batchSize, CancellationToken cancellationToken) =>
            inner.PruneAsync(cutoff, batchSize, cancellationToken);

        public Task<int> AppendLogAsync(long runId, string owner, int attempt, IReadOnlyList<LogEntry> lines, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _logWrites);
            return inner.AppendLogAsync(runId, owner, attempt, lines, cancellationToken);
        }

        public Task AppendEventAsync(long runId, string kind, string message, DateTime at, CancellationToken cancellationToken) =>
            inner.AppendEventAsync(runId, kind, message, at, cancellationToken);

        public bool IsTransient(Exception exception) => inner.IsTransient(exception);

        public Task<DateTime> ReadClockAsync(CancellationToken cancellationToken) => inner.ReadClockAsync(cancellationToken);
    }
}

public sealed class LeaseAndProgressTestsOnSqlite() : LeaseAndProgressTests(TestProvider.Sqlite);

public sealed class LeaseAndProgressTestsOnPostgreSql() : LeaseAndProgressTests(TestProvider.PostgreSql);
