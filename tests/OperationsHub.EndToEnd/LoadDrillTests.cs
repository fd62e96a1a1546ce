using System.Diagnostics;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Samples;
using OperationsHub.EndToEnd.Infrastructure;

namespace OperationsHub.EndToEnd;

/// <summary>
/// Drill 2e: runs offered at 500 a second for 60 seconds through the real engine (start, Quartz, worker, completion)
/// while 20 Chromium pages watch the tenant's runs grid. The rate the machine sustained is printed, not asserted
/// (speed is for bench/); what is asserted is that nothing breaks under it. Afterwards every page shows what the database says (the newest runs
/// and their states, and the summary counts), no page hit a circuit error, and the hub's managed memory is back near
/// where it was before the load. It runs alone (not beside other browser tests), so its load is the only load.
/// </summary>
[CollectionDefinition(nameof(LoadDrillTests), DisableParallelization = true)]
public sealed class LoadDrillCollection;

/// <summary>Drill 2e; see <see cref="LoadDrillCollection"/>.</summary>
[Collection(nameof(LoadDrillTests))]
public sealed class LoadDrillTests(HubServer server) : IClassFixture<HubServer>
{
    private const int RunsPerSecond = 500;
    private static readonly TimeSpan LoadDuration = TimeSpan.FromSeconds(60);
    private const int Pages = 20;

    /// <summary>How long, from the drain, the pages have to show what the database says (on a loaded two-core machine
    /// the browsers can be seconds behind the circuit's render batches).</summary>
    private static readonly TimeSpan CatchUp = TimeSpan.FromSeconds(60);

    /// <summary>What "near its baseline" allows: caches that fill once (EF, SQLite statements) and the GC's slack.</summary>
    private const long MemoryToleranceBytes = 48L * 1024 * 1024;

    [Fact]
    public async Task RunsOfferedAt500PerSecond_ForAMinute_WhileTwentyPagesWatch_PagesEndTrue_AndMemoryReturns()
    {
        var grid = "/admin/t/contoso/operations";
        var first = await server.NewPageAsync();
        await HubServer.SignInAsync(first, "owner@contoso.test", grid);
        var cookies = await first.Context.StorageStateAsync();
        var pages = new List<IPage> { first };
        var errors = new List<string>();
        Watch(first, errors);
        for (var i = 1; i < Pages; i++)
        {
            var page = await server.NewPageAsync(storageState: cookies);
            Watch(page, errors);
            await page.GotoAsync(grid);
            await HubServer.WaitForInteractiveAsync(page);
            pages.Add(page);
        }

        var (tenantId, initiator) = await ContosoAsync();
        var runs = server.Services.GetRequiredService<OperationRunService>();
        // Warm the start path once, then take the baseline with the pages open.
        await runs.StartAsync(Request(tenantId, initiator, -1));
        await WaitForDrainAsync(TimeSpan.FromSeconds(30));
        var baseline = LiveProbes.ManagedHeapAfterFullGc();

        // Starts are offered on an even 500/s schedule for 60 s; a producer behind schedule starts at once. What the
        // machine accepts in that minute is what the drill drives: bounded in time, whatever the rate.
        var offered = (int)(RunsPerSecond * LoadDuration.TotalSeconds);
        var issued = 0;
        var started = 0;
        var clock = Stopwatch.StartNew();
        await Parallel.ForAsync(0, 8, async (_, ct) =>
        {
            while (clock.Elapsed < LoadDuration)
            {
                var n = Interlocked.Increment(ref issued) - 1;
                if (n >= offered)
                {
                    return;
                }

                var early = TimeSpan.FromSeconds((double)n / RunsPerSecond) - clock.Elapsed;
                if (early > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(early, ct);
                }

                await runs.StartAsync(Request(tenantId, initiator, n), ct);
                Interlocked.Increment(ref started);
            }
        });
        var startedIn = clock.Elapsed;
        var total = started;
        await WaitForDrainAsync(TimeSpan.FromMinutes(3));
        var drainedIn = clock.Elapsed;

        await using (var db = await CreateDbAsync())
        {
            (await db.Runs.CountAsync(r => r.Target == "Load drill" && r.Status == RunStatus.Completed))
                .Should().Be(total + 1, "every run of the load completed");
            total.Should().BeGreaterThan(1000, "the drill put real load on the hub");
        }

        // The database has drained; the pages may still be applying render batches queued while 20 browsers and the
        // hub shared two cores. They must converge on the truth: each is given CatchUp from the drain, and how long
        // they took is printed.
        var truth = await TruthAsync(tenantId);
        var caughtUp = Stopwatch.StartNew();
        for (var i = 0; i < pages.Count; i++)
        {
            var page = pages[i];
            var left = new LocatorAssertionsToHaveTextOptions { Timeout = (float)Math.Max(1000, (CatchUp - caughtUp.Elapsed).TotalMilliseconds) };
            await Assertions.Expect(page.Locator("[data-testid='summary-queued'] .hub-summary-count")).ToHaveTextAsync(truth.Queued, left);
            await Assertions.Expect(page.Locator("[data-testid='summary-running'] .hub-summary-count")).ToHaveTextAsync(truth.Running, left);
            await Assertions.Expect(page.Locator("[data-testid='summary-failed'] .hub-summary-count")).ToHaveTextAsync(truth.Failed, left);
            string[] shown;
            while (true)
            {
                shown = await page.EvaluateAsync<string[]>("""
                    () => [...document.querySelectorAll('tr.hub-run-row')].map(r =>
                        r.querySelector('a[data-run]').dataset.run + ':' + r.querySelector('[data-status]').dataset.status + ':' + r.querySelector('[data-outcome]').dataset.outcome)
                    """);
                if (shown.SequenceEqual(truth.Rows) || caughtUp.Elapsed > CatchUp)
                {
                    break;
                }

                await Task.Delay(100);
            }

            shown.Should().Equal(truth.Rows, $"page {i + 1} shows the newest runs as the database has them");
            (await page.Locator("#blazor-error-ui").IsVisibleAsync()).Should().BeFalse($"page {i + 1} has no circuit error");
        }

        var convergedIn = caughtUp.Elapsed;
        errors.Should().BeEmpty("no page threw a script error");
        var after = LiveProbes.ManagedHeapAfterFullGc();
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"load drill: {total:N0} starts accepted in {startedIn.TotalSeconds:F1} s ({total / startedIn.TotalSeconds:F0}/s of 500/s offered), all completed by {drainedIn.TotalSeconds:F1} s, every page showed it {convergedIn.TotalSeconds:F1} s later; heap {baseline / 1048576.0:F1} MB before, {after / 1048576.0:F1} MB after"));
        after.Should().BeLessThan(baseline + MemoryToleranceBytes, "the hub's memory returns near its baseline after the load");
    }

    /// <summary>Uncaught script errors; a circuit failure also shows Blazor's error bar, checked at the end.</summary>
    private static void Watch(IPage page, List<string> errors)
    {
        page.PageError += (_, error) =>
        {
            lock (errors)
            {
                errors.Add(error);
            }
        };
    }

    private static StartRunRequest Request(long tenantId, RunInitiator initiator, int n) => new()
    {
        TenantId = tenantId,
        Type = SampleOperations.InventorySync,
        Initiator = initiator,
        Target = "Load drill",
        IdentityInputs = new Dictionary<string, string> { ["load"] = n.ToString(CultureInfo.InvariantCulture) },
        Inputs = new Dictionary<string, string> { ["items"] = "0" },
    };

    private async Task<(long TenantId, RunInitiator Initiator)> ContosoAsync()
    {
        await using var db = await CreateDbAsync();
        var tenant = await db.Tenants.SingleAsync(t => t.ExternalId == "contoso");
        var user = await db.Users.SingleAsync(u => u.Email == "operator@contoso.test");
        return (tenant.Id, new RunInitiator(user.Id, user.DisplayName));
    }

    private async Task<(string Queued, string Running, string Failed, string[] Rows)> TruthAsync(long tenantId)
    {
        await using var db = await CreateDbAsync();
        var dayAgo = DateTime.UtcNow.AddDays(-1);
        var queued = await db.Runs.CountAsync(r => r.TenantId == tenantId && r.Status == RunStatus.Queued);
        var running = await db.Runs.CountAsync(r => r.TenantId == tenantId && r.Status == RunStatus.Running);
        var failed = await db.Runs.CountAsync(r => r.TenantId == tenantId && r.Outcome == RunOutcome.Failed && r.CreatedAt >= dayAgo);
        var rows = await db.Runs.AsNoTracking().Where(r => r.TenantId == tenantId).OrderByDescending(r => r.Id).Take(25)
            .Select(r => new { r.Id, r.Status, r.Outcome }).ToListAsync();
        return (queued.ToString("N0", CultureInfo.InvariantCulture), running.ToString("N0", CultureInfo.InvariantCulture),
            failed.ToString("N0", CultureInfo.InvariantCulture),
            [.. rows.Select(r => $"{r.Id}:{r.Status}:{r.Outcome}")]);
    }

    private async Task WaitForDrainAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            await using var db = await CreateDbAsync();
            if (!await db.Runs.AnyAsync(r => r.Status != RunStatus.Completed))
            {
                return;
            }

            clock.Elapsed.Should().BeLessThan(timeout, "the worker drains the load");
            await Task.Delay(250);
        }
    }

    private Task<HubDbContext> CreateDbAsync() =>
        server.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync();
}
