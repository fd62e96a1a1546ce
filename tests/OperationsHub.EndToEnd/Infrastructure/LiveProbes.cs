using System.Runtime;
using Microsoft.Playwright;

namespace OperationsHub.EndToEnd.Infrastructure;

/// <summary>
/// What the browser tests and the live benchmarks (bench/, which compiles this file in by link) both need: Debian's
/// Chromium launched the same way, and the hub's managed heap measured the same way.
/// </summary>
public static class LiveProbes
{
    /// <summary>
    /// Debian's Chromium, headless, with nothing that phones home. With <paramref name="neverThrottle"/>, background
    /// pages keep their timers and renderers awake: for runs where every page is being watched at once.
    /// </summary>
    public static Task<IBrowser> LaunchChromiumAsync(IPlaywright playwright, bool neverThrottle = false)
    {
        string[] args =
        [
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
        ];
        if (neverThrottle)
        {
            args = [.. args, "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"];
        }

        return playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = "/usr/bin/chromium", Headless = true, Args = args });
    }

    /// <summary>This process's managed heap after full, compacting collections (large objects included).</summary>
    public static long ManagedHeapAfterFullGc()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
