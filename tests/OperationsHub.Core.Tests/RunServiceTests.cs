using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Tests.Infrastructure;

namespace OperationsHub.Core.Tests;

public abstract class RunServiceTests(TestProvider provider) : IAsyncLifetime
{
    private EngineHarness _hub = null!;

    public async ValueTask InitializeAsync() => _hub = await EngineHarness.CreateAsync(provider);

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task StartAsync_FiftyIdenticalStartsInParallel_YieldExactlyOneActiveRun_FiftyRounds()
    {
        const int rounds = 50;
        const int parallel = 50;
        for (var round = 0; round < rounds; round++)
        {
            var identity = new Dictionary<string, string> { ["scope"] = $"round-{round}" };
            using var go = new ManualResetEventSlim(false);
            var starts = Enumerable.Range(0, parallel).Select(_ => Task.Run(async () =>
            {
                go.Wait();
                return await _hub.StartAsync(identity: identity);
            })).ToArray();
            go.Set();
            var results = await Task.WhenAll(starts);

            results.Select(r => r.Run.Id).Distinct().Should().ContainSingle($"round {round} must converge on one run");
            results.Count(r => !r.Deduped).Should().Be(1, $"round {round} must create exactly one run");
            var hash = RunIdentity.ComputeHash(_hub.TenantId, TestOperations.Succeed, identity);
            await using var db = await _hub.DbAsync();
            (await db.Runs.CountAsync(r => r.RunIdentityHash == hash)).Should().Be(1);
        }

        _hub.Dispatcher.Dispatched.Should().HaveCount(rounds, "only created runs are dispatched");
    }

    [Fact]
    public async Task StartAsync_DifferentIdentityInputs_StartSeparateRuns()
    {
        var a = await _hub.StartAsync(identity: new Dictionary<string, string> { ["backup"] = "1" });
        var b = await _hub.StartAsync(identity: new Dictionary<string, string> { ["backup"] = "2" });
        var c = await _hub.StartAsync(identity: new Dictionary<string, string> { ["backup"] = "1" });

        b.Run.Id.Should().NotBe(a.Run.Id);
        b.Deduped.Should().BeFalse();
        c.Deduped.Should().BeTrue();
        c.Run.Id.Should().Be(a.Run.Id);
    }

    [Fact]
    public async Task StartAsync_SameWorkInAnotherTenantOrOfAnotherType_StartsSeparateRuns()
    {
        var a = await _hub.StartAsync();
        var otherTenant = await _hub.StartAsync(tenantId: _hub.OtherTenantId);
        var otherType = await _hub.StartAsync(type: TestOperations.Partial);

        new[] { otherTenant, otherType }.Should().AllSatisfy(r =>
        {
            r.Deduped.Should().BeFalse();
            r.Run.Id.Should().NotBe(a.Run.Id);
        });
    }

    [Fact]
    public async Task StartAsync_SameWorkAfterTheFirstRunCompleted_StartsANewRun()
    {
        var first = await _hub.StartAsync();
        await _hub.Executor.ExecuteAsync(first.Run.Id, CancellationToken.None);
        (await _hub.GetRunAsync(first.Run.Id)).Status.Should().Be(RunStatus.Completed);

        var second = await _hub.StartAsync();

        second.Deduped.Should().BeFalse();
        second.Run.Id.Should().NotBe(first.Run.Id);
        second.Run.Status.Should().Be(RunStatus.Queued);
    }

    [Fact]
    public async Task StartAsync_WhileRunning_DedupesToTheRunningRun()
    {
        var first = await _hub.StartAsync();
        (await _hub.Transitions.TryClaimAsync(first.Run.Id, "w", TimeSpan.FromMinutes(1), default)).Should().NotBeNull();

        var second = await _hub.StartAsync();

        second.Deduped.Should().BeTrue();
        second.Run.Id.Should().Be(first.Run.Id);
        second.Run.Status.Should().Be(RunStatus.Running);
    }

    [Fact]
    public async Task StartAsync_NewRun_WritesCreatedEventAndQueuedNotificationInOneGo()
    {
        var result = await _hub.StartAsync(target: "All devices");

        var run = await _hub.GetRunAsync(result.Run.Id);
        run.Status.Should().Be(RunStatus.Queued);
        run.Outcome.Should().Be(RunOutcome.Pending);
        run.InitiatorUserId.Should().Be(_hub.Alice.UserId);
        run.InitiatorName.Should().Be("Alice Admin");
        run.Version.Should().Be(1);
        var events = await _hub.GetEventsAsync(run.Id);
        events.Should().ContainSingle().Which.Kind.Should().Be(RunEventKinds.Created);
        var notification = (await _hub.GetNotificationsAsync(run.Id)).Should().ContainSingle().Subject;
        notification.Kind.Should().Be(NotificationKinds.Queued);
        notification.UserId.Should().Be(_hub.Alice.UserId);
        notification.Title.Should().Be("Succeeds queued");
        notification.Body.Should().Contain("All devices");
        _hub.Dispatcher.Dispatched.Should().Equal(run.Id);
    }

    [Fact]
    public async Task StartAsync_Deduped_WritesNothingAndNotifiesNobody()
    {
        var first = await _hub.StartAsync();
        await _hub.StartAsync(initiator: _hub.Bob);

        (await _hub.GetEventsAsync(first.Run.Id)).Should().ContainSingle();
        (await _hub.GetNotificationsAsync(first.Run.Id)).Should().ContainSingle()
            .Which.UserId.Should().Be(_hub.Alice.UserId);
    }

    [Fact]
    public async Task StartAsync_SystemRun_NotifiesNobody()
    {
        var result = await _hub.StartAsync(system: true);
        await _hub.Executor.ExecuteAsync(result.Run.Id, CancellationToken.None);

        (await _hub.GetNotificationsAsync(result.Run.Id)).Should().BeEmpty();
        (await _hub.GetRunAsync(result.Run.Id)).Outcome.Should().Be(RunOutcome.Succeeded);
    }

    [Fact]
    public async Task StartAsync_UnknownType_ThrowsAndWritesNothing()
    {
        var act = () => _hub.StartAsync(type: "no_such_type");

        await act.Should().ThrowAsync<UnknownOperationTypeException>().WithMessage("*no_such_type*");
        await using var db = await _hub.DbAsync();
        (await db.Runs.CountAsync()).Should().Be(0);
    }

    [Fact]
    public async Task StartAsync_ContextWithSecrets_IsSanitizedBeforeItIsStored()
    {
        var result = await _hub.StartAsync(
            target: $"https://contoso.example/api?sig=abcdef1234567890&user=ops",
            inputs: new Dictionary<string, string>
            {
                ["client_secret"] = "s3cr3t",
                ["scope"] = $"Bearer {TestOperations.Secret}",
                ["devices"] = "all",
            });

        var run = await _hub.GetRunAsync(result.Run.Id);
        run.ContextJson.Should().NotContain("s3cr3t").And.NotContain("abcdef1234567890").And.NotContain(TestOperations.Secret);
        run.ContextJson.Should().Contain("\"devices\":\"all\"").And.Contain("user=ops");
    }

    [Fact]
    public async Task StartAsync_SecretsInInputNames_AreScrubbedLikeValues()
    {
        const string jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        var result = await _hub.StartAsync(inputs: new Dictionary<string, string>
        {
            ["password=hunter2"] = "x",
            [$"Bearer {jwt}"] = "y",
            ["devices"] = "all",
        });

        var run = await _hub.GetRunAsync(result.Run.Id);
        run.ContextJson.Should().NotContain("hunter2").And.NotContain("eyJhbGci").And.NotContain("dozjgNry");
        run.ContextJson.Should().Contain("\"devices\":\"all\"", "ordinary names pass unchanged");
    }

    [Fact]
    public async Task StartAsync_DispatcherThrows_RunIsFailedBeforeStartReturns()
    {
        _hub.Dispatcher.ThrowOnDispatch = new InvalidOperationException($"Scheduler is shut down (password=hunter2)");

        var result = await _hub.StartAsync();

        result.Deduped.Should().BeFalse();
        result.Run.Status.Should().Be(RunStatus.Completed);
        result.Run.Outcome.Should().Be(RunOutcome.Failed);
        var run = await _hub.GetRunAsync(result.Run.Id);
        run.Status.Should().Be(RunStatus.Completed);
        run.Outcome.Should().Be(RunOutcome.Failed);
        run.CompletedAt.Should().NotBeNull();
        run.FailuresJson.Should().Contain(RunFailureCodes.DispatchFailed).And.Contain("Scheduler is shut down")
            .And.NotContain("hunter2");
        (await _hub.GetEventsAsync(run.Id)).Select(e => e.Kind).Should().Equal(RunEventKinds.Created, RunEventKinds.Completed);
        var notifications = await _hub.GetNotificationsAsync(run.Id);
        notifications.Select(n => n.Kind).Should().Equal(NotificationKinds.Queued, NotificationKinds.Completed);
        notifications[1].Outcome.Should().Be(RunOutcome.Failed);
        notifications[1].Body.Should().StartWith(RunFailureCodes.DispatchFailed);
    }

    [Fact]
    public async Task StartAsync_AfterDispatchFailure_SameWorkCanStartAgain()
    {
        _hub.Dispatcher.ThrowOnDispatch = new InvalidOperationException("down");
        var failed = await _hub.StartAsync();
        _hub.Dispatcher.ThrowOnDispatch = null;

        var retry = await _hub.StartAsync();

        retry.Deduped.Should().BeFalse();
        retry.Run.Id.Should().NotBe(failed.Run.Id);
        retry.Run.Status.Should().Be(RunStatus.Queued);
    }

    [Fact]
    public async Task CancelAsync_QueuedRun_EndsCancelledWithEventAndNotification()
    {
        var result = await _hub.StartAsync();

        (await _hub.Runs.CancelAsync(result.Run.Id, "Bob Builder")).Should().BeTrue();
        (await _hub.Runs.CancelAsync(result.Run.Id, "Bob Builder")).Should().BeFalse("a completed run cannot be cancelled again");

        var run = await _hub.GetRunAsync(result.Run.Id);
        run.Status.Should().Be(RunStatus.Completed);
        run.Outcome.Should().Be(RunOutcome.Cancelled);
        (await _hub.GetEventsAsync(run.Id)).Select(e => e.Kind).Should().Equal(RunEventKinds.Created, RunEventKinds.Completed);
        (await _hub.GetNotificationsAsync(run.Id)).Should().HaveCount(2);

        // The worker that picks the trigger up later must leave it alone.
        await _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);
        (await _hub.GetRunAsync(run.Id)).Version.Should().Be(run.Version);
    }
}

public sealed class RunServiceTestsOnSqlite() : RunServiceTests(TestProvider.Sqlite);

public sealed class RunServiceTestsOnPostgreSql() : RunServiceTests(TestProvider.PostgreSql);
