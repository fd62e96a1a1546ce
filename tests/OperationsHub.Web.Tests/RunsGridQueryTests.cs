using System.Collections.Frozen;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Samples;
using OperationsHub.Core.Storage;
using OperationsHub.Sqlite;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

/// <summary>The grid's query on each provider's real database: every filter, the search strategies, paging and the count cap.</summary>
public abstract class RunsGridQueryTests(TestProvider provider) : IAsyncLifetime
{
    private readonly HubComponentContext _hub = new(provider);
    private long _finance;
    private long _financeFailedRestore;
    private long _devices;
    private long _running;

    public async ValueTask InitializeAsync()
    {
        await _hub.InitializeAsync();
        _finance = await _hub.CreateRunAsync(SampleOperations.InventorySync, RunStatus.Completed, RunOutcome.Succeeded, target: "Finance mailboxes");
        _financeFailedRestore = await _hub.CreateRunAsync(SampleOperations.Restore, RunStatus.Completed, RunOutcome.Failed, target: "FINANCE policies");
        _devices = await _hub.CreateRunAsync(SampleOperations.InventorySync, RunStatus.Completed, RunOutcome.Failed, target: "All devices");
        _running = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Running, target: "Finance backup 50%_off");
    }

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    private RunsGridQuery Query => _hub.Bunit.Services.GetRequiredService<RunsGridQuery>();

    [Theory]
    [InlineData(2_000)] // the trigram index leads
    [InlineData(1)] // every term counts as common: a LIKE over the indexed candidates
    public async Task Search_FindsCaseInsensitiveSubstrings_WithEitherStrategy(int threshold)
    {
        var query = QueryWith(threshold);

        (await IdsAsync(query, new RunsFilter { Text = "finance" })).Should().Equal(_running, _financeFailedRestore, _finance);
        (await IdsAsync(query, new RunsFilter
        {
            Text = "finance",
            Types = new[] { SampleOperations.Restore }.ToFrozenSet(),
            Outcomes = new[] { RunOutcome.Failed }.ToFrozenSet(),
        })).Should().Equal(_financeFailedRestore);
        (await IdsAsync(query, new RunsFilter { Text = "50%_", Statuses = new[] { RunStatus.Running }.ToFrozenSet() }))
            .Should().Equal([_running], "LIKE wildcards in the text are literal");
        (await IdsAsync(query, new RunsFilter { Text = "50%x", Statuses = new[] { RunStatus.Running }.ToFrozenSet() })).Should().BeEmpty();
    }

    [Theory]
    [InlineData(2_000)]
    [InlineData(1)]
    public async Task Search_MatchesWhoStartedARunAndTheOperationsName_WithEitherStrategy(int threshold)
    {
        await using (var db = await _hub.DbAsync())
        {
            // On SQLite this also checks the trigram index follows an update of the name.
            await db.Runs.Where(r => r.Id == _devices).ExecuteUpdateAsync(s => s
                .SetProperty(r => r.InitiatorName, "Noah Operator").SetProperty(r => r.InitiatorUserId, (long?)null));
        }

        var query = QueryWith(threshold);
        (await IdsAsync(query, new RunsFilter { Text = "noah" })).Should().Equal(_devices);
        (await IdsAsync(query, new RunsFilter { Text = "OLIVIA" })).Should().Equal(_running, _financeFailedRestore, _finance);
        (await IdsAsync(query, new RunsFilter { Text = "restore" })).Should().Equal([_financeFailedRestore], "the operation's name is Restore");
        (await IdsAsync(query, new RunsFilter { Text = "ntory s" })).Should().Equal([_devices, _finance], "Inventory sync, anywhere in the name");
        (await IdsAsync(query, new RunsFilter { Text = "inventory_sync" })).Should().BeEmpty("type keys are not names");
        (await IdsAsync(query, new RunsFilter
        {
            Text = "restore",
            Types = new[] { SampleOperations.Restore }.ToFrozenSet(),
            Outcomes = new[] { RunOutcome.Failed }.ToFrozenSet(),
        })).Should().Equal(_financeFailedRestore);
        (await IdsAsync(query, new RunsFilter { Text = "olivia", Sort = RunsSort.Oldest })).Should().Equal(_finance, _financeFailedRestore, _running);
        (await IdsAsync(query, new RunsFilter { Text = "restore", Statuses = new[] { RunStatus.Running }.ToFrozenSet() })).Should().BeEmpty();
        (await IdsAsync(query, new RunsFilter { Text = "backup", Statuses = new[] { RunStatus.Running }.ToFrozenSet() }))
            .Should().Equal([_running], "the Backup run, whose target also says backup");
    }

    [Theory]
    [InlineData(2_000)]
    [InlineData(1)]
    public async Task Sort_ByCreatedAndByDuration_BothDirections_AlsoWithFiltersAndSearch(int threshold)
    {
        var t = DateTime.UtcNow.AddMinutes(-30);
        await using (var db = await _hub.DbAsync())
        {
            // Creation order differs from run numbers (ids are not a clock); durations 5 s, 90 s, 1.5 s and none.
            await SetTimesAsync(db, _finance, created: t.AddMinutes(3), started: t, completed: t.AddSeconds(5));
            await SetTimesAsync(db, _financeFailedRestore, created: t.AddMinutes(1), started: t, completed: t.AddSeconds(90));
            await SetTimesAsync(db, _devices, created: t.AddMinutes(2), started: t, completed: t.AddMilliseconds(1500));
            await SetTimesAsync(db, _running, created: t, started: t, completed: null);
            (await db.Runs.Where(r => r.Id == _devices).Select(r => r.DurationMs).SingleAsync()).Should().Be(1500);
            (await db.Runs.Where(r => r.Id == _running).Select(r => r.DurationMs).SingleAsync()).Should().Be(0, "a running run has no duration yet");
        }

        var query = QueryWith(threshold);
        (await IdsAsync(query, new RunsFilter { Sort = RunsSort.CreatedNewest })).Should().Equal(_finance, _devices, _financeFailedRestore, _running);
        (await IdsAsync(query, new RunsFilter { Sort = RunsSort.CreatedOldest })).Should().Equal(_running, _financeFailedRestore, _devices, _finance);
        (await IdsAsync(query, new RunsFilter { Sort = RunsSort.LongestFirst })).Should().Equal(_financeFailedRestore, _finance, _devices, _running);
        (await IdsAsync(query, new RunsFilter { Sort = RunsSort.ShortestFirst })).Should().Equal(_running, _devices, _finance, _financeFailedRestore);
        (await IdsAsync(query, new RunsFilter { Sort = RunsSort.LongestFirst, Outcomes = new[] { RunOutcome.Failed }.ToFrozenSet() }))
            .Should().Equal(_financeFailedRestore, _devices);
        (await IdsAsync(query, new RunsFilter { Sort = RunsSort.LongestFirst, Text = "finance" })).Should().Equal(_financeFailedRestore, _finance, _running);
        (await IdsAsync(query, new RunsFilter { Sort = RunsSort.CreatedOldest, Text = "olivia" })).Should().Equal(_running, _financeFailedRestore, _devices, _finance);
        var page = await query.GetPageAsync(_hub.Tenant.TenantId, _hub.Tenant.UserId, new RunsFilter { Sort = RunsSort.ShortestFirst, PageSize = 10, Page = 0 }, default);
        page.Total.Should().Be(4);
    }

    [Fact]
    public async Task StuckRuns_AreJudgedOnTheDatabasesClock_NotOnANodeWhoseClockIsBehind()
    {
        var lease = new OperationsHub.Core.Worker.WorkerOptions().LeaseDuration;
        // Silent for 40 s on the database's clock (its last renewal wrote the lease then); the threshold is 15 s.
        await _hub.UpdateRunAsync(_running, r => r.LeaseExpiresAt = DateTime.UtcNow.AddSeconds(-40) + lease);
        var services = _hub.Bunit.Services;
        var behind = new ShiftedTime(TimeSpan.FromMinutes(-1)); // this node's clock, a minute slow
        var clock = new OperationsHub.Core.Runs.DatabaseClock(
            services.GetRequiredService<IRunStore>(), behind, Microsoft.Extensions.Logging.Abstractions.NullLogger<OperationsHub.Core.Runs.DatabaseClock>.Instance);
        await clock.SyncAsync(Xunit.TestContext.Current.CancellationToken);
        RunsGridQuery On(OperationsHub.Core.Runs.DatabaseClock? c) => new(
            services.GetRequiredService<IDbContextFactory<HubDbContext>>(), services.GetRequiredService<IRunSearch>(),
            services.GetRequiredService<OperationsHub.Core.Operations.OperationTypeRegistry>(), behind, clock: c);
        var stale = RunsFilter.Parse("status=stale", new HashSet<string>());

        // Without the database's clock the slow node sees a lease that has not even run out.
        var naive = On(null);
        (await naive.GetPageAsync(_hub.Tenant.TenantId, _hub.Tenant.UserId, stale, default)).Rows.Should().BeEmpty();

        var query = On(clock);
        var page = await query.GetPageAsync(_hub.Tenant.TenantId, _hub.Tenant.UserId, stale, default);
        page.Rows.Select(r => r.Id).Should().Equal(_running);
        query.StaleFor(page.Rows[0]).Should().BeCloseTo(TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(5));
    }

    private sealed class ShiftedTime(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + shift;
    }

    private static Task<int> SetTimesAsync(HubDbContext db, long id, DateTime created, DateTime started, DateTime? completed) =>
        db.Runs.Where(r => r.Id == id).ExecuteUpdateAsync(s => s
            .SetProperty(r => r.CreatedAt, created).SetProperty(r => r.StartedAt, started).SetProperty(r => r.CompletedAt, completed));

    /// <summary>
    /// SQLite chooses between its trigram index and the runs' indexes by how common the term is (1: every term is
    /// common); PostgreSQL's planner chooses itself, so there the threshold does not apply.
    /// </summary>
    private RunsGridQuery QueryWith(int threshold)
    {
        var services = _hub.Bunit.Services;
        IRunSearch search = provider == TestProvider.Sqlite
            ? new SqliteRunSearch { CommonTermThreshold = threshold }
            : services.GetRequiredService<IRunSearch>();
        return new RunsGridQuery(services.GetRequiredService<IDbContextFactory<HubDbContext>>(), search,
            services.GetRequiredService<OperationsHub.Core.Operations.OperationTypeRegistry>(), TimeProvider.System);
    }

    [Theory]
    [InlineData("\"\"\"")]
    [InlineData("\" OR \"x")]
    [InlineData("finance*")]
    [InlineData("NEAR(a b)")]
    [InlineData("'; DROP TABLE operation_runs; --")]
    public async Task Search_WithQuerySyntax_IsTakenLiterally_NeverAnError(string text)
    {
        var page = await Query.GetPageAsync(_hub.Tenant.TenantId, _hub.Tenant.UserId, new RunsFilter { Text = text }, default);

        page.Rows.Should().BeEmpty();
        page.Total.Should().Be(0);
    }

    [Theory]
    [InlineData("fin\0ance")] // PostgreSQL refuses a NUL in text; SQLite's FTS5 called it an unterminated string
    [InlineData("\0\0\0")]
    [InlineData("fin\u0001ance")]
    public async Task Search_WithControlCharacters_MatchesAsIfTheyWereNotThere_NeverAnError(string text)
    {
        var rest = text.Replace("\0", "", StringComparison.Ordinal).Replace("\u0001", "", StringComparison.Ordinal);
        var expected = rest.Length == 0
            ? await IdsAsync(Query, new RunsFilter()) // nothing left to search for: no text filter
            : [_running, _financeFailedRestore, _finance];

        (await IdsAsync(Query, new RunsFilter { Text = text })).Should().Equal(expected);
    }

    [Fact]
    public async Task Search_RunNumber_AndShortText()
    {
        (await IdsAsync(Query, new RunsFilter { Text = $"#{_devices}" })).Should().Equal(_devices);
        (await IdsAsync(Query, new RunsFilter { Text = $"{_devices}" })).Should().Equal(_devices);
        // Too few characters for target search: no search at all (the page keeps its rows and shows a hint), never
        // "no runs match"; the same for a lone quote, which is not query syntax either.
        var all = await IdsAsync(Query, new RunsFilter());
        all.Should().NotBeEmpty();
        (await IdsAsync(Query, new RunsFilter { Text = "fi" })).Should().Equal(all);
        (await IdsAsync(Query, new RunsFilter { Text = "\"" })).Should().Equal(all);
    }

    [Fact]
    public async Task Filters_StatusOutcomeTypeMineAndRange_Combine()
    {
        (await IdsAsync(Query, new RunsFilter { Outcomes = new[] { RunOutcome.Failed }.ToFrozenSet() }))
            .Should().Equal(_devices, _financeFailedRestore);
        (await IdsAsync(Query, new RunsFilter { Statuses = new[] { RunStatus.Running, RunStatus.Queued }.ToFrozenSet() }))
            .Should().Equal(_running);
        (await IdsAsync(Query, new RunsFilter
        {
            Statuses = new[] { RunStatus.Queued }.ToFrozenSet(),
            Outcomes = new[] { RunOutcome.Failed }.ToFrozenSet(),
        })).Should().BeEmpty("a queued run has no outcome yet");
        (await IdsAsync(Query, new RunsFilter { Types = new[] { SampleOperations.InventorySync }.ToFrozenSet(), MineOnly = true }))
            .Should().Equal(_devices, _finance);
        (await IdsAsync(Query, new RunsFilter { Range = RunTimeRange.LastHour })).Should().HaveCount(4);

        await using (var db = await _hub.DbAsync())
        {
            await db.Runs.Where(r => r.Id == _finance).ExecuteUpdateAsync(s => s.SetProperty(r => r.CreatedAt, DateTime.UtcNow.AddDays(-2)));
        }

        (await IdsAsync(Query, new RunsFilter { Range = RunTimeRange.Last24Hours })).Should().NotContain(_finance);
    }

    [Fact]
    public async Task Paging_SortAndPastTheEnd()
    {
        var oldest = await Query.GetPageAsync(_hub.Tenant.TenantId, _hub.Tenant.UserId, new RunsFilter { Sort = RunsSort.Oldest, PageSize = 10 }, default);
        oldest.Rows.Select(r => r.Id).Should().BeInAscendingOrder().And.HaveCount(4);
        oldest.Total.Should().Be(4);

        var second = await Query.GetPageAsync(_hub.Tenant.TenantId, _hub.Tenant.UserId, new RunsFilter { PageSize = 10, Page = 5 }, default);
        second.Rows.Should().BeEmpty();
        second.Total.Should().Be(4, "a page past the end still reports the count, so the grid can step back");
    }

    [Fact]
    public async Task PageLoads_LogNoWarnings()
    {
        // The capped count takes rows without an order on purpose; EF Core warned about it on every page load.
        foreach (var filter in new[]
        {
            new RunsFilter(),
            new RunsFilter { Text = "finance", Page = 1, PageSize = 10 },
            new RunsFilter { Sort = RunsSort.LongestFirst, Outcomes = new[] { RunOutcome.Failed }.ToFrozenSet() },
            new RunsFilter { Range = RunTimeRange.Last24Hours, Page = 3 },
        })
        {
            await Query.GetPageAsync(_hub.Tenant.TenantId, _hub.Tenant.UserId, filter, default);
        }

        _hub.Logs.Warnings.Should().BeEmpty();
    }

    [Fact]
    public async Task Summary_CountsQueuedRunningAndRecentFailures()
    {
        var summary = await Query.GetSummaryAsync(_hub.Tenant.TenantId, default);

        summary.Should().Be(new RunsSummary(Queued: 0, Running: 1, FailedLastDay: 2));
    }

    private async Task<List<long>> IdsAsync(RunsGridQuery query, RunsFilter filter) =>
        (await query.GetPageAsync(_hub.Tenant.TenantId, _hub.Tenant.UserId, filter, default)).Rows.Select(r => r.Id).ToList();
}

public sealed class RunsGridQueryTestsOnSqlite() : RunsGridQueryTests(TestProvider.Sqlite);

public sealed class RunsGridQueryTestsOnPostgreSql() : RunsGridQueryTests(TestProvider.PostgreSql);
