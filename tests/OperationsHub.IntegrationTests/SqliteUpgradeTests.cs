using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Storage;

namespace OperationsHub.IntegrationTests;

/// <summary>
/// An SQLite file written by the hub before the storage providers were split (Fixtures/hub-9e35cfd.db: the README's
/// demo run at commit 9e35cfd, with its three migrations, five finished runs, and one run it left queued) opens with
/// today's build: every later migration applies at start-up, the old rows read as before, the search index still
/// finds them, and the run it left queued is claimed by today's worker and completes.
/// </summary>
public sealed class SqliteUpgradeTests : IAsyncLifetime
{
    private const string LeftQueuedTarget = "Kiosk devices";
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("opshub-upgrade-");
    private WebApplicationFactory<Program> _factory = null!;

    public ValueTask InitializeAsync()
    {
        var file = Path.Combine(_directory.FullName, "hub.db");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "hub-9e35cfd.db"), file);
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("Database:ConnectionString", $"Data Source={file}");
            web.UseSetting("Demo:Enabled", "false");
            web.UseSetting("Worker:Enabled", "true");
        });
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _directory.Delete(recursive: true);
    }

    [Fact]
    public async Task FileFromBeforeTheProviderSplit_Migrates_KeepsItsRuns_AndItsQueuedRunCompletes()
    {
        var ct = TestContext.Current.CancellationToken;
        using var client = _factory.CreateClient();
        (await client.GetStringAsync("/healthz", ct)).Should().Be("ok");

        var dbFactory = _factory.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            var applied = await db.Database.GetAppliedMigrationsAsync(ct);
            applied.Should().StartWith(["20261126161615_InitialCreate", "20261126163122_UserSignIn", "20261126170316_RunTargetAndGridIndexes"])
                .And.Equal(db.Database.GetMigrations(), "every migration since is applied at start-up");
            (await db.Database.GetPendingMigrationsAsync(ct)).Should().BeEmpty();

            (await db.Users.CountAsync(ct)).Should().Be(6);
            var finished = await db.Runs.AsNoTracking().Where(r => r.Status == RunStatus.Completed && r.Id <= 5)
                .OrderBy(r => r.Id).Select(r => new { r.Id, r.Type, r.Target }).ToListAsync(ct);
            finished.Select(r => r.Id).Should().Equal(1, 2, 3, 4, 5);
            finished.Select(r => r.Type).Should().Contain(["directory_sync", "inventory_sync", "restore", "backup"]);
            (await db.RunEvents.CountAsync(e => e.RunId <= 5, ct)).Should().BeGreaterThanOrEqualTo(15, "created, started and completed of each");

            // The FTS5 index the old file built keeps serving the grid's search, for old rows and new ones alike.
            var search = _factory.Services.GetRequiredService<IRunSearch>();
            var found = await search.RunsAsync(db, new RunSearch("Kiosk", ActiveOnly: false, SelectiveFilters: false), ct);
            (await found.Select(r => r.Target).ToListAsync(ct)).Should().Equal(LeftQueuedTarget);
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        OperationRun leftQueued;
        do
        {
            await Task.Delay(100, ct);
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            leftQueued = await db.Runs.AsNoTracking().SingleAsync(r => r.Target == LeftQueuedTarget, ct);
        }
        while (leftQueued.Status != RunStatus.Completed && DateTime.UtcNow < deadline);

        leftQueued.Status.Should().Be(RunStatus.Completed, "today's worker claims what the old version left queued");
        // The sample inventory sync fails every 17th device on purpose: a finished run with its item counts.
        leftQueued.Outcome.Should().Be(RunOutcome.PartiallySucceeded);
        leftQueued.ProcessedCount.Should().Be(leftQueued.TotalCount).And.BeGreaterThan(0);
        leftQueued.Attempt.Should().Be(1);
    }
}
