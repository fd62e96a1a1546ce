using System.Diagnostics;
using System.Globalization;
using OperationsHub.EndToEnd.Infrastructure;

namespace OperationsHub.Bench.Live;

/// <summary>
/// Server memory per open runs-page circuit: the hub's managed heap after a full, compacting GC, before and after N
/// Chromium pages open on the runs grid, then once a minute while runs keep finishing on those pages for M minutes.
/// The hub runs in this process; the browsers do not. (Playwright's client keeps a few objects per page in this
/// process too; they are counted against the circuits, so the per-circuit figure is slightly pessimistic.)
/// </summary>
internal static class CircuitMemoryBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var pageCount = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100;
        var minutes = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 10;
        // Which live page is open: the runs grid (the default), a run's page, or the tenant's dashboard.
        var pageKind = args.Length > 3 ? args[3] : "operations";

        await using var hub = await LiveHub.StartAsync();
        var running = new Queue<long>();
        for (var i = 0; i < 25; i++)
        {
            running.Enqueue(await hub.StartRunningAsync($"mem-warm-{i}"));
        }

        var path = pageKind switch
        {
            "operations" => $"/admin/t/{LiveHub.Tenant}/operations",
            "dashboard" => $"/admin/t/{LiveHub.Tenant}",
            // The newest running run: the updates below finish the others first, so it stays live longest.
            "run" => $"/admin/t/{LiveHub.Tenant}/operations/{running.Last()}",
            _ => throw new ArgumentException($"Unknown page '{pageKind}': operations, run or dashboard."),
        };

        // Warm every code path once (a page open, a live update, a close) so JIT and caches are in the baseline.
        _ = await hub.OpenPageAsync(path);
        await hub.CompleteAsync(running.Dequeue());
        running.Enqueue(await hub.StartRunningAsync("mem-warm-next"));
        await Task.Delay(1000);
        await hub.CloseAllPagesAsync();
        await Task.Delay(2000);

        // Playwright's client lives in this process and keeps objects per page (its channels, a serializer's
        // metadata): measured with as many pages on about:blank, then taken off the hub's figure.
        var beforeBlank = LiveProbes.ManagedHeapAfterFullGc();
        for (var i = 0; i < pageCount; i++)
        {
            await hub.OpenBlankPageAsync();
        }

        var client = Math.Max(0, LiveProbes.ManagedHeapAfterFullGc() - beforeBlank) / Math.Max(1, pageCount);
        await hub.CloseAllPagesAsync();
        await Task.Delay(2000);
        var baseline = LiveProbes.ManagedHeapAfterFullGc();

        var open = Stopwatch.StartNew();
        for (var i = 0; i < pageCount; i++)
        {
            await hub.OpenPageAsync(path);
        }

        await Task.Delay(3000);
        var opened = LiveProbes.ManagedHeapAfterFullGc();
        if (int.TryParse(Environment.GetEnvironmentVariable("OPSHUB_BENCH_PAUSE"), CultureInfo.InvariantCulture, out var pause))
        {
            // Time to take a heap snapshot of this state: dotnet-gcdump collect -p <pid>.
            Console.WriteLine($"Pausing {pause} s with {pageCount} pages open: process {Environment.ProcessId}");
            await Task.Delay(TimeSpan.FromSeconds(pause));
        }

        // What the open pages cost the machine while nothing changes (the hub's relative-time tick aside).
        var quietFrom = CpuProbe.Read();
        await Task.Delay(TimeSpan.FromSeconds(20));
        double? quiet = CpuProbe.Read() is { } quietTo && quietFrom is { } from ? CpuProbe.Between(from, quietTo).Browsers : null;
        var rows = new List<(string When, long Heap)> { ("baseline (hub warm, no page open)", baseline), ($"{pageCount} pages open", opened) };
        Console.WriteLine($"Circuit memory ({pageKind} page, {path}): {pageCount} pages opened in {open.Elapsed.TotalSeconds:F0} s; updates for {minutes} min, "
            + "one run finishing every second (and a fresh page of running runs each time all on screen have finished).");

        var clock = Stopwatch.StartNew();
        var nextSample = TimeSpan.FromMinutes(1);
        var completions = 0;
        while (clock.Elapsed < TimeSpan.FromMinutes(minutes))
        {
            if (running.Count == 0)
            {
                for (var i = 0; i < 25; i++)
                {
                    running.Enqueue(await hub.StartRunningAsync($"mem-{completions}-{i}"));
                }
            }

            await hub.CompleteAsync(running.Dequeue());
            completions++;
            await Task.Delay(1000);
            if (clock.Elapsed >= nextSample)
            {
                var heap = LiveProbes.ManagedHeapAfterFullGc();
                rows.Add(($"after {nextSample.TotalMinutes:F0} min of updates ({completions} completions)", heap));
                Console.WriteLine($"  {nextSample.TotalMinutes:F0} min: {heap / 1024.0 / 1024:F1} MB");
                nextSample += TimeSpan.FromMinutes(1);
            }
        }

        var end = LiveProbes.ManagedHeapAfterFullGc();
        rows.Add(("end of updates", end));
        Console.WriteLine();
        Console.WriteLine("| when | managed heap MB | per open circuit KB |");
        Console.WriteLine("|---|---|---|");
        foreach (var (when, heap) in rows)
        {
            var perCircuit = heap == baseline ? "-" : ((heap - baseline) / 1024.0 / pageCount).ToString("F0", CultureInfo.InvariantCulture);
            Console.WriteLine(FormattableString.Invariant($"| {when} | {heap / 1024.0 / 1024:F1} | {perCircuit} |"));
        }

        Console.WriteLine();
        Console.WriteLine(FormattableString.Invariant(
            $"per circuit when opened: {(opened - baseline) / 1024.0 / pageCount:F0} KB; growth over {minutes} min of updates: {(end - opened) / 1024.0 / pageCount:F1} KB per circuit ({(end - opened) / 1024.0 / 1024:F1} MB in all)"));
        Console.WriteLine(FormattableString.Invariant(
            $"Playwright's client in this process: {client / 1024.0:F0} KB per page (measured on about:blank); the hub alone: {((opened - baseline) / (double)pageCount - client) / 1024.0:F0} KB per circuit when opened, {((end - baseline) / (double)pageCount - client) / 1024.0:F0} KB at the end"));
        Console.WriteLine(quiet is { } idle
            ? FormattableString.Invariant($"browser CPU with {pageCount} pages open and nothing changing: {idle:F0} % of one core ({idle / pageCount:F2} % per page)")
            : "browser CPU: not measured (needs Linux /proc)");
        Console.WriteLine("Peers: Hangfire's dashboard is stateless server-side (each 2 s poll is a request); Quartz.NET has no UI.");
        return 0;
    }
}
