using Microsoft.Extensions.DependencyInjection;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Tests.Infrastructure;

namespace OperationsHub.Core.Tests;

/// <summary>The job middleware maps what a handler reports, returns or throws to the outcome.</summary>
public abstract class ExecutorTests(TestProvider provider) : IAsyncLifetime
{
    private EngineHarness _hub = null!;

    public async ValueTask InitializeAsync() => _hub = await EngineHarness.CreateAsync(provider, settings: new Dictionary<string, string?>
    {
        // Real time, short intervals: cancellation is observed at the next heartbeat.
        ["Worker:ProgressInterval"] = "00:00:00.050",
        ["Worker:LeaseRenewalInterval"] = "00:00:00.100",
        ["Worker:LeaseDuration"] = "00:00:10",
    });

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Theory]
    [InlineData(TestOperations.Succeed, RunOutcome.Succeeded, 3, 2, 0, 1)]
    [InlineData(TestOperations.Partial, RunOutcome.PartiallySucceeded, 4, 3, 1, 0)]
    [InlineData(TestOperations.AllFail, RunOutcome.Failed, 2, 0, 2, 0)]
    public async Task ExecuteAsync_ItemOutcomes_MapToRunOutcome(
        string type, RunOutcome expected, int total, int succeeded, int failed, int skipped)
    {
        var run = (await _hub.StartAsync(type: type)).Run;

        await _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);

        var stored = await _hub.GetRunAsync(run.Id);
        stored.Status.Should().Be(RunStatus.Completed);
        stored.Outcome.Should().Be(expected);
        stored.TotalCount.Should().Be(total);
        stored.ProcessedCount.Should().Be(succeeded + failed + skipped);
        stored.SucceededCount.Should().Be(succeeded);
        stored.FailedCount.Should().Be(failed);
        stored.SkippedCount.Should().Be(skipped);
        stored.Attempt.Should().Be(1);
        stored.LeaseOwner.Should().BeNull();
        (await _hub.GetEventsAsync(run.Id)).Select(e => e.Kind)
            .Should().Equal(RunEventKinds.Created, RunEventKinds.Started, RunEventKinds.Completed);
        var terminal = (await _hub.GetNotificationsAsync(run.Id)).Should().HaveCount(2).And.Subject.Last();
        terminal.Kind.Should().Be(NotificationKinds.Completed);
        terminal.Outcome.Should().Be(expected);
    }

    [Theory]
    [InlineData(TestOperations.ProgressOnly, RunOutcome.Succeeded, 8, 8, 0)]
    [InlineData(TestOperations.ProgressOnlyThenThrows, RunOutcome.Failed, 6, 5, 1)]
    [InlineData(TestOperations.Throws, RunOutcome.Failed, 0, 0, 0)]
    public async Task ExecuteAsync_CountsAlwaysAddUp_WhateverTheHandlerReported(
        string type, RunOutcome expected, int processed, int succeeded, int failed)
    {
        var run = (await _hub.StartAsync(type: type)).Run;

        await _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);

        var stored = await _hub.GetRunAsync(run.Id);
        stored.Outcome.Should().Be(expected);
        stored.ProcessedCount.Should().Be(processed);
        stored.SucceededCount.Should().Be(succeeded, "steps processed but not reported one by one did what they were for");
        stored.FailedCount.Should().Be(failed, "the step in flight when the handler threw failed with it (when a total was set)");
        (stored.SucceededCount + stored.FailedCount + stored.SkippedCount).Should().Be(stored.ProcessedCount);
    }

    [Fact]
    public async Task ExecuteAsync_ItemFailure_IsStoredSanitized()
    {
        var run = (await _hub.StartAsync(type: TestOperations.Partial)).Run;

        await _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);

        var stored = await _hub.GetRunAsync(run.Id);
        var failure = RunJson.DeserializeFailures(stored.FailuresJson).Should().ContainSingle().Subject;
        failure.Code.Should().Be("device_unreachable");
        failure.Item.Should().Be("DEV-4");
        failure.Message.Should().Contain("DEV-4 refused").And.NotContain(TestOperations.Secret);
        stored.FailureTotal.Should().Be(1);
    }

    [Fact]
    public async Task ExecuteAsync_HandlerThrows_FailsWithSanitizedMessageAndNoStackTrace()
    {
        var run = (await _hub.StartAsync(type: TestOperations.Throws)).Run;

        await _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);

        var stored = await _hub.GetRunAsync(run.Id);
        stored.Outcome.Should().Be(RunOutcome.Failed);
        var failure = RunJson.DeserializeFailures(stored.FailuresJson).Should().ContainSingle().Subject;
        failure.Code.Should().Be(RunFailureCodes.HandlerException);
        failure.Message.Should().StartWith("InvalidOperationException: Upstream said no")
            .And.NotContain("hunter2").And.NotContain(TestOperations.Secret).And.NotContain(" at ");
        var completed = (await _hub.GetEventsAsync(run.Id)).Last();
        completed.Message.Should().NotContain("hunter2").And.Contain(RunFailureCodes.HandlerException);
        var notification = (await _hub.GetNotificationsAsync(run.Id)).Last();
        notification.Body.Should().Contain(RunFailureCodes.HandlerException).And.Contain("Upstream said no").And.NotContain("hunter2");
    }

    [Fact]
    public async Task ExecuteAsync_OperationFailedException_KeepsItsCode()
    {
        var run = (await _hub.StartAsync(type: TestOperations.FailsWithCode)).Run;

        await _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);

        var stored = await _hub.GetRunAsync(run.Id);
        stored.Outcome.Should().Be(RunOutcome.Failed);
        RunJson.DeserializeFailures(stored.FailuresJson).Should().ContainSingle()
            .Which.Should().Be(new RunFailure("quota_exceeded", "The tenant's Graph quota is used up; try again in an hour."));
    }

    [Fact]
    public async Task ExecuteAsync_CancelRequestedWhileRunning_EndsCancelled()
    {
        var run = (await _hub.StartAsync(type: TestOperations.Blocking)).Run;
        var gate = _hub.Services.GetRequiredService<BlockingGate>();
        var execution = _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);
        await gate.WhenEnteredAsync(run.Id);

        (await _hub.Runs.CancelAsync(run.Id, "Alice")).Should().BeTrue();
        await execution.WaitAsync(TimeSpan.FromSeconds(15));

        var stored = await _hub.GetRunAsync(run.Id);
        stored.Status.Should().Be(RunStatus.Completed);
        stored.Outcome.Should().Be(RunOutcome.Cancelled);
        stored.SucceededCount.Should().Be(1, "what the handler did before it stopped is kept");
        stored.ProcessedCount.Should().Be(1);
        stored.FailedCount.Should().Be(0, "cancelling is not failing the item in flight");
        (await _hub.GetNotificationsAsync(run.Id)).Last().Outcome.Should().Be(RunOutcome.Cancelled);
    }

    [Fact]
    public async Task ExecuteAsync_UnknownType_FailsFromQueuedWithoutStarting()
    {
        // A run whose type was removed from the app after it was queued (rolling deploy).
        long runId;
        await using (var db = await _hub.DbAsync())
        {
            var orphan = new OperationRun
            {
                TenantId = _hub.TenantId, Type = "retired_type", Status = RunStatus.Queued, RunIdentityHash = "h",
                ContextJson = "{}", InitiatorUserId = _hub.Alice.UserId, CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
            };
            db.Runs.Add(orphan);
            await db.SaveChangesAsync();
            runId = orphan.Id;
        }

        await _hub.Executor.ExecuteAsync(runId, CancellationToken.None);

        var stored = await _hub.GetRunAsync(runId);
        stored.Status.Should().Be(RunStatus.Completed);
        stored.Outcome.Should().Be(RunOutcome.Failed);
        stored.StartedAt.Should().BeNull();
        stored.FailuresJson.Should().Contain(RunFailureCodes.UnknownOperationType).And.Contain("retired_type");
        (await _hub.GetEventsAsync(runId)).Select(e => e.Kind).Should().Equal(RunEventKinds.Completed);
        (await _hub.GetNotificationsAsync(runId)).Should().ContainSingle().Which.Outcome.Should().Be(RunOutcome.Failed);
    }

    [Fact]
    public async Task ExecuteAsync_RunAlreadyTaken_DoesNothing()
    {
        var run = (await _hub.StartAsync()).Run;
        await _hub.Transitions.TryClaimAsync(run.Id, "someone-else", TimeSpan.FromMinutes(1), default);
        var before = await _hub.GetRunAsync(run.Id);

        await _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);
        await _hub.Executor.ExecuteAsync(999_999, CancellationToken.None);

        var after = await _hub.GetRunAsync(run.Id);
        after.Version.Should().Be(before.Version);
        after.LeaseOwner.Should().Be("someone-else");
    }

    [Fact]
    public async Task ExecuteAsync_HostStopsMidRun_LeavesRunRunningWithLeaseReleasedForRecovery()
    {
        var run = (await _hub.StartAsync(type: TestOperations.Blocking)).Run;
        var gate = _hub.Services.GetRequiredService<BlockingGate>();
        using var stopping = new CancellationTokenSource();
        var execution = _hub.Executor.ExecuteAsync(run.Id, stopping.Token);
        await gate.WhenEnteredAsync(run.Id);

        await stopping.CancelAsync();
        await execution.WaitAsync(TimeSpan.FromSeconds(15));

        var stored = await _hub.GetRunAsync(run.Id);
        stored.Status.Should().Be(RunStatus.Running, "shutdown is not an outcome; recovery decides");
        stored.LeaseExpiresAt.Should().BeBefore(DateTime.UtcNow.AddSeconds(1));
        var recovered = await _hub.Recovery.RunOnceAsync(CancellationToken.None);
        recovered.Requeued.Should().Be(1);
        (await _hub.GetRunAsync(run.Id)).Status.Should().Be(RunStatus.Queued);
    }

    [Fact]
    public async Task ExecuteAsync_RunsHandlerInAScopeOfItsOwn()
    {
        var first = (await _hub.StartAsync(identity: new Dictionary<string, string> { ["n"] = "1" })).Run;
        var second = (await _hub.StartAsync(identity: new Dictionary<string, string> { ["n"] = "2" })).Run;

        await Task.WhenAll(
            _hub.Executor.ExecuteAsync(first.Id, CancellationToken.None),
            _hub.Executor.ExecuteAsync(second.Id, CancellationToken.None));

        await using var db = await _hub.DbAsync();
        (await db.Runs.CountAsync(r => r.Outcome == RunOutcome.Succeeded)).Should().Be(2);
    }
}

public sealed class ExecutorTestsOnSqlite() : ExecutorTests(TestProvider.Sqlite);

public sealed class ExecutorTestsOnPostgreSql() : ExecutorTests(TestProvider.PostgreSql);
