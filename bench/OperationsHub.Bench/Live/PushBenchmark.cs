using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Playwright;

namespace OperationsHub.Bench.Live;

/// <summary>
/// Commit-to-DOM latency. Real Chromium pages watch the tenant's runs grid (page 1, newest first). The benchmark keeps
/// a page of runs Running on screen and completes one every step through the engine's own transition (the path the
/// worker uses), noting the time just before the commit; a MutationObserver in every page notes when that run's row
/// first shows it completed. When every run on screen has finished, a new page of running runs is started (not
/// measured: the benchmark waits until every page shows it, then a second more): the measured changes are status
/// changes of visible runs, not a flood of new rows. Both clocks are this machine's wall clock
/// (<c>performance.timeOrigin + performance.now()</c> in the page). Prints p50 / p95 / p99 / max per page count.
/// </summary>
internal static class PushBenchmark
{
    // Slower than the feed's per-page minimum interval (100 ms), so a page sees each completion on its own; and with
    // many pages, slow enough that the machine is not simply out of CPU: all pages' Chromium renderers (software
    // raster, no GPU) share the hub's two cores, roughly 10 ms of renderer time per page per change.
    private static TimeSpan StepFor(int pages) => TimeSpan.FromMilliseconds(Math.Max(150, pages * 10));
    private const int PageSize = 25;
    private static readonly TimeSpan BatchPause = TimeSpan.FromSeconds(1);

    private const string ObserverScript = """
        () => {
          window.__completedAt = {};
          const scan = () => {
            const t = performance.timeOrigin + performance.now();
            for (const row of document.querySelectorAll('tr.hub-run-row')) {
              const link = row.querySelector('a[data-run]');
              const chip = row.querySelector('[data-status]');
              if (link && chip && chip.dataset.status === 'Completed' && !(link.dataset.run in window.__completedAt)) {
                window.__completedAt[link.dataset.run] = t;
              }
            }
          };
          window.__mutations = 0;
          new MutationObserver(records => { window.__mutations += records.length; scan(); }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
          scan();
        }
        """;

    /// <param name="acrossNodes">
    /// On PostgreSQL, committing on node A while the pages are on node B (<see cref="LiveHub.StartAsync"/>): the
    /// latency includes node A's publisher, NOTIFY and node B's listener.
    /// </param>
    public static async Task<int> RunAsync(string[] args, bool acrossNodes = false)
    {
        var changes = args.Length > 1 && int.TryParse(args[1], CultureInfo.InvariantCulture, out var c) ? c : 500;
        int[] pageCounts = args.Length > 2
            ? [.. args.Skip(2).Select(a => int.Parse(a, CultureInfo.InvariantCulture))]
            : [1, 100];

        await using var hub = await LiveHub.StartAsync(acrossNodes ? OperationsHub.Bench.Throughput.PostgreSqlThroughputBenchmark.Server : null);
        Console.WriteLine($"Push latency{(acrossNodes ? " across nodes (PostgreSQL on loopback; commit on node A, pages on node B, two hosts in this process)" : "")}: {changes} completions per scenario, "
            + $"{Environment.ProcessorCount} cores, .NET {Environment.Version}, Chromium on loopback, hub and browser on one machine.");
        var rows = new List<string>();
        foreach (var pages in pageCounts)
        {
            var latencies = await MeasureAsync(hub, pages, changes);
            latencies.Sort();
            rows.Add(FormattableString.Invariant(
                $"| OperationsHub{(acrossNodes ? " across nodes" : "")}, {pages} page{(pages == 1 ? "" : "s")} on the runs grid, a completion every {StepFor(pages).TotalMilliseconds:F0} ms | {latencies.Count:N0} | {Percentile(latencies, 50):F0} | {Percentile(latencies, 95):F0} | {Percentile(latencies, 99):F0} | {latencies[^1]:F0} |"));
            await hub.CloseAllPagesAsync();
        }

        Console.WriteLine();
        Console.WriteLine("| watcher | observations | p50 ms | p95 ms | p99 ms | max ms |");
        Console.WriteLine("|---|---|---|---|---|---|");
        rows.ForEach(Console.WriteLine);
        Console.WriteLine("| Hangfire dashboard (peer) | - | polls every 2,000 ms (StatsPollingInterval): a change shows 0-2,000 ms later, ~1,000 on average, plus the poll's own time | | | |");
        Console.WriteLine("| Quartz.NET (peer) | - | no run history and no live UI of its own | | | |");
        Console.WriteLine();
        Console.WriteLine("observations = completions x pages; latency = first DOM mutation showing the run completed, minus the moment just before its commit.");
        return 0;
    }

    private static async Task<List<double>> MeasureAsync(LiveHub hub, int pageCount, int changes)
    {
        // A page of runs already Running before the pages open; each step completes one of them. When all on screen
        // have finished, a fresh page of running runs is started at once (a pause, not measured), and so on.
        var running = new Queue<long>(await StartBatchAsync(hub, $"{pageCount}-0"));

        var open = Stopwatch.StartNew();
        var pages = new List<IPage>();
        for (var i = 0; i < pageCount; i++)
        {
            var page = await hub.OpenPageAsync($"/admin/t/{LiveHub.Tenant}/operations");
            await page.EvaluateAsync(ObserverScript);
            pages.Add(page);
        }

        Console.WriteLine($"  {pageCount} page(s) open and interactive in {open.Elapsed.TotalSeconds:F1} s");
        await Task.Delay(1000);

        foreach (var page in pages)
        {
            await page.EvaluateAsync("() => { window.__mutations = 0; }");
        }

        var committedAt = new Dictionary<long, double>();
        // DOM mutation records on the first page while completions land, the batch turnover (a fresh page of runs)
        // aside: the count is banked before each batch starts and reset once the page shows the batch.
        var measuredMutations = 0;
        var cpuFrom = CpuProbe.Read();
        for (var i = 0; i < changes; i++)
        {
            if (running.Count == 0)
            {
                measuredMutations += await pages[0].EvaluateAsync<int>("() => window.__mutations");
                var batch = await StartBatchAsync(hub, $"{pageCount}-{i}");
                batch.ForEach(running.Enqueue);
                // Starting a batch is set-up, not measured: wait until every page shows the whole new batch running
                // (50 changes; with many pages on this machine that takes longer than the pause alone), so that
                // its cost does not land on the measured completions that follow.
                await Task.WhenAll(pages.Select(page => page.WaitForFunctionAsync(
                    "ids => ids.every(id => document.querySelector(`tr:has(a[data-run='${id}']) [data-status='Running']`))",
                    batch, new PageWaitForFunctionOptions { Timeout = 120_000, PollingInterval = 100 })));
                await Task.Delay(BatchPause);
                await pages[0].EvaluateAsync("() => { window.__mutations = 0; }");
            }

            var step = Stopwatch.StartNew();
            var runId = running.Dequeue();
            committedAt[runId] = LiveHub.EpochMs();
            await hub.CompleteAsync(runId);
            var rest = StepFor(pageCount) - step.Elapsed;
            if (rest > TimeSpan.Zero)
            {
                await Task.Delay(rest);
            }
        }

        var cpuTo = CpuProbe.Read();
        await Task.Delay(2000); // let the last ones land
        var latencies = new List<double>();
        var missing = 0;
        foreach (var page in pages)
        {
            var seen = JsonSerializer.Deserialize<Dictionary<string, double>>(
                await page.EvaluateAsync<string>("() => JSON.stringify(window.__completedAt)"))!;
            foreach (var (runId, at) in committedAt)
            {
                if (seen.TryGetValue(runId.ToString(CultureInfo.InvariantCulture), out var shownAt))
                {
                    latencies.Add(shownAt - at);
                }
                else
                {
                    missing++;
                }
            }
        }

        measuredMutations += await pages[0].EvaluateAsync<int>("() => window.__mutations");
        Console.WriteLine(FormattableString.Invariant(
            $"  DOM mutation records on one page: {measuredMutations:N0} for {changes} completions, {(double)measuredMutations / changes:F1} per completion (batch turnover aside; budget 5)"));
        // Which side limits the result: with the browsers and the hub pinned to a core each (bench/pinned.sh), the
        // side near 100 % is the one the changes wait for.
        Console.WriteLine($"  CPU while the completions landed (batch starts included): {CpuProbe.Describe(cpuFrom, cpuTo)}");
        Console.WriteLine($"  server heap after a full GC: {GC.GetTotalMemory(forceFullCollection: true) / 1024 / 1024:N0} MB");
        if (missing > 0)
        {
            Console.WriteLine($"  WARNING: {missing} completions never showed on a page");
        }

        return latencies;
    }

    private static async Task<List<long>> StartBatchAsync(LiveHub hub, string marker)
    {
        var ids = new List<long>();
        for (var i = 0; i < PageSize; i++)
        {
            ids.Add(await hub.StartRunningAsync($"push-{marker}-{i}"));
        }

        return ids; // the oldest (lowest on the page) finishes first
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
}
