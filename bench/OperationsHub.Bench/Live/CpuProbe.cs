using System.Diagnostics;
using System.Globalization;

namespace OperationsHub.Bench.Live;

/// <summary>
/// CPU time of the two sides of a live benchmark on Linux: every Chromium process (read from /proc) and this
/// process, which hosts the hub. A window's figures are in percent of one core, so 100 means one core kept busy.
/// </summary>
internal static class CpuProbe
{
    /// <summary>A reading of both sides' CPU time, or null where /proc is not there.</summary>
    public static Reading? Read() => BrowserSeconds() is { } browsers
        ? new Reading(browsers, Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, Stopwatch.GetTimestamp())
        : null;

    /// <summary>What each side used between two readings, in percent of one core.</summary>
    public static (double Browsers, double Hub) Between(Reading before, Reading after)
    {
        var wall = Stopwatch.GetElapsedTime(before.At, after.At).TotalSeconds;
        return ((after.Browsers - before.Browsers) / wall * 100, (after.Hub - before.Hub) / wall * 100);
    }

    public static string Describe(Reading? before, Reading? after)
    {
        if (before is not { } b || after is not { } a)
        {
            return "CPU: not measured (needs Linux /proc)";
        }

        var (browsers, hub) = Between(b, a);
        return FormattableString.Invariant($"browsers {browsers:F0} %, hub {hub:F0} % of one core");
    }

    private static double? BrowserSeconds()
    {
        if (!Directory.Exists("/proc/self"))
        {
            return null;
        }

        double ticks = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var close = stat.LastIndexOf(')');
                if (!stat.AsSpan(0, close).Contains("(chromium", StringComparison.Ordinal))
                {
                    continue;
                }

                // utime and stime, in clock ticks of 100 per second on Linux.
                var fields = stat[(close + 2)..].Split(' ');
                ticks += double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return ticks / 100;
    }

    internal readonly record struct Reading(double Browsers, double Hub, long At);
}
