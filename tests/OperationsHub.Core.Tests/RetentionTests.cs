using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Tests.Infrastructure;
using OperationsHub.Core.Worker;

namespace OperationsHub.Core.Tests;

public abstract class RetentionTests(TestProvider provider) : IAsyncLifetime
{
    private EngineHarness _hub = null!;

    public async ValueTask InitializeAsync() => _hub = await EngineHarness.CreateAsync(provider, 
        fakeTime: true,
        settings: new Dictionary<string, string?> { ["Retention:BatchSize"] = "3" });

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task PruneAsync_DeletesOldCompletedRunsWithTheirEventsAndNotifications_InBatches()
    {
        var old = new List<long>();
        for (var i = 0; i < 10; i++)
        {
            old.Add(await CompletedRunAsync(i));
        }

        var oldButActive = (await _hub.StartAsync(identity: new Dictionary<string, string> { ["active"] = "yes" })).Run.Id;
        _hub.Time!.Advance(TimeSpan.FromDays(91));
        var recent = await CompletedRunAsync(100);

        var deleted = await _hub.Retention.PruneAsync(CancellationToken.None);

        deleted.Should().Be(10);
        await using var db = await _hub.DbAsync();
        (await db.Runs.Select(r => r.Id).ToListAsync()).Should().BeEquivalentTo([oldButActive, recent]);
        (await db.RunEvents.CountAsync(e => old.Contains(e.RunId))).Should().Be(0);
        (await db.Notifications.CountAsync(n => old.Contains(n.RunId))).Should().Be(0);
        (await db.RunEvents.CountAsync(e => e.RunId == recent)).Should().Be(3);
    }

    [Fact]
    public async Task PruneAsync_StopsAfterMaxBatchesPerPass()
    {
        await using var limited = await EngineHarness.CreateAsync(provider, fakeTime: true, settings: new Dictionary<string, string?>
        {
            ["Retention:BatchSize"] = "2",
            ["Retention:MaxBatchesPerPass"] = "2",
        });
        for (var i = 0; i < 7; i++)
        {
            var run = (await limited.StartAsync(identity: new Dictionary<string, string> { ["n"] = $"{i}" })).Run;
            await limited.Executor.ExecuteAsync(run.Id, CancellationToken.None);
        }

        limited.Time!.Advance(TimeSpan.FromDays(91));

        (await limited.Retention.PruneAsync(CancellationToken.None)).Should().Be(4);
        (await limited.Retention.PruneAsync(CancellationToken.None)).Should().Be(3);
    }

    [Fact]
    public void Options_RejectNonsense()
    {
        var validator = new ValidateRetentionOptions();

        validator.Validate(null, new RetentionOptions { MaxAge = TimeSpan.FromMinutes(1) }).Failed.Should().BeTrue();
        validator.Validate(null, new RetentionOptions { BatchSize = 0 }).Failed.Should().BeTrue();
        validator.Validate(null, new RetentionOptions()).Succeeded.Should().BeTrue();
    }

    private async Task<long> CompletedRunAsync(int n)
    {
        var run = (await _hub.StartAsync(identity: new Dictionary<string, string> { ["n"] = $"{n}" })).Run;
        await _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);
        (await _hub.GetRunAsync(run.Id)).Status.Should().Be(RunStatus.Completed);
        return run.Id;
    }
}

public sealed class RetentionTestsOnSqlite() : RetentionTests(TestProvider.Sqlite);

public sealed class RetentionTestsOnPostgreSql() : RetentionTests(TestProvider.PostgreSql);
